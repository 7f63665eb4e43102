"""Exports read by several export test modules, each built once per pytest session.

An export (SavedModel and `.tflite`) costs seconds of CPU; a model whose export
two modules check the same way is exported here once and shared.
"""

import numpy as np
import pytest

from keras_seqattn.applications import AttentionSeq2Seq, Seq2SeqRNN
from keras_seqattn.export import export_model
from tests.export.export_checks import randomize, serve

PAIRS = [("forty two", "42"), ("seven", "7"), ("one hundred", "100"), ("three", "3")]
TEXTS = ["forty two", "seven", "Three hundred"]


def never_stopping_model():
    """A random AttentionSeq2Seq, and a logit bias that keeps [STOP] below every other token."""
    model = AttentionSeq2Seq.from_corpus(
        PAIRS, source_mode="character", target_mode="character", embedding_dim=8, hidden_dim=8
    )
    randomize(model)
    vocabulary = model.target_tokenizer.vocabulary_size
    biases = [w for w in model.weights if tuple(w.shape) == (vocabulary,) and "bias" in w.path]
    assert len(biases) == 1, [w.path for w in biases]  # the output projection's
    bias = np.zeros(vocabulary, "float32")
    bias[model.target_tokenizer.stop_id] = -1e9
    biases[0].assign(bias)
    return model


@pytest.fixture(scope="session")
def translation_export(tmp_path_factory):
    """A random AttentionSeq2Seq that never emits [STOP], exported (beams 2, `.tflite`), served.

    Read by test_translation_export (every signature, bad input) and
    test_long_decoding_export (generation ends at the maximum length). Random
    weights ran to the maximum length anyway; the bias makes it certain. The
    overfitted models of test_every_application_export stop before it.
    """
    model = never_stopping_model()
    out = tmp_path_factory.mktemp("translation") / "export"
    export_model(model, out, tflite=True, beam_width=2)
    with pytest.warns(UserWarning, match="truncated"):  # "Three hundred": 13 > 12
        source_ids = model.tokenize_sources(TEXTS)
    padded = np.zeros((1, model.max_source_length), "int32")
    padded[0, : source_ids.shape[1]] = source_ids[0]
    settings = dict(
        max_length=model.max_target_length,
        start_id=model.target_tokenizer.start_id,
        stop_id=model.target_tokenizer.stop_id,
    )
    with pytest.warns(UserWarning, match="truncated"):
        greedy = model.translate(TEXTS)
    with pytest.warns(UserWarning, match="truncated"):
        beam_translation = model.translate(TEXTS, beam_width=2)
    keras = {
        "greedy": greedy,
        "beam_translation": beam_translation,
        "beam": model.generate_ids(source_ids, beam_width=2, **settings),
        "padded": model.generate_ids(padded, **settings),
    }
    arrays = {
        "texts": np.array(TEXTS),
        "source_ids": source_ids,
        "float_ids": source_ids.astype("float32"),
        "too_long": np.ones((1, model.max_source_length + 1), "int32"),
        "padded": padded,
        # Not UTF-8: an invalid byte, a lone surrogate (as Python's surrogatepass writes it).
        "not_utf8": np.array(
            [b"forty two", b"forty \xff", "\ud800".encode("utf-8", "surrogatepass")]
        ),
        "no_positions": np.zeros((2, 0), "int32"),
        "no_text": np.zeros((0,), "S1"),
        "no_ids": np.zeros((0, source_ids.shape[1]), "int32"),
        "negative": np.where(source_ids > 0, -source_ids, 0).astype("int32"),
        "too_big": np.full_like(source_ids, model.source_tokenizer.vocabulary_size),
    }
    calls = [
        ("serving_default", {"text": "texts"}),
        ("beam", {"text": "texts"}),
        ("token_ids", {"source_ids": "source_ids"}),
        ("token_ids_beam", {"source_ids": "source_ids"}),
        ("attention", {"source_ids": "source_ids"}),
        ("token_ids", {"source_ids": "float_ids"}),
        ("token_ids", {"source_ids": "too_long"}),
        ("serving_default", {"text": "not_utf8"}),
        ("token_ids", {"source_ids": "no_positions"}),
        ("serving_default", {"text": "no_text"}),
        ("beam", {"text": "no_text"}),
        ("token_ids", {"source_ids": "no_ids"}),
        ("token_ids_beam", {"source_ids": "no_ids"}),
        ("attention", {"source_ids": "no_ids"}),
        ("token_ids", {"source_ids": "negative"}),
        ("token_ids", {"source_ids": "too_big"}),
    ]
    outputs, report = serve(out, arrays, calls, tflite=[("model.tflite", {"source_ids": "padded"})])
    return dict(model=model, out=out, keras=keras, outputs=outputs, report=report)


SUBWORD_PAIRS = [
    ("forty two", "zweiundvierzig"),
    ("seven hundred", "siebenhundert"),
    ("Forty-seven", "siebenundvierzig"),
    ("two hundred and seven", "zweihundertsieben"),
]


@pytest.fixture(scope="session")
def subword_export(tmp_path_factory):
    """`subword_export(mode)`: a random Seq2SeqRNN of `mode` sources and targets, exported.

    `mode` is `"word_piece"` or `"sentence_piece"`; greedy only, with `model.tflite`,
    and the model saved beside as `model.keras`. Returns a dict: `model`, `folder`
    (holding `export/` and `model.keras`) and `out` (the export). The word-piece
    export is read by test_translation_export (every signature, the LiteRT client)
    and test_odd_inputs_export (odd text through Keras, the SavedModel, the client).
    """
    exports = {}

    def get(mode):
        if mode not in exports:
            model = Seq2SeqRNN.from_corpus(
                SUBWORD_PAIRS,
                source_mode=mode,
                target_mode=mode,
                vocabulary_size=40,
                embedding_dim=8,
                hidden_dim=8,
                max_source_length=24,
            )
            randomize(model)
            folder = tmp_path_factory.mktemp(f"subword_{mode}")
            export_model(model, folder / "export", beam_width=1, tflite=True)
            model.save(folder / "model.keras")
            exports[mode] = dict(model=model, folder=folder, out=folder / "export")
        return exports[mode]

    return get
