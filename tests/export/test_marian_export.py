"""A converted MarianMT model exported, served in a TensorFlow-only process and in LiteRT."""

import json
import re

import numpy as np
import pytest

from keras_seqattn.applications import TransformerSeq2Seq
from keras_seqattn.export import export_model
from tests.applications.marian_reference import make_marian_directory
from tests.export.export_checks import assert_builtin_ops, serve

pytestmark = pytest.mark.only_backend(
    "tensorflow", reason="exports run on the TensorFlow backend; other backends re-run it there"
)
pytest.importorskip("transformers")  # builds the MarianMT directory

MAX_LENGTH = 9  # the checkpoint's max_length, below max_target_length=12
# An unknown character, a language code (multilingual OPUS-MT models) and an empty text;
# literal special tokens are those ids, and cut the text (MarianTokenizer's split).
TEXTS = ["three hundred and twelve", "forty-two", ">>de<< seven", "", "zero €", "  Ｔｗｏ  ﬁve "]
TEXTS += ["seven </s>two<unk>", "<pad>>>de<< nine"]
# Hugging Face's processors in the graph (tests/applications/test_marian_generation_config.py
# checks them against generate()): a penalty below 1 favours the repeats the n-gram ban stops.
GENERATION = dict(
    renormalize_logits=True, repetition_penalty=0.7, no_repeat_ngram_size=2, min_length=3,
    bad_words_ids=[[99], [58, 34]],
    num_beams=3, length_penalty=1.0, max_length=MAX_LENGTH + 1,  # + the decoder start
)  # fmt: skip


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("opus-mt-tiny")
    make_marian_directory(folder, generation=GENERATION)
    model = TransformerSeq2Seq.from_pretrained(folder, max_source_length=16, max_target_length=12)
    out = folder.parent / "export"
    export_model(model, out, tflite=True)  # beams and penalty: the checkpoint's, as translate()
    source_ids = model.tokenize_sources(TEXTS)
    padded = np.full((1, model.max_source_length), model.source_tokenizer.pad_id, "int32")
    padded[0, : source_ids.shape[1]] = source_ids[0]
    keras = {
        "source_ids": source_ids,
        "greedy": model.translate(TEXTS, max_length=MAX_LENGTH, beam_width=1),
        # The checkpoint's defaults: the `beam` signature is them, exported with them.
        "beam": model.translate(TEXTS),
        "padded": model.generate_ids(
            padded,
            MAX_LENGTH,
            start_id=model.target_tokenizer.start_id,
            stop_id=model.target_tokenizer.stop_id,
            pad_id=model.target_tokenizer.pad_id,
            **model.generation_options,
        ),
    }
    # Without the processors: they must change the greedy ids for the check to count.
    processors = ("renormalize", "repetition_penalty", "no_repeat_ngram_size", "min_new_tokens")
    plain = {k: v for k, v in model.generation_options.items() if k not in processors}
    keras["plain"] = model.generate_ids(
        source_ids,
        MAX_LENGTH,
        start_id=model.target_tokenizer.start_id,
        stop_id=model.target_tokenizer.stop_id,
        pad_id=model.target_tokenizer.pad_id,
        **{**plain, "bad_words": ()},
    )
    arrays = {"texts": np.array(TEXTS), "source_ids": source_ids, "padded": padded}
    calls = [
        ("serving_default", {"text": "texts"}),
        ("beam", {"text": "texts"}),
        ("attention", {"source_ids": "source_ids"}),
        ("token_ids", {"source_ids": "source_ids"}),
        ("token_ids_beam", {"source_ids": "source_ids"}),
    ]
    outputs, report = serve(out, arrays, calls, tflite=[("model.tflite", {"source_ids": "padded"})])
    return dict(model=model, out=out, keras=keras, outputs=outputs, report=report)


def test_signatures_and_files(exported):
    signatures = exported["report"]["signatures"]
    assert set(signatures) == {
        "serving_default",
        "beam",
        "token_ids",
        "token_ids_beam",
        "attention",
    }
    assert signatures["serving_default"]["inputs"] == {"text": ["string", [None]]}
    assert signatures["token_ids"]["inputs"] == {"source_ids": ["int32", [None, None]]}
    files = {p.name for p in exported["out"].iterdir()}
    assert files == {
        "saved_model",
        "model.tflite",
        "vocabulary.json",
        "source_vocabulary.json",
        "source_tokenizer.json",
        "source_tokenizer.model",
        "export.json",
    }
    info = json.loads((exported["out"] / "export.json").read_text())
    tokenizer = exported["model"].target_tokenizer
    assert (info["start_id"], info["stop_id"], info["pad_id"]) == (
        tokenizer.pad_id,
        tokenizer.stop_id,
        tokenizer.pad_id,
    )
    assert info["generation_options"]["finished_beams"] == "apart"
    assert (info["beam_width"], info["length_penalty"]) == (3, 1.0)  # the checkpoint's
    assert exported["report"]["modules"] == []  # the server never imported keras_seqattn


def test_strings_in_strings_out_match_translate(exported):
    outputs, keras = exported["outputs"], exported["keras"]
    assert exported["model"].source_tokenizer.oov_id in exported["keras"]["source_ids"]
    assert (keras["plain"].ids != keras["greedy"].ids).any()  # the processors act
    np.testing.assert_array_equal(outputs["0/ids"], keras["greedy"].ids)
    assert list(outputs["0/text"]) == keras["greedy"].text
    np.testing.assert_array_equal(outputs["1/ids"], keras["beam"].ids)
    assert list(outputs["1/text"]) == keras["beam"].text
    np.testing.assert_array_equal(outputs["3/ids"], keras["greedy"].ids)
    np.testing.assert_array_equal(outputs["4/ids"], keras["beam"].ids)
    for row, attention in enumerate(keras["greedy"].attention_heads):
        steps, _, sources = attention.shape
        np.testing.assert_allclose(
            outputs["2/attention"][row, :steps, :, :sources], attention, atol=1e-5
        )


def test_tflite_is_builtins_only_and_matches_greedy(exported):
    report, outputs = exported["report"], exported["outputs"]
    assert_builtin_ops(report["tflite_ops_0"])
    np.testing.assert_array_equal(outputs["tflite_0/ids"], exported["keras"]["padded"].ids)


def _client_source_ids(folder, text):
    """The LiteRT client of a Marian export: sentencepiece and the written files only."""
    import sentencepiece

    spec = json.loads((folder / "source_tokenizer.json").read_text())
    vocabulary = json.loads((folder / "source_vocabulary.json").read_text())
    ids_of = {piece: i for i, piece in enumerate(vocabulary)}
    pieces = sentencepiece.SentencePieceProcessor(
        model_file=str(folder / spec["sentence_piece_model"])
    )
    tokens = []
    for part in re.split(r"(</s>|<unk>|<pad>)", text):  # source_tokenizer.json's rule
        if part in ("</s>", "<unk>", "<pad>"):
            tokens.append(part)
            continue
        if part.startswith(">>") and (end := part.find("<<")) != -1:
            tokens, part = tokens + [part[: end + 2]], part[end + 2 :]
        tokens += pieces.encode(part, out_type=str)
    ids = [ids_of.get(p, spec["unknown_id"]) for p in tokens][: spec["max_length"] - 1]
    ids.append(spec["stop_id"])
    return np.array([ids + [spec["pad_id"]] * (spec["max_length"] - len(ids))], "int32")


def test_a_litert_client_with_sentencepiece_translates_as_keras(exported):
    from ai_edge_litert.interpreter import Interpreter

    folder, model = exported["out"], exported["model"]
    runner = Interpreter(model_path=str(folder / "model.tflite")).get_signature_runner()
    vocabulary = json.loads((folder / "vocabulary.json").read_text())
    special = set(model.target_tokenizer.special_ids)
    greedy = exported["keras"]["greedy"]
    for row, text in enumerate(TEXTS):
        source_ids = _client_source_ids(folder, text)
        expected = model.tokenize_sources([text])[0]
        np.testing.assert_array_equal(source_ids[0, : len(expected)], expected)
        assert (source_ids[0, len(expected) :] == model.source_tokenizer.pad_id).all()
        out = runner(source_ids=source_ids)
        ids = out["ids"][0][: out["lengths"][0]]
        pieces = [vocabulary[i] for i in ids if i not in special]
        assert "".join(pieces).replace("\u2581", " ").strip() == greedy.text[row]
