"""Helpers of the export tests: tiny random or overfitted models, a serving process."""

import json
import pathlib
import re
import subprocess
import sys

import numpy as np

SERVING_PROCESS = pathlib.Path(__file__).with_name("serving_process.py")
SERVING_MD = pathlib.Path(__file__).resolve().parents[2] / "serving.md"
BUILTIN_OP = re.compile(r"^[A-Z][A-Z0-9_]*$")


def randomize(model, seed=0, scale=0.5):
    """Random weights, so that an untrained model generates varied tokens."""
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        weight.assign(rng.normal(0.0, scale, tuple(weight.shape)).astype(weight.dtype))
    return model


def serve(folder, arrays, calls, tflite=()):
    """Runs `calls` on `folder/saved_model` and `tflite` in a TensorFlow-only process.

    Args:
        folder: the export folder.
        arrays: dict of name -> NumPy array, the inputs.
        calls: list of `(signature, {input name: array name})`.
        tflite: list of `(file name, {input name: array name})`.

    Returns:
        `(outputs, report)`: outputs keyed `"{call index}/{output}"` and
        `"tflite_{index}/{output}"`; the report as `serving_process.py` writes it.
    """
    folder = pathlib.Path(folder)
    work = folder.parent / f"{folder.name}_serving"
    work.mkdir(exist_ok=True)
    np.savez(work / "inputs.npz", **arrays)
    request = {
        "saved_model": str(folder / "saved_model"),
        "inputs": str(work / "inputs.npz"),
        "outputs": str(work / "outputs.npz"),
        "report": str(work / "report.json"),
        "calls": [{"signature": s, "inputs": i} for s, i in calls],
        "tflite": [{"path": str(folder / f), "inputs": i} for f, i in tflite],
    }
    (work / "request.json").write_text(json.dumps(request))
    completed = subprocess.run(
        [sys.executable, str(SERVING_PROCESS), str(work / "request.json")],
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    outputs = dict(np.load(work / "outputs.npz", allow_pickle=False))
    return outputs, json.loads((work / "report.json").read_text())


def assert_builtin_ops(ops):
    """Every op of a `.tflite` model is a TFLite builtin (no Flex, no custom op)."""
    assert ops, "no ops listed"
    odd = [op for op in ops if not BUILTIN_OP.match(op) or op.startswith("FLEX")]
    assert not odd, f"non-builtin ops: {odd}"


def overfit(model, pairs, steps=150, learning_rate=0.01):
    """A few steps of Adam on `pairs`, so that greedy tokens differ from input to input.

    Random weights make the Transformers and captioners repeat one token for
    every input, which an export that ignored its input would also do.

    Args:
        model: a translation model or captioner.
        pairs: list of `(source text or image array, target text)`.
    """
    import keras
    import tensorflow as tf

    sources, targets = zip(*pairs)
    pairs = tf.data.Dataset.from_tensor_slices((np.array(sources), list(targets)))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    model.fit(model.prepare(pairs.repeat(steps), batch_size=len(sources)), epochs=1, verbose=0)
    return model


def litert_client(folder, translate=False):
    """serving.md's LiteRT translation client, run on the export `folder`: its names.

    The code is serving.md's own, the `python` blocks after the markers
    `<!-- litert-client: tokenise -->` (and `translate`), with `folder` set.
    """
    blocks = dict(
        re.findall(
            r"<!-- litert-client: (\w+) -->\n```python\n(.*?)```",
            SERVING_MD.read_text(encoding="utf-8"),
            re.S,
        )
    )
    code = blocks["tokenise"] + (blocks["translate"] if translate else "")
    assert code.count('folder = "run/export"') == 1, "the client's folder line moved"
    code = code.replace('folder = "run/export"', f"folder = {str(folder)!r}")
    names = {}
    exec(compile(code, str(SERVING_MD), "exec"), names)
    return names


def litert_outputs(model, inputs):
    """`model`'s `model.tflite`, as `export_model` converts it, run in LiteRT on `inputs`.

    The plan of the model's family gives the TFLite function, and `_tflite.convert`
    converts it with builtin ops only, as `export_model(..., tflite=True)` does, without
    the SavedModel around it. Inputs go one row at a time (the `.tflite` takes batch 1):
    a translation model's texts are tokenised by the model and padded to
    `max_source_length`, a captioner's images brought to its size by `prepare_images`.

    Returns:
        dict of output name -> array of the rows stacked, and the ops of the model.
    """
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    import keras_seqattn_registry
    from keras_seqattn.export import _captioning, _tflite, _translation, _vision

    task = keras_seqattn_registry.task_of(type(model))
    if task == "translation":
        plan = _translation.translation_plan(model, beam_width=1)
        ids = model.tokenize_sources(inputs)
        rows = np.zeros((len(ids), model.max_source_length), "int32")
        rows[:, : ids.shape[1]] = ids
        feeds = [{"source_ids": row[None]} for row in rows]
    elif task == "captioning":
        plan = _captioning.captioning_plan(model, beam_width=1)
        images = np.asarray(model.prepare_images(inputs), "float32")
        feeds = [{"images": image[None]} for image in images]
    else:
        plan = _vision.vision_plan(model)
        feeds = [{"images": np.asarray(image, "float32")[None]} for image in inputs]
    ((_, function, signature),) = plan.tflite
    interpreter = Interpreter(
        model_content=_tflite.convert(function, signature),
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    runner = interpreter.get_signature_runner("serving_default")
    rows = [runner(**feed) for feed in feeds]
    ops = sorted({op["op_name"] for op in interpreter._get_ops_details()})
    return {name: np.concatenate([row[name] for row in rows]) for name in rows[0]}, ops
