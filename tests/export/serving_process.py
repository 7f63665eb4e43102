"""Runs an exported model as a server would: a process that imports only TensorFlow.

Usage: `python serving_process.py REQUEST.json`. The request names the
SavedModel, the `.tflite` file and the calls to make; inputs come from an
`.npz` file, outputs go to another, with what the process saw (signatures,
TFLite ops, imported modules) in a JSON report. Neither keras nor keras_seqattn
is imported here (TensorFlow itself may load keras internals).
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def _signatures(loaded):
    specs = {}
    for name, function in loaded.signatures.items():
        inputs = function.structured_input_signature[1]
        specs[name] = {
            "inputs": {k: [v.dtype.name, v.shape.as_list()] for k, v in inputs.items()},
            "outputs": {
                k: [v.dtype.name, v.shape.as_list()] for k, v in function.structured_outputs.items()
            },
        }
    return specs


def _tflite(path, inputs):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(
        model_path=path,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    runner = interpreter.get_signature_runner("serving_default")
    outputs = runner(**inputs)
    ops = sorted({op["op_name"] for op in interpreter._get_ops_details()})
    # int8 tensors appear only when the weights were quantised.
    types = sorted({np.dtype(t["dtype"]).name for t in interpreter.get_tensor_details()})
    return outputs, ops, types, interpreter.get_signature_list()


def main(request_path):
    with open(request_path) as file:
        request = json.load(file)
    arrays = dict(np.load(request["inputs"], allow_pickle=False))
    results, report = {}, {}
    loaded = tf.saved_model.load(request["saved_model"])
    report["signatures"] = _signatures(loaded)
    for index, call in enumerate(request["calls"]):
        function = loaded.signatures[call["signature"]]
        feeds = {name: tf.constant(arrays[key]) for name, key in call["inputs"].items()}
        try:
            outputs = function(**feeds)
        except Exception as error:  # recorded for the bad-input tests
            report[f"error_{index}"] = f"{type(error).__name__}: {error}"[:2000]
            continue
        for name, value in outputs.items():
            value = value.numpy()
            if value.dtype == object:
                strings = [v.decode("utf-8") for v in value.reshape(-1)]
                value = np.array(strings, dtype=str).reshape(value.shape)
            results[f"{index}/{name}"] = value
    for index, call in enumerate(request.get("tflite", [])):
        feeds = {name: arrays[key] for name, key in call["inputs"].items()}
        outputs, ops, types, signature_list = _tflite(call["path"], feeds)
        report[f"tflite_ops_{index}"] = ops
        report[f"tflite_tensor_types_{index}"] = types
        report[f"tflite_signatures_{index}"] = signature_list
        for name, value in outputs.items():
            results[f"tflite_{index}/{name}"] = value
    report["modules"] = sorted(m for m in sys.modules if m.split(".")[0] == "keras_seqattn")
    np.savez(request["outputs"], **results)
    with open(request["report"], "w") as file:
        json.dump(report, file)


if __name__ == "__main__":
    main(sys.argv[1])
