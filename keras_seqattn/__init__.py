"""keras-seqattn: attention models for Keras 3 on TensorFlow, JAX and PyTorch.

Importing the package registers every layer and model with Keras serialisation
and every embedded dataset with TFDS.
"""

from keras_seqattn import _source_checkout

# First: in a source checkout, `keras_seqattn.applications` is its own folder.
_source_checkout.install(__file__)

import keras  # noqa: E402

import keras_seqattn_registry as _registry  # noqa: E402

# Keras also starts on numpy and openvino, where the models fail deep in a layer.
if keras.backend.backend() not in _registry.BACKENDS:
    raise ImportError(
        f"keras-seqattn runs on the {', '.join(_registry.BACKENDS)} backends of Keras, "
        f"and Keras runs on {keras.backend.backend()!r}: set KERAS_BACKEND before Keras is "
        f"first imported"
    )

from keras_seqattn import (  # noqa: E402
    datasets,
    distribute,
    evaluation,
    generation,
    layers,
    models,
    saving,
    text,
    visualization,
)
from keras_seqattn.version import __version__  # noqa: E402

__all__ = [
    "__version__",
    "datasets",
    "distribute",
    "evaluation",
    "generation",
    "layers",
    "models",
    "saving",
    "text",
    "visualization",
]
