"""keras-seqattn: attention models for Keras 3 on TensorFlow, JAX and PyTorch."""

from keras_seqattn.version import __version__

__all__ = ["__version__"]
