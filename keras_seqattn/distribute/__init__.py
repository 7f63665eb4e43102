"""Training on more than one device, on the engines Keras already has.

- JAX: `keras.distribution.DataParallel` for every application, and
  `keras.distribution.ModelParallel` with the `get_layout_map()` of the
  Transformer applications (`transformer_layout_map`).
- TensorFlow: `tf.distribute.MirroredStrategy` (data parallel).
- torch: Keras 3.15 has no distribution for torch; asking for more than one
  device is refused with what to use instead.

`make_distribution(data_parallel, model_parallel, model_class)` picks the engine
of the running backend; the training jobs take what it returns.
"""

from keras_seqattn.distribute.devices import (
    check_batch_size,
    make_distribution,
    num_replicas,
    round_batch_size,
    scope,
)
from keras_seqattn.models.transformer_layout_map import transformer_layout_map

__all__ = [
    "check_batch_size",
    "make_distribution",
    "num_replicas",
    "round_batch_size",
    "scope",
    "transformer_layout_map",
]
