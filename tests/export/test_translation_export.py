"""A translation model exported and run in a TensorFlow-only process and in LiteRT."""

import json
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

from keras_seqattn.applications import Seq2SeqRNN
from keras_seqattn.export import export_model
from tests.export.export_checks import assert_builtin_ops, litert_client, serve

pytestmark = pytest.mark.only_backend(
    "tensorflow", reason="exports run on the TensorFlow backend; other backends re-run it there"
)

PAIRS = [("forty two", "42"), ("seven", "7"), ("one hundred", "100"), ("three", "3")]


@pytest.fixture
def exported(translation_export):
    """conftest.py's AttentionSeq2Seq export, served (test_long_decoding_export reads it too)."""
    return translation_export


def test_signatures_and_files(exported):
    signatures = exported["report"]["signatures"]
    assert set(signatures) == {
        "serving_default",
        "beam",
        "token_ids",
        "token_ids_beam",
        "attention",
    }
    length = exported["model"].max_target_length
    assert signatures["serving_default"]["inputs"] == {"text": ["string", [None]]}
    assert signatures["token_ids"]["inputs"] == {"source_ids": ["int32", [None, None]]}
    assert signatures["serving_default"]["outputs"] == {
        "text": ["string", [None]],
        "ids": ["int32", [None, length]],
        "lengths": ["int32", [None]],
        "scores": ["float32", [None]],
    }
    assert signatures["attention"]["outputs"]["attention"] == ["float32", [None, length, None]]
    files = {p.name for p in exported["out"].iterdir()}
    assert files == {
        "saved_model",
        "model.tflite",
        "vocabulary.json",
        "source_vocabulary.json",
        "source_tokenizer.json",
        "export.json",
    }
    vocabulary = json.loads((exported["out"] / "vocabulary.json").read_text())
    assert vocabulary == exported["model"].target_tokenizer.vocabulary
    assert exported["report"]["modules"] == []  # the server never imported keras_seqattn


def test_strings_in_strings_out_match_translate(exported):
    greedy, outputs = exported["keras"]["greedy"], exported["outputs"]
    np.testing.assert_array_equal(outputs["0/ids"], greedy.ids)
    assert list(outputs["0/text"]) == greedy.text
    np.testing.assert_allclose(outputs["0/scores"], greedy.scores, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(outputs["2/ids"], greedy.ids)  # token_ids


def test_beam_signatures_match_beam_search(exported):
    beam, outputs = exported["keras"]["beam"], exported["outputs"]
    np.testing.assert_array_equal(outputs["1/ids"], beam.ids)
    np.testing.assert_array_equal(outputs["3/ids"], beam.ids)


def test_attention_signature(exported):
    greedy, outputs = exported["keras"]["greedy"], exported["outputs"]
    for row, attention in enumerate(greedy.attention):
        steps, sources = attention.shape
        np.testing.assert_allclose(
            outputs["4/attention"][row, :steps, :sources], attention, atol=1e-5
        )


def test_tflite_is_builtins_only_and_matches_greedy(exported):
    report, outputs = exported["report"], exported["outputs"]
    assert_builtin_ops(report["tflite_ops_0"])
    assert report["tflite_signatures_0"]["serving_default"]["inputs"] == ["source_ids"]
    np.testing.assert_array_equal(outputs["tflite_0/ids"], exported["keras"]["padded"].ids)


def test_wrong_dtype_and_too_long_fail_at_the_signature(exported):
    report = exported["report"]
    assert "expected to be a int32 tensor but is a float tensor" in report["error_5"]
    assert "InvalidArgumentError" in report["error_6"]
    assert "max_source_length" in report["error_6"]


def test_empty_batch_gives_empty_outputs(exported):
    """Every signature answers a batch of 0 with 0 rows (the RNN encoder crashed on it)."""
    report, outputs = exported["report"], exported["outputs"]
    length = exported["model"].max_target_length
    for index in range(9, 14):
        assert f"error_{index}" not in report, report[f"error_{index}"]
        assert outputs[f"{index}/ids"].shape == (0, length)
        assert outputs[f"{index}/text"].shape == outputs[f"{index}/scores"].shape == (0,)
    assert outputs["13/attention"].shape[:2] == (0, length)


def test_ids_outside_the_vocabulary_fail_at_the_signature(exported):
    """A negative id read an embedding row from the end of the table; Keras refuses both."""
    report, vocabulary = exported["report"], exported["model"].source_tokenizer.vocabulary_size
    assert "InvalidArgumentError" in report["error_14"]
    assert f"`source_ids` must be ids in [0, {vocabulary}); some are < 0" in report["error_14"]
    assert f"some are >= {vocabulary}" in report["error_15"]
    with pytest.raises(ValueError, match="Ids must lie in"):
        exported["model"].source_tokenizer.detokenize(np.array([[-1, 3]]))


def test_text_that_is_not_utf8_and_rows_of_no_position_fail_at_the_signature(exported):
    """Keras refuses such text too (a lone surrogate by name); the graph would read [UNK]s."""
    report = exported["report"]
    assert "InvalidArgumentError" in report["error_7"]
    assert "`text` must be UTF-8 strings" in report["error_7"]
    assert "[rows] [1 2] [from bytes] [6 0]" in report["error_7"]
    assert "InvalidArgumentError" in report["error_8"]
    assert "source_ids must have at least 1 position" in report["error_8"]


# Unknown characters, punctuation, case and spacing, which each tokenizer treats
# its own way; the graph must treat them the same way.
SUBWORD_TEXTS = ["forty two", "  SEVEN hundred!", "Straße zwölf", "two-hundred", ""]


@pytest.mark.parametrize("mode", ["word_piece", "sentence_piece"])
def test_subword_sources_take_strings_in_the_saved_model(subword_export, mode):
    """A random Seq2SeqRNN of subword sources and targets (conftest.py's, shared)."""
    model, out = subword_export(mode)["model"], subword_export(mode)["out"]
    metadata = json.loads((out / "export.json").read_text())
    assert metadata["signatures"] == ["serving_default", "token_ids"]
    assert metadata["notes"] == []
    arrays = {"texts": np.array(SUBWORD_TEXTS), "no_texts": np.zeros((0,), "S1")}
    calls = [("serving_default", {"text": "texts"}), ("serving_default", {"text": "no_texts"})]
    outputs, report = serve(out, arrays, calls)
    assert "error_1" not in report, report["error_1"]  # Seq2SeqRNN's loop took no empty batch
    assert outputs["1/ids"].shape == (0, model.max_target_length)
    assert outputs["1/text"].shape == outputs["1/scores"].shape == (0,)
    expected = model.translate(SUBWORD_TEXTS)
    np.testing.assert_array_equal(outputs["0/ids"], expected.ids)
    assert list(outputs["0/text"]) == expected.text
    assert len(set(expected.text)) > 1, "random weights gave one translation for every input"
    # serving.md's LiteRT client tokenises with the files beside the model, as Keras does.
    client = litert_client(out, translate=True)
    for text, ids, translation in zip(SUBWORD_TEXTS, expected.ids, expected.text):
        source_ids = client["source_ids"](text)
        keras_ids = model.tokenize_sources([text])
        np.testing.assert_array_equal(source_ids[0, : keras_ids.shape[1]], keras_ids[0])
        assert not source_ids[0, keras_ids.shape[1] :].any()
        assert client["translate"](text) == translation
        out = client["runner"](source_ids=source_ids)
        np.testing.assert_array_equal(out["ids"][0], ids)


def test_unigram_sentence_piece_source_falls_back_to_token_ids(tmp_path):
    import io

    import sentencepiece

    from keras_seqattn.text import SequenceTokenizer

    writer = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter([source for source, _ in PAIRS] * 10),
        model_writer=writer,
        vocab_size=20,
        model_type="unigram",
        hard_vocab_limit=False,
        minloglevel=2,
        pad_id=0,
        unk_id=1,
        bos_id=2,
        eos_id=3,
        pad_piece="[PAD]",
        unk_piece="[UNK]",
        bos_piece="[START]",
        eos_piece="[STOP]",
    )
    source = SequenceTokenizer(mode="sentence_piece", proto=writer.getvalue())
    target = SequenceTokenizer.from_corpus([t for _, t in PAIRS], mode="character")
    model = Seq2SeqRNN(source, target, embedding_dim=4, hidden_dim=4)
    with pytest.warns(UserWarning, match="BPE models only"):
        export_model(model, tmp_path / "export", beam_width=1)
    metadata = json.loads((tmp_path / "export" / "export.json").read_text())
    assert metadata["signatures"] == ["serving_default", "token_ids"]
    assert "source_tokenizer.json" in metadata["notes"][0]
    assert not (tmp_path / "export" / "model.tflite").exists()
    # serving.md's client tokenises a unigram model too, with the `sentencepiece` package.
    client = litert_client(tmp_path / "export")
    for text in ["forty two", "Seven hundred"]:
        ids = model.tokenize_sources([text])
        np.testing.assert_array_equal(client["source_ids"](text)[:, : ids.shape[1]], ids)


def test_saved_model_cli_lists_the_documented_signatures(exported):
    """What `saved_model_cli show --all` (TF Serving's view of the model) prints."""
    cli = pathlib.Path(sys.executable).with_name("saved_model_cli")
    shown = subprocess.run(
        [str(cli), "show", "--dir", str(exported["out"] / "saved_model"), "--all"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert shown.returncode == 0, shown.stderr[-2000:]
    blocks = re.split(r"signature_def\['(\w+)'\]:", shown.stdout)[1:]
    signatures = dict(zip(blocks[::2], blocks[1::2]))
    assert {"serving_default", "beam", "token_ids", "token_ids_beam", "attention"} <= set(
        signatures
    )
    length = exported["model"].max_target_length
    default = signatures["serving_default"]
    assert re.search(r"inputs\['text'\] tensor_info:\s+dtype: DT_STRING\s+shape: \(-1\)", default)
    assert re.search(r"outputs\['text'\] tensor_info:\s+dtype: DT_STRING\s+shape: \(-1\)", default)
    assert re.search(
        rf"outputs\['ids'\] tensor_info:\s+dtype: DT_INT32\s+shape: \(-1, {length}\)", default
    )
    ids = signatures["token_ids"]
    assert re.search(
        r"inputs\['source_ids'\] tensor_info:\s+dtype: DT_INT32\s+shape: \(-1, -1\)", ids
    )
