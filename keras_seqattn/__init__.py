"""keras-seqattn: attention models for Keras 3 on TensorFlow, JAX and PyTorch.

Importing the package registers every layer and model with Keras serialisation
and every embedded dataset with TFDS.
"""

from keras_seqattn import _source_checkout

# First: in a source checkout, `keras_seqattn.applications` is its own folder.
_source_checkout.install(__file__)

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
