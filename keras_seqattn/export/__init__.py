"""Export to TensorFlow Serving (SavedModel) and LiteRT (TFLite), from any backend.

The one package of model code that imports TensorFlow: it builds the signatures
of every application around the generation engine, detokenises with core
TensorFlow ops, and converts to TFLite with builtin ops only.
"""

from keras_seqattn.export.export_model import export_model

__all__ = ["export_model"]
