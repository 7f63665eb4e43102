"""Training on several devices: keras.distribution on JAX, tf.distribute on TensorFlow.

The multi-device runs happen in one worker process per backend
(`multi_device_worker.py`: four virtual CPU devices on JAX, two logical CPUs on
TensorFlow), started once for this module; the tests below read what it saw.
"""

import json
import os
import subprocess
import sys
import types

import keras
import numpy as np
import pytest

from keras_seqattn import applications, cli, distribute
from keras_seqattn.models.transformer_layout_map import check_model_parallel
from tests.applications import tiny_models
from tests.conftest import BACKEND

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MULTI_DEVICE = BACKEND in ("jax", "tensorflow")
multi_device = pytest.mark.skipif(not MULTI_DEVICE, reason="Keras has no torch distribution")
jax_only = pytest.mark.skipif(BACKEND != "jax", reason="model parallelism is keras.distribution's")
TRANSFORMERS = ("TransformerSeq2Seq", "TransformerCaptioner", "VisionTransformer")


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    out = tmp_path_factory.mktemp("multi_device") / "results.json"
    env = dict(os.environ, KERAS_BACKEND=BACKEND, TF_CPP_MIN_LOG_LEVEL="3")
    if BACKEND == "jax":
        flags = os.environ.get("XLA_FLAGS", "")  # tests/conftest.py's, kept
        env["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count=4".strip()
    process = subprocess.run(
        [sys.executable, "-m", "tests.distribute.multi_device_worker", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-6000:]
    return json.loads(out.read_text())


@multi_device
def test_data_parallel_loss_equals_one_device(worker):
    """Every application, the same global batch of 8 on one device and on several.

    JAX computes the global loss on the mesh, equal to float rounding. TensorFlow's
    MirroredStrategy averages each replica's mean over its own non-padding
    tokens, which differs from the mean over the whole batch's tokens when the
    replicas' padding differs: the first epoch agrees to 1e-3, the third to 2%.
    """
    assert list(worker["models"]) == list(tiny_models.BUILDS)  # every registered application
    for name, row in worker["models"].items():
        single, parallel = np.array(row["single"]), np.array(row["data_parallel"])
        assert len(single) == len(parallel) == 3, name
        assert single[-1] < single[0], name  # it trains
        if BACKEND == "jax":
            np.testing.assert_allclose(parallel, single, rtol=1e-5, err_msg=name)
        else:
            np.testing.assert_allclose(parallel[0], single[0], rtol=1e-3, err_msg=name)
            np.testing.assert_allclose(parallel, single, rtol=2e-2, err_msg=name)


@jax_only
def test_model_parallel_loss_equals_one_device(worker):
    for name in TRANSFORMERS:
        row = worker["models"][name]
        np.testing.assert_allclose(row["model_parallel"], row["single"], rtol=1e-5, err_msg=name)


@jax_only
def test_every_variable_is_sharded_as_the_layout_map_says(worker):
    for name in TRANSFORMERS:
        shardings = worker["models"][name]["shardings"]
        for path, row in shardings.items():
            assert row["actual"] == row["expected"], (name, path)
        # Independently of the map: heads split in q/k/v (D, h, k), the MLP's first
        # kernel by columns and its second by rows, norms replicated.
        for path, row in shardings.items():
            if path.endswith(("query/kernel", "key/kernel", "value/kernel")):
                assert row["actual"] == [None, "model", None], (name, path)
            elif path.endswith("mlp_intermediate/kernel"):
                assert row["actual"] == [None, "model"], (name, path)
            elif path.endswith("mlp_output/kernel"):
                assert row["actual"] == ["model", None], (name, path)
            elif "norm" in path:
                assert "model" not in row["actual"], (name, path)


@multi_device
def test_generation_on_several_devices_equals_one_device(worker):
    """Three inputs (no replica count divides them), generated under the distribution
    in its scope, against the same weights saved and loaded with none."""
    key = "model_parallel_generated" if BACKEND == "jax" else "data_parallel_generated"
    names = TRANSFORMERS if BACKEND == "jax" else list(worker["models"])
    for name in names:
        row = worker["models"][name]
        sharded, reloaded = row[key], row["reloaded_generated"]
        assert len(sharded["ids"]) == len(reloaded["ids"]) == 3, name
        assert sharded["ids"] == reloaded["ids"], name
        np.testing.assert_allclose(sharded["scores"], reloaded["scores"], atol=1e-4, err_msg=name)


@multi_device
def test_training_job_resumes_on_other_devices_and_saves_unsharded(worker):
    runs = worker["cli"]["runs"]
    assert [run["code"] for run in runs] == [0, 0]
    assert [run["resumed_from_epoch"] for run in runs] == [0, 1]
    assert runs[1]["history"]["loss"][0] == runs[0]["history"]["loss"][0]
    assert len(runs[1]["history"]["loss"]) == 2
    # Validation ran on whole batches: 16 examples, however many replicas.
    assert len(runs[1]["history"]["val_loss"]) == 2
    assert isinstance(worker["cli"]["reloaded_text"][0], str)
    vit = worker["cli"]["vit"]
    assert vit["code"] == 0 and 0.0 <= vit["test_accuracy"] <= 1.0
    # 40 examples in batches of 16 on 2 replicas: the short last batch of 8 dropped.
    assert len(vit["history"]["loss"]) == 1 and len(vit["history"]["val_loss"]) == 1
    if BACKEND == "jax":  # loaded with no distribution: whole arrays on one device
        (sharding,) = worker["cli"]["reloaded_shardings"]
        assert sharding.startswith("SingleDeviceSharding")


def test_one_device_needs_no_distribution():
    assert distribute.make_distribution() is None
    assert distribute.num_replicas(None) == 1
    with distribute.scope(None):
        pass


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "2"])
def test_bad_device_counts_are_refused(value):
    with pytest.raises(ValueError, match="data_parallel.*Received"):
        distribute.make_distribution(data_parallel=value)


@pytest.mark.skipif(BACKEND != "torch", reason="torch only")
def test_torch_refuses_several_devices_and_says_what_to_use(capsys):
    with pytest.raises(ValueError, match="no distribution for the torch backend.*--backend jax"):
        distribute.make_distribution(2)
    with pytest.raises(SystemExit) as exit:  # a usage error of the grammar
        cli.main(
            ["train", "seq2seq-rnn", "--dataset", "date_normalization", "--out", "unused",
             "--data-parallel", "2"]
        )  # fmt: skip
    assert exit.value.code == 2 and "--backend jax" in capsys.readouterr().err


@pytest.mark.skipif(not MULTI_DEVICE, reason="torch refuses before counting")
def test_more_devices_than_the_machine_has_are_refused():
    # This process has one CPU device; the message says how to make more.
    how = "XLA_FLAGS" if BACKEND == "jax" else "set_logical_device_configuration"
    with pytest.raises(ValueError, match=f"2 devices were asked for.*has 1.*{how}"):
        distribute.make_distribution(2)


@jax_only
def test_model_parallel_of_an_rnn_model_is_refused():
    with pytest.raises(ValueError, match="AttentionSeq2Seq trains data parallel only"):
        distribute.make_distribution(1, 2, applications.AttentionSeq2Seq)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tensorflow only")
def test_tensorflow_refuses_model_parallel():
    with pytest.raises(ValueError, match="data parallel only.*--backend jax"):
        distribute.make_distribution(1, 2, applications.TransformerSeq2Seq)


def test_batch_that_does_not_split_over_the_replicas_is_refused():
    four = types.SimpleNamespace(num_replicas_in_sync=4)  # a strategy's one attribute used
    assert distribute.num_replicas(four) == 4
    distribute.check_batch_size(64, four)
    with pytest.raises(ValueError, match="must divide by 4: use a batch size of 4.*=6"):
        distribute.check_batch_size(6, four)
    assert distribute.round_batch_size(256, types.SimpleNamespace(num_replicas_in_sync=3)) == 255


def test_sizes_that_do_not_divide_over_the_model_axis_are_refused():
    check_model_parallel({"num_heads": 4, "hidden_dim": 256}, 2)
    with pytest.raises(ValueError, match="divide by 3.*hidden_dim=256, num_heads=4"):
        check_model_parallel({"num_heads": 4, "hidden_dim": 256, "intermediate_dim": 3}, 3)


@pytest.mark.skipif(not MULTI_DEVICE, reason="keras.distribution meshes need jax or tf")
def test_layout_map_checks_its_mesh():
    mesh = keras.distribution.DeviceMesh((1, 1), ("batch", "model"), ["cpu:0"])
    layout_map = applications.TransformerSeq2Seq.get_layout_map(mesh)
    assert layout_map["decoder_layer_0/cross_attention/key/kernel"].axes == (None, "model", None)
    assert layout_map["encoder_layer_0/self_attention_norm/gamma"] is None
    with pytest.raises(ValueError, match="DeviceMesh"):
        applications.VisionTransformer.get_layout_map("mesh")
    with pytest.raises(ValueError, match="`model_dim` must be an axis.*'heads'"):
        applications.TransformerCaptioner.get_layout_map(mesh, model_dim="heads")


def test_splits_smaller_than_one_whole_batch_are_refused_before_any_file(tmp_path):
    import tensorflow as tf

    from keras_seqattn.training._resume import ResumableRun

    two = types.SimpleNamespace(num_replicas_in_sync=2)
    out = tmp_path / "run"
    run = ResumableRun(out, {"distribution": two, "batch_size": 16})
    examples = tf.data.Dataset.range(40)
    run.check_splits(examples, examples.take(2), 16)  # validation: one batch of 2
    with pytest.raises(ValueError, match=r"training examples \(8\) are fewer than one batch of 16"):
        run.check_splits(examples.take(8), None, 16)
    # One validation example cannot fill a batch that splits over 2 replicas.
    with pytest.raises(ValueError, match=r"validation examples \(1\).*batch of 2"):
        run.check_splits(examples, examples.take(1), 16)
    assert not out.exists()
    # Without a distribution nothing is refused (a short last batch is kept).
    ResumableRun(out, {"batch_size": 16}).check_splits(examples.take(8), None, 16)
