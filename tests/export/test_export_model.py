"""`export_model` and `keras-seqattn export`: bad input, and the JAX/torch subprocess path."""

import json
import pathlib
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_seqattn import cli
from keras_seqattn.applications import Seq2SeqRNN
from keras_seqattn.export import _tflite, export_model
from keras_seqattn.export.export_model import search_settings
from tests.export.export_checks import assert_builtin_ops, randomize, serve

PAIRS = [("forty two", "42"), ("seven", "7"), ("one hundred", "100"), ("three", "3")]


def _tiny_model():
    return Seq2SeqRNN.from_corpus(
        PAIRS, source_mode="character", target_mode="character", embedding_dim=4, hidden_dim=4
    )


def test_non_application_model_is_refused_with_the_supported_list(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with pytest.raises(
        ValueError, match="AttentionCaptioner, AttentionSeq2Seq.*Received: a Sequential"
    ):
        export_model(model, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_existing_out_is_refused_unless_overwrite(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "export.json").write_text("{}")  # an earlier export
    with pytest.raises(ValueError, match="already exists; pass overwrite=True"):
        export_model(_tiny_model(), tmp_path / "out")


@pytest.mark.parametrize("kind", ["a file", "a folder without export.json"])
def test_out_that_no_export_replaces_says_choose_another_path(tmp_path, kind):
    """Not 'pass overwrite=True', which would then be refused for it."""
    out = tmp_path / "out"
    out.write_text("mine") if kind == "a file" else out.mkdir()
    with pytest.raises(ValueError, match=f"`out` is {kind},.*: choose another path"):
        export_model(_tiny_model(), out)


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(quantize="int4", tflite=True), "`quantize` must be"),
        (dict(quantize="float16"), "pass tflite=True"),
        (dict(beam_width=0), "`beam_width` must be an int >= 1"),
        (dict(length_penalty=-1.0), "`length_penalty` must be a finite number >= 0"),
        (dict(length_penalty=float("inf")), "Received: length_penalty=inf"),
    ],
)
def test_bad_options(tmp_path, options, message):
    with pytest.raises(ValueError, match=message):
        export_model(_tiny_model(), tmp_path / "out", **options)


def test_model_without_generation_defaults_searches_with_4_beams():
    # A converted MarianMT model's own are tested with it (test_marian_generation_config.py).
    assert search_settings(_tiny_model()) == dict(beam_width=4, length_penalty=0.0)
    assert search_settings(_tiny_model(), length_penalty=0.6)["length_penalty"] == 0.6


def test_cli_reports_errors_in_one_line(tmp_path):
    (tmp_path / "out").mkdir()
    with pytest.raises(SystemExit, match="without export.json.*choose another path"):
        cli.main(["export", str(tmp_path / "missing.keras"), "--out", str(tmp_path / "out")])


@pytest.mark.only_backend("tensorflow", reason="the path check runs before any subprocess here")
def test_path_that_is_not_a_keras_file(tmp_path):
    with pytest.raises(ValueError, match=r"`.keras` file. Received: path=.*model.h5"):
        export_model(tmp_path / "model.h5", tmp_path / "out")


@pytest.mark.only_backend("jax", reason="the export re-runs itself on the TensorFlow backend")
def test_jax_model_exports_through_a_tensorflow_subprocess(tmp_path):
    _check_other_backend(tmp_path)


@pytest.mark.only_backend("torch", reason="the export re-runs itself on the TensorFlow backend")
def test_torch_model_exports_through_a_tensorflow_subprocess(tmp_path):
    _check_other_backend(tmp_path)


def _check_other_backend(tmp_path):
    model = _tiny_model()
    model.compile()
    sources, targets = zip(*PAIRS)
    data = tf.data.Dataset.from_tensor_slices((list(sources), list(targets)))
    model.fit(model.prepare(data, batch_size=2), epochs=1, verbose=0)
    randomize(model)  # varied tokens: a few steps teach a tiny model nothing
    path = tmp_path / "model.keras"
    model.save(path)
    out = tmp_path / "export"
    assert (
        cli.main(["export", str(path), "--out", str(out), "--tflite", "--quantize", "float16"]) == 0
    )
    texts = ["forty two", "seven"]
    expected = model.translate(texts)
    padded = np.zeros((1, model.max_source_length), "int32")
    ids = model.tokenize_sources(texts[:1])
    padded[0, : ids.shape[1]] = ids[0]
    outputs, report = serve(
        out,
        {"texts": np.array(texts), "padded": padded},
        [("serving_default", {"text": "texts"}), ("beam", {"text": "texts"})],
        tflite=[("model.tflite", {"source_ids": "padded"})],
    )
    np.testing.assert_array_equal(outputs["0/ids"], expected.ids)
    assert list(outputs["0/text"]) == expected.text
    assert "1/ids" in outputs  # the default beam width, 4
    assert_builtin_ops(report["tflite_ops_0"])
    assert outputs["tflite_0/ids"].shape == (1, model.max_target_length)
    metadata = json.loads((out / "export.json").read_text())
    assert metadata["quantize"] == "float16" and metadata["model_class"] == "Seq2SeqRNN"
    # An object, not a path, goes through a temporary .keras file.
    export_model(model, tmp_path / "from_object", beam_width=1)
    assert (tmp_path / "from_object" / "saved_model" / "saved_model.pb").exists()


@pytest.mark.only_backend("tensorflow", reason="the write itself runs on the TensorFlow backend")
@pytest.mark.parametrize("failing_step", ["tflite", "move_in"])
def test_failed_overwrite_keeps_the_previous_export(tmp_path, monkeypatch, failing_step):
    out = tmp_path / "out"
    out.mkdir()
    (out / "export.json").write_text("previous")
    if failing_step == "tflite":  # after the SavedModel is written into the staging folder
        monkeypatch.setattr(_tflite, "convert", _crash)
    else:
        rename = type(out).rename

        def crash_on_move_in(self, target):
            if str(target) == str(out) and not self.name.endswith("-previous"):
                _crash()
            return rename(self, target)

        monkeypatch.setattr(type(out), "rename", crash_on_move_in)
    with pytest.raises(KeyboardInterrupt):
        # No `.tflite` where the crash comes after it: a conversion that changes nothing.
        tflite = failing_step == "tflite"
        export_model(_tiny_model(), out, overwrite=True, beam_width=1, tflite=tflite)
    assert (out / "export.json").read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # No staging folder left.


def _crash(*args, **kwargs):
    raise KeyboardInterrupt


@pytest.mark.only_backend("tensorflow", reason="the converter runs on the TensorFlow backend")
def test_a_graph_tflite_cannot_hold_fails_in_one_line_with_the_converters_pages_in_a_log(capfd):
    """The converter prints pages to file descriptor 2; the user gets one line."""
    spec = [tf.TensorSpec((1, 3), tf.float32, name="x")]
    with pytest.raises(ValueError) as caught:
        _tflite.convert(lambda x: {"y": tf.math.betainc(x, x, x)}, spec)
    message = str(caught.value)
    assert "\n" not in message and len(message) < 500, message
    assert "'tf.Betainc' op is neither a custom op nor a flex op" in message
    assert "ops outside the builtins: Betainc" in message
    log = pathlib.Path(re.search(r"full output: (\S+)\)$", message).group(1))
    assert "Betainc" in log.read_text()
    log.unlink()
    assert "Betainc" not in capfd.readouterr().err
