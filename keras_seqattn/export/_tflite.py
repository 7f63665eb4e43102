"""TFLite conversion restricted to builtin ops, with optional quantisation."""

import tempfile

import keras
import tensorflow as tf

QUANTIZATIONS = (None, "float16", "dynamic")


def check_quantize(quantize):
    if quantize not in QUANTIZATIONS:
        raise ValueError(
            f"`quantize` must be one of None, 'float16', 'dynamic'. Received: quantize={quantize!r}"
        )


def convert(fn, input_signature, quantize=None):
    """`fn` on inputs of static shapes -> `.tflite` bytes with builtin ops only.

    The function goes through a temporary SavedModel, so that the `.tflite` file
    has a `serving_default` signature with named inputs and outputs (a
    conversion from concrete functions has none). The converter is allowed
    `TFLITE_BUILTINS` only, so a graph that would need a Flex (Select TF) op
    fails here, at export, instead of on the device.

    Args:
        fn: a function of TensorFlow tensors returning a dict of tensors.
        input_signature: list of `tf.TensorSpec` of fully static shapes (Keras
            RNNs need a static batch to lower to a builtin `WHILE` without Flex
            `TensorList` ops).
        quantize: `None` (float32), `"float16"` (float16 weights) or
            `"dynamic"` (int8 weights, dynamic-range activations).
    """
    check_quantize(quantize)
    with tempfile.TemporaryDirectory() as folder:
        archive = keras.export.ExportArchive()
        archive.add_endpoint("serving_default", fn, input_signature=input_signature)
        archive.write_out(folder, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(folder)
        return _convert(converter, quantize)


def _convert(converter, quantize):
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantize is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    try:
        return converter.convert()
    except Exception as error:  # the converter raises ConverterError and others
        raise ValueError(
            "The model does not convert to TFLite with builtin ops only (see the "
            f"converter's message above). Received: {type(error).__name__}: {error}"
        ) from error
