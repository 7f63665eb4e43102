"""keras-seqattn: attention models for Keras 3 on TensorFlow, JAX and PyTorch.

Importing the package registers every layer and model with Keras serialisation
and every embedded dataset with TFDS.
"""

from keras_seqattn import (
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
from keras_seqattn.version import __version__

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
