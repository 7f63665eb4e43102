"""Trains every application on virtual CPU devices and writes what it saw as JSON.

Run by tests/distribute/test_devices.py in a process of its own, because the
devices must exist before the backend starts: JAX gets four
(`XLA_FLAGS=--xla_force_host_platform_device_count=4`, set by the test), TensorFlow
two logical CPUs (set here). One process for all checks keeps CI's time flat.

    KERAS_BACKEND=jax XLA_FLAGS=... python -m tests.distribute.multi_device_worker OUT.json
"""

import json
import os
import sys
import tempfile

import keras

if keras.backend.backend() == "tensorflow":
    import tensorflow as tf

    (_cpu,) = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(_cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_seqattn import applications, cli, distribute, saving  # noqa: E402
from keras_seqattn.models._batch_prediction import predict_batch  # noqa: E402
from tests.applications import tiny_models  # noqa: E402

JAX = keras.backend.backend() == "jax"
REPLICAS = 4 if JAX else 2
BATCH = 8  # global: 2 or 4 examples per replica
STEPS = 2  # per epoch


def _generate(model):
    """`{"ids", "scores"}` for three inputs, a batch that no replica count divides.

    The scores (log-probabilities; the ViT's logits) tell apart weights that an
    untrained model's ids, one token over and over, would not.
    """
    inputs = tiny_models.generation_inputs(model)
    if isinstance(model, applications.VisionTransformer):
        logits = np.asarray(predict_batch(model, inputs))
        return {"ids": np.argmax(logits, -1).tolist(), "scores": logits.tolist()}
    result = model.translate(inputs) if hasattr(model, "translate") else model.caption(inputs)
    return {"ids": result.ids.tolist(), "scores": result.scores.tolist()}


def _train(build, distribution, generate=False):
    """`(losses of 3 epochs, generated, model)` of a model built and fit under
    `distribution`; `generated` is `_generate()`'s, or `None` unless asked."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    with distribute.scope(distribution):
        model = build()
        if isinstance(model, applications.VisionTransformer):
            model.compile(
                keras.optimizers.Adam(1e-2),
                keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            )
        else:
            model.compile(optimizer=keras.optimizers.Adam(1e-2))
        # The 2 batches repeated, 2 steps an epoch: the same batches each epoch as a
        # finite dataset gives, but one iterator for the whole fit (a new one each
        # epoch cost a tf.distribute dataset 6-11 s an epoch on CI's machine).
        data = tiny_models.batches(model, BATCH, count=STEPS).repeat()
        history = model.fit(data, steps_per_epoch=STEPS, epochs=3, verbose=0, shuffle=False)
        generated = _generate(model) if generate else None  # in the scope: the harder case
    return history.history["loss"], generated, model


def _reloaded_generated(model, folder):
    """`_generate()` of `model`'s weights saved and loaded again with no distribution."""
    path = os.path.join(folder, f"{model.name}.keras")
    model.save(path)
    return _generate(saving.load_model(path))


def _shardings(model, layout_map):
    """Per variable: the partition its value has, and the one `layout_map` names."""
    rows = {}
    for variable in model.weights:
        expected = layout_map[variable.path]
        expected = [None] * len(variable.shape) if expected is None else list(expected.axes)
        rows[variable.path] = {"actual": list(variable.value.sharding.spec), "expected": expected}
    # JAX leaves trailing unsharded axes out of a PartitionSpec.
    for row in rows.values():
        row["actual"] += [None] * (len(row["expected"]) - len(row["actual"]))
    return rows


def _cli_resume(folder):
    """The main job on several devices, resumed on others; what each run wrote.

    JAX trains 2 x 2 (data x model parallel), then resumes on 4 data-parallel
    devices; TensorFlow on 2 mirrored devices, then resumes on one. The saved
    model then translates in this process with no distribution.
    """
    out = os.path.join(folder, "run")
    first = ["--data-parallel", "2"] + (["--model-parallel", "2"] if JAX else [])
    then = ["--data-parallel", "4"] if JAX else []
    runs = []
    for epochs, devices in (("1", first), ("2", then)):
        code = cli.main(
            ["train", "transformer-seq2seq", "--dataset", "date_normalization", "--out", out,
             "--epochs", epochs, "--train-limit", "64", "--eval-limit", "16", "--batch-size", "16",
             "--hidden-dim", "16", "--num-layers", "1", "--num-heads", "4", *devices]
        )  # fmt: skip
        with open(os.path.join(out, "metrics.json")) as file:
            metrics = json.load(file)
        runs.append({"code": code, **{k: metrics[k] for k in ("resumed_from_epoch", "history")}})
    model = saving.load_model(os.path.join(out, "model.keras"))
    shardings = {str(v.value.sharding) for v in model.weights} if JAX else set()
    # The ViT's job has its own batches and optimizer: one short run of it too, at
    # the smallest named size (its job, not its width, is what runs on the devices).
    vit = os.path.join(folder, "vit")
    code = cli.main(
        ["train", "vit", "--dataset", "digits", "--out", vit, "--epochs", "1",
         "--train-limit", "40", "--eval-limit", "20", "--batch-size", "16", "--data-parallel", "2",
         "--config", "vit_micro_digits"]
    )  # fmt: skip
    with open(os.path.join(vit, "metrics.json")) as file:
        vit_metrics = json.load(file)
    return {
        "vit": {"code": code, "test_examples": vit_metrics["test_examples"], **vit_metrics},
        "runs": runs,
        "reloaded_text": model.translate(["3. Mai 2021"]).text,
        "reloaded_shardings": sorted(shardings),
    }


def main(out, names=None):
    results = {"backend": keras.backend.backend(), "replicas": REPLICAS, "models": {}}
    folder = tempfile.mkdtemp()
    for name, build in tiny_models.BUILDS.items():
        if names and name not in names:
            continue
        row = {"single": _train(build, None)[0]}
        data_parallel = distribute.make_distribution(REPLICAS)
        row["data_parallel"], row["data_parallel_generated"], model = _train(
            build, data_parallel, generate=not JAX
        )
        if not JAX:  # Against the same weights reloaded, with no strategy.
            row["reloaded_generated"] = _reloaded_generated(model, folder)
        cls = getattr(applications, name)
        if JAX and hasattr(cls, "get_layout_map"):
            model_parallel = distribute.make_distribution(2, 2, cls)
            row["model_parallel"], row["model_parallel_generated"], model = _train(
                build, model_parallel, generate=True
            )
            row["reloaded_generated"] = _reloaded_generated(model, folder)
            layout_map = cls.get_layout_map(model_parallel.device_mesh)
            row["shardings"] = _shardings(model, layout_map)
        results["models"][name] = row
        print(name, json.dumps({k: v for k, v in row.items() if k != "shardings"}), flush=True)
    results["cli"] = _cli_resume(folder)
    with open(out, "w") as file:
        json.dump(results, file)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
