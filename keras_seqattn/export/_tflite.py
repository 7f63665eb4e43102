"""TFLite conversion restricted to builtin ops, with optional quantisation."""

import contextlib
import os
import re
import sys
import tempfile

import keras
import numpy as np
import tensorflow as tf

QUANTIZATIONS = (None, "float16", "dynamic")
TFLITE_DTYPE = "float32"


def check_quantize(quantize):
    if quantize not in QUANTIZATIONS:
        raise ValueError(
            f"`quantize` must be one of None, 'float16', 'dynamic'. Received: quantize={quantize!r}"
        )


class Float32Model:
    """The model that `model.tflite` runs: `model`, or its float32 twin if it is not float32.

    TFLite's builtins take no bfloat16 at all (a GRU's `TensorList` of bfloat16
    fails to lower: "requires element_dtype to be ... 16-bit/32-bit/64-bit float"),
    and the converter legalises none of the float16 ops of a `mixed_float16`
    graph ("'tf.MatMul' op is neither a custom op nor a flex op"); it only ever
    makes float16 itself, from float32 (`quantize="float16"`). So a model under
    another policy is rebuilt from its config under `float32` and given its
    weights cast to float32: a mixed policy keeps its weights in float32, so they
    are the trained weights exactly, and only the arithmetic is wider.

    The twin is built on first use, from inside the TFLite function's trace (hence
    `tf.init_scope`, which builds it eagerly), so an export without `--tflite` builds none.
    """

    def __init__(self, model):
        self.model = model
        self._twin = None

    def get(self):
        if is_float32(self.model):
            return self.model
        if self._twin is None:
            with tf.init_scope():
                self._twin = float32_twin(self.model)
        return self._twin


def is_float32(model):
    policy = model.dtype_policy
    return policy.compute_dtype == TFLITE_DTYPE and policy.variable_dtype == TFLITE_DTYPE


def float32_twin(model):
    """A copy of `model` built under the float32 policy, its floating-point weights cast
    to float32 (integer weights, a counter or a lookup table, stay as they are)."""
    config = dict(model.get_config(), dtype=TFLITE_DTYPE)
    twin = type(model).from_config(config)
    weights = model.get_weights()
    if len(twin.weights) != len(weights):
        raise ValueError(
            "The float32 copy of the model for TFLite has other weights than the model. "
            f"Received: {len(weights)} weights, the copy {len(twin.weights)}"
        )
    twin.set_weights([_float32(w) for w in weights])
    return twin


def _float32(weight):
    weight = np.asarray(weight)
    # Through Keras's names: NumPy counts ml_dtypes' bfloat16 as no floating type.
    if keras.backend.is_float_dtype(keras.backend.standardize_dtype(weight.dtype)):
        return weight.astype(TFLITE_DTYPE)
    return weight


def precision(model):
    """What `export.json` says of the numbers: the model's policy, and what TFLite runs."""
    return {
        "dtype_policy": model.dtype_policy.name,
        "tflite_compute_dtype": TFLITE_DTYPE,  # float32 weights too, unless `quantize`
    }


def convert(fn, input_signature, quantize=None):
    """`fn` on inputs of static shapes -> `.tflite` bytes with builtin ops only.

    The function goes through a temporary SavedModel, so that the `.tflite` file
    has a `serving_default` signature with named inputs and outputs (a
    conversion from concrete functions has none). The converter is allowed
    `TFLITE_BUILTINS` only, so a graph that would need a Flex (Select TF) op
    fails here, at export, instead of on the device; its pages of diagnostics
    go to a log file that the one-line `ValueError` names.

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
    with tempfile.TemporaryFile("w+b") as log:
        try:
            with _stderr_to(log):
                return converter.convert()
        except Exception as error:  # the converter raises ConverterError and others
            log.seek(0)
            details = log.read().decode("utf-8", "replace") + f"\n{type(error).__name__}: {error}"
            raise ValueError(_one_line_failure(details)) from None


def _one_line_failure(details):
    """The converter's first error as one line; all of `details` goes to a log file."""
    with tempfile.NamedTemporaryFile(
        "w", prefix="keras-seqattn-tflite-", suffix=".log", delete=False, encoding="utf-8"
    ) as file:
        file.write(details)
    errors = re.findall(r"error: (?:loc\(.*?\): )?([^\n<]+)", details)
    reasons = [e.strip() for e in errors if not e.startswith(("loc(", "Could not translate"))]
    reason = " ".join(reasons[0].split()) if reasons else "see the log"
    if len(reason) > 300:
        reason = reason[:300] + "..."
    outside = re.search(r"(?:TF Select|Custom) ops: ([^\n]+?)(?: Details:|\n|$)", details)
    if outside:
        reason += f"; ops outside the builtins: {outside.group(1).strip()[:300]}"
    return (
        f"The model does not convert to TFLite with builtin ops only: {reason} "
        f"(the converter's full output: {file.name})"
    )


@contextlib.contextmanager
def _stderr_to(file):
    """Sends file descriptor 2 (where the converter's C++ code logs) to `file` meanwhile."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        os.dup2(file.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
