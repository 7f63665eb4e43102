"""The remaining applications exported, and a dynamic-range quantised TFLite model.

TransformerSeq2Seq, LuongSeq2Seq (input feeding in the generation state),
RNNCaptioner (LSTM) and TransformerCaptioner go through one
parametrised check: the SavedModel, in a process that imports only TensorFlow,
and the builtins-only `.tflite`, in `ai_edge_litert`, give the Keras model's
greedy tokens exactly, and every signature answers an empty batch with empty
outputs of its dtypes and shapes. Beam search and bad input share their code
with AttentionSeq2Seq and AttentionCaptioner and are checked in their files
(the empty batch too, with Seq2SeqRNN and the ViT).

TransformerSeq2Seq's `.tflite` is the dynamic-range quantised one (one export
fewer): its greedy tokens must still be Keras's exactly. The float32 TFLite of a
TransformerSeq2Seq is checked with the converted MarianMT model
(test_marian_export.py).
"""

import numpy as np
import pytest
import tensorflow as tf

from keras_seqattn.applications import (
    LuongSeq2Seq,
    RNNCaptioner,
    TransformerCaptioner,
    TransformerSeq2Seq,
)
from keras_seqattn.export import export_model
from tests.export.export_checks import assert_builtin_ops, overfit, serve

pytestmark = pytest.mark.only_backend(
    "tensorflow", reason="exports run on the TensorFlow backend; other backends re-run it there"
)

PAIRS = [("forty two", "42"), ("seven", "7"), ("one hundred", "100"), ("three", "3")]
TEXTS = ["forty two", "seven", "one hundred", "three"]
CAPTIONS = ["seven three", "one two", "four"]


def _images():
    return np.random.default_rng(0).integers(0, 256, (3, 16, 16, 1)).astype("uint8")


def transformer_seq2seq():
    # Wide enough that the converter quantises its matrices: dynamic-range
    # quantisation leaves tensors of fewer than 1,024 elements in float32.
    model = TransformerSeq2Seq.from_corpus(
        PAIRS,
        source_mode="character",
        target_mode="character",
        dropout=0.0,
        hidden_dim=32,
        num_layers=1,
        num_heads=2,
        intermediate_dim=64,
    )
    return overfit(model, PAIRS)


def luong_seq2seq():
    model = LuongSeq2Seq.from_corpus(
        PAIRS, source_mode="character", target_mode="character", embedding_dim=8, hidden_dim=8
    )
    return overfit(model, PAIRS)


def rnn_captioner():
    pairs = list(zip(_images(), CAPTIONS))
    model = RNNCaptioner.from_corpus(
        pairs, filters=(4, 8), hidden_dim=8, embedding_dim=8, feature_dim=8, rnn_type="lstm"
    )
    return overfit(model, pairs)


def transformer_captioner():
    pairs = list(zip(_images(), CAPTIONS))
    model = TransformerCaptioner.from_corpus(
        pairs,
        patch_size=8,
        hidden_dim=8,
        num_encoder_layers=1,
        num_decoder_layers=1,
        num_heads=2,
        intermediate_dim=8,
        dropout=0.0,
    )
    return overfit(model, pairs)


def _translation_case(model):
    """Keras greedy ids, and the serving calls, of a translation model."""
    source_ids = model.tokenize_sources(TEXTS)
    # TFLite takes one zero-padded row of max_source_length ids.
    padded = np.zeros((len(TEXTS), 1, model.max_source_length), "int32")
    padded[:, 0, : source_ids.shape[1]] = source_ids
    target = model.target_tokenizer
    settings = dict(
        max_length=model.max_target_length, start_id=target.start_id, stop_id=target.stop_id
    )
    greedy = model.translate(TEXTS)
    keras = {
        "greedy": greedy,
        "padded": np.concatenate([model.generate_ids(row, **settings).ids for row in padded]),
    }
    arrays = {
        "texts": np.array(TEXTS),
        "source_ids": source_ids,
        "no_texts": np.zeros((0,), "S1"),
        "no_ids": np.zeros((0, source_ids.shape[1]), "int32"),
    }
    arrays.update({f"row{i}": row for i, row in enumerate(padded)})
    calls = [
        ("serving_default", {"text": "texts"}),
        ("token_ids", {"source_ids": "source_ids"}),
        ("attention", {"source_ids": "source_ids"}),
    ]
    empty = [
        ("serving_default", {"text": "no_texts"}),
        ("token_ids", {"source_ids": "no_ids"}),
        ("attention", {"source_ids": "no_ids"}),
    ]
    tflite = [("model.tflite", {"source_ids": f"row{i}"}) for i in range(len(TEXTS))]
    return keras, arrays, calls + empty, tflite


def _captioning_case(model):
    """Keras greedy ids, and the serving calls, of a captioner."""
    images = _images()  # the training images: the captions differ
    floats = images.astype("float32")
    greedy = model.caption(images)
    keras = {"greedy": greedy, "padded": greedy.ids}
    arrays = {
        "images": floats,
        "pngs": np.array([tf.io.encode_png(i).numpy() for i in images], dtype=object).astype(bytes),
        "no_images": floats[:0],
        "no_pngs": np.zeros((0,), "S1"),
    }
    arrays.update({f"row{i}": floats[i : i + 1] for i in range(len(floats))})
    calls = [
        ("serving_default", {"images": "images"}),
        ("image_bytes", {"image_bytes": "pngs"}),
        ("attention", {"images": "images"}),
    ]
    empty = [
        ("serving_default", {"images": "no_images"}),
        ("image_bytes", {"image_bytes": "no_pngs"}),
        ("attention", {"images": "no_images"}),
    ]
    tflite = [("model.tflite", {"images": f"row{i}"}) for i in range(len(floats))]
    return keras, arrays, calls + empty, tflite


# The applications exported and served in other files (application -> file under
# tests/export/); with `APPLICATIONS` below they must be every registered one
# (tests/test_application_lists.py).
EXPORTED_ELSEWHERE = {
    "AttentionSeq2Seq": "conftest.py",
    "Seq2SeqRNN": "conftest.py",
    "AttentionCaptioner": "test_image_export.py",
    "VisionTransformer": "test_image_export.py",
}
# name: (builder, case, signatures, attention shape after (batch, L), or None, quantize)
APPLICATIONS = {
    "TransformerSeq2Seq": (
        transformer_seq2seq,
        _translation_case,
        {"serving_default", "token_ids", "attention"},
        [2, None],  # (batch, L, heads, S)
        "dynamic",
    ),
    "LuongSeq2Seq": (
        luong_seq2seq,
        _translation_case,
        {"serving_default", "token_ids", "attention"},
        None,  # (batch, L, S): one map, no heads
        None,
    ),
    "RNNCaptioner": (
        rnn_captioner,
        _captioning_case,
        {"serving_default", "image_bytes"},
        None,
        None,
    ),
    "TransformerCaptioner": (
        transformer_captioner,
        _captioning_case,
        {"serving_default", "image_bytes", "attention"},
        [2, 4],  # (batch, L, heads, N): a 2x2 grid of 8x8 patches
        None,
    ),
}


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """`exports(name)`: the application exported and served, built once for the module."""
    built = {}

    def get(name):
        if name not in built:
            built[name] = _export_and_serve(name, tmp_path_factory)
        return built[name]

    return get


@pytest.fixture(params=list(APPLICATIONS))
def exported(request, exports):
    return exports(request.param)


def _export_and_serve(name, tmp_path_factory):
    build, case, signatures, attention, quantize = APPLICATIONS[name]
    model = build()
    out = tmp_path_factory.mktemp(name) / "export"
    # Greedy only: beam search is checked in the other files.
    export_model(model, out, tflite=True, quantize=quantize, beam_width=1)
    keras, arrays, calls, tflite = case(model)
    # Calls 0, 1 (and 2, attention) on real inputs; then one on an empty batch per signature.
    calls = [call for call in calls if call[0] in signatures]
    outputs, report = serve(out, arrays, calls, tflite=tflite)
    return dict(
        name=name,
        model=model,
        keras=keras,
        outputs=outputs,
        report=report,
        signatures=signatures,
        attention=attention,
        empty=[
            (i, s)
            for i, (s, inputs) in enumerate(calls)
            if next(iter(inputs.values()))[:3] == "no_"
        ],
    )


def test_signatures(exported):
    signatures = exported["report"]["signatures"]
    assert set(signatures) == exported["signatures"]
    if exported["attention"] is not None:
        model = exported["model"]
        length = getattr(model, "max_target_length", None) or model.max_caption_length
        shape = [None, length, *exported["attention"]]
        assert signatures["attention"]["outputs"]["attention"] == ["float32", shape]
    assert exported["report"]["modules"] == []  # the server never imported keras_seqattn


def test_saved_model_gives_the_greedy_tokens(exported):
    greedy, outputs = exported["keras"]["greedy"], exported["outputs"]
    assert len(set(greedy.text)) > 1, "the overfitted model should say varied things"
    for index in range(2):  # strings or float images; token ids or image bytes
        np.testing.assert_array_equal(outputs[f"{index}/ids"], greedy.ids)
        assert list(outputs[f"{index}/text"]) == greedy.text
    np.testing.assert_allclose(outputs["0/scores"], greedy.scores, rtol=1e-5, atol=1e-5)
    if exported["attention"] is not None:
        # The Transformers' signature keeps every head; Keras averages them in `attention`.
        for row, heads in enumerate(greedy.attention_heads):
            steps, _, sources = heads.shape
            served = outputs["2/attention"][row, :steps, :, :sources]
            np.testing.assert_allclose(served, heads, atol=1e-5)


def test_empty_batch_gives_empty_outputs(exported):
    """Every signature answers a batch of 0 with 0 rows of its outputs' dtypes and shapes."""
    report, outputs = exported["report"], exported["outputs"]
    assert {signature for _, signature in exported["empty"]} == exported["signatures"]
    for index, signature in exported["empty"]:
        assert f"error_{index}" not in report, report[f"error_{index}"]
        for name, (dtype, shape) in report["signatures"][signature]["outputs"].items():
            value = outputs[f"{index}/{name}"]
            assert value.shape[0] == 0 and len(value.shape) == len(shape), (signature, name)
            assert all(d in (None, v) for d, v in zip(shape[1:], value.shape[1:])), (name, shape)
            assert value.dtype.name == dtype or (dtype == "string" and value.dtype.kind == "U")


def test_tflite_gives_the_greedy_tokens(exported):
    report, outputs = exported["report"], exported["outputs"]
    expected = exported["keras"]["padded"]
    for row in range(len(expected)):
        assert_builtin_ops(report[f"tflite_ops_{row}"])
        np.testing.assert_array_equal(outputs[f"tflite_{row}/ids"], expected[row : row + 1])


def test_dynamic_quantization(exports):
    quantized = exports("TransformerSeq2Seq")
    report, outputs = quantized["report"], quantized["outputs"]
    expected = quantized["keras"]["padded"]
    assert "int8" in report["tflite_tensor_types_0"]  # the weights were quantised
    # The tolerance: identical tokens. It holds because every greedy choice of the
    # overfitted model has probability > 0.9, a margin that int8 weights (errors
    # of about a percent in the logits) cannot overturn.
    assert np.all(quantized["keras"]["greedy"].scores > np.log(0.9))
    for row in range(len(expected)):
        assert_builtin_ops(report[f"tflite_ops_{row}"])
        np.testing.assert_array_equal(outputs[f"tflite_{row}/ids"], expected[row : row + 1])
        assert np.all(outputs[f"tflite_{row}/scores"] > np.log(0.9))
    # The SavedModel is not quantised.
    np.testing.assert_array_equal(outputs["0/ids"], quantized["keras"]["greedy"].ids)
