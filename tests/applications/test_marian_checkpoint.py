"""TransformerSeq2Seq.from_pretrained on a MarianMT directory, against transformers itself.

The directory is built here (no network): two SentencePiece unigram models,
`vocab.json`, `tokenizer_config.json` and a tiny `MarianMTModel`
(`tests/applications/marian_reference.py`). transformers and torch are the
independent reference; the loader itself uses neither.
"""

import json
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_seqattn.applications import TransformerSeq2Seq
from keras_seqattn.text import MarianTokenizer
from tests.applications.marian_reference import (
    SOURCE_SENTENCES,
    make_marian_directory,
    reference_logits,
)

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

# A character of neither language ("€"), a target-language code of multilingual
# OPUS-MT models (">>de<<", one token, here unknown) and an empty source among them.
TEXTS = SOURCE_SENTENCES + ["two hundred", ">>de<< ninety-nine", "", "zero €"]
MAX_NEW_TOKENS = 12


# `marian_dir`, `marian_reference` and `marian_model` are session fixtures of
# tests/applications/conftest.py, shared with test_marian_generation_config.py.
@pytest.fixture
def reference(marian_reference):
    return marian_reference


@pytest.fixture
def model(marian_model):
    return marian_model


def _generate(reference, texts, **settings):
    tokenizer, hf_model = reference
    batch = tokenizer(texts, return_tensors="pt", padding=True)
    with torch.no_grad():
        out = hf_model.generate(**batch, do_sample=False, max_new_tokens=MAX_NEW_TOKENS, **settings)
    return out.numpy(), tokenizer.batch_decode(out, skip_special_tokens=True)


def _assert_same_ids(ours, theirs, pad_id):
    """transformers' ids start with the decoder start and end at the batch's longest row."""
    theirs = theirs[:, 1:]
    np.testing.assert_array_equal(ours[:, : theirs.shape[1]], theirs)
    assert (ours[:, theirs.shape[1] :] == pad_id).all()


def test_source_ids_equal_marian_tokenizer(model, reference):
    tokenizer, _ = reference
    theirs = tokenizer(TEXTS, return_tensors="np", padding=True)["input_ids"]
    ours = model.tokenize_sources(TEXTS)
    np.testing.assert_array_equal(ours, theirs)
    assert model.source_tokenizer.oov_id in ours[-1]  # "€" is in no piece
    assert model.target_tokenizer.start_id == reference[1].config.decoder_start_token_id


# Literal special tokens are those ids for MarianTokenizer (it splits on them), and
# each part between them is encoded alone, with its own language code.
SPECIAL_TEXTS = [
    "seven </s> two",
    "seven</s>two<unk>",
    "<pad>forty-two <pad>",
    " </s> ",
    "a</s>",
    "</s>>>de<< seven",
    "seven</S> <s>",
    "<unk><unk>",
    "seven\x00two",  # NUL (our chunks' separator, escaped): a character as any other
    "\x00</s>\x00",
    "seven\x01\x03two\x01\x02",  # the escape's own characters
]


def test_literal_special_tokens_equal_marian_tokenizer(model, reference):
    theirs = reference[0](SPECIAL_TEXTS, return_tensors="np", padding=True)["input_ids"]
    ours = model.tokenize_sources(SPECIAL_TEXTS)
    np.testing.assert_array_equal(ours, theirs)
    assert (ours[0, :2] == [ours[0, 0], model.source_tokenizer.stop_id]).all()


def test_logits_equal_transformers(model, reference):
    _, hf_model = reference
    tokenizer = model.target_tokenizer
    source_ids = model.tokenize_sources(TEXTS)
    targets = np.random.default_rng(0).integers(0, tokenizer.vocabulary_size, (len(TEXTS), 9))
    targets[:, 0] = tokenizer.start_id
    theirs = reference_logits(hf_model, source_ids, targets, tokenizer.pad_id)
    ours = model.predict_on_batch({"source_ids": source_ids, "target_ids": targets.astype("int32")})
    np.testing.assert_allclose(keras.ops.convert_to_numpy(ours), theirs, atol=1e-4, rtol=0)


def test_unshared_untied_checkpoint_logits(tmp_path_factory):
    # share_encoder_decoder_embeddings=False and tie_word_embeddings=False: three
    # matrices (source, target, lm_head) and the bias of an untied output layer.
    path = tmp_path_factory.mktemp("opus-mt-untied")
    make_marian_directory(path, share_encoder_decoder_embeddings=False, tie_word_embeddings=False)
    hf_model = transformers.MarianMTModel.from_pretrained(path).eval()
    model = TransformerSeq2Seq.from_pretrained(path, max_source_length=32, max_target_length=32)
    assert not model.share_embeddings and not model.tie_output_embedding
    source_ids = model.tokenize_sources(TEXTS)
    targets = np.full((len(TEXTS), 5), model.target_tokenizer.start_id)
    targets[:, 1:] = np.random.default_rng(1).integers(0, 50, (len(TEXTS), 4))
    theirs = reference_logits(hf_model, source_ids, targets, model.source_tokenizer.pad_id)
    ours = model.predict_on_batch({"source_ids": source_ids, "target_ids": targets.astype("int32")})
    np.testing.assert_allclose(keras.ops.convert_to_numpy(ours), theirs, atol=1e-4, rtol=0)


def test_greedy_translation_equals_generate(model, reference):
    ids, texts = _generate(reference, TEXTS, num_beams=1)
    result = model.translate(TEXTS, max_length=MAX_NEW_TOKENS, beam_width=1)
    _assert_same_ids(result.ids, ids, model.target_tokenizer.pad_id)
    assert result.text == texts
    # The cross-attention to draw: one row per output piece, one column per source piece.
    for attention, inputs, outputs in zip(
        result.attention, result.input_tokens, result.output_tokens
    ):
        assert attention.shape == (len(outputs), len(inputs))
        np.testing.assert_allclose(attention.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize(
    "num_beams, length_penalty, early_stopping",
    [(4, 1.0, False), (3, 0.6, True), (4, 2.0, "never")],
)
def test_beam_translation_equals_generate(
    model, reference, num_beams, length_penalty, early_stopping
):
    settings = dict(num_beams=num_beams, length_penalty=length_penalty)
    ids, texts = _generate(reference, TEXTS, early_stopping=early_stopping, **settings)
    if early_stopping is not False:
        config = model.get_config()
        config["generation_options"]["early_stopping"] = early_stopping
        rebuilt = TransformerSeq2Seq.from_config(config)
        rebuilt.set_weights(model.get_weights())
        model = rebuilt
    result = model.translate(
        TEXTS, max_length=MAX_NEW_TOKENS, beam_width=num_beams, length_penalty=length_penalty
    )
    _assert_same_ids(result.ids, ids, model.target_tokenizer.pad_id)
    assert result.text == texts


def test_fine_tuning_loss_equals_transformers(model, reference):
    # prepare() frames targets as Marian does (shift_tokens_right: <pad> first) and the
    # default loss ignores <pad>, not id 0 (</s>, which must be learned).
    _, hf_model = reference
    pairs = [("seven", "sieben"), ("forty-two", "zweiundvierzig"), ("two hundred", "zweihundert")]
    trained = TransformerSeq2Seq.from_config(model.get_config())  # the fixture stays uncompiled
    trained.set_weights(model.get_weights())
    trained.compile()
    model = trained
    pairs = tf.data.Dataset.from_tensor_slices(tuple(map(list, zip(*pairs))))
    inputs, labels = next(iter(model.prepare(pairs, batch_size=3, lengths="longest")))
    source, labels = np.asarray(inputs["source_ids"]), np.asarray(labels)
    pad = model.target_tokenizer.pad_id
    target = torch.tensor(np.where(labels == pad, -100, labels).astype("int64"))
    with torch.no_grad():
        theirs = hf_model(
            input_ids=torch.tensor(source.astype("int64")),
            attention_mask=torch.tensor((source != pad).astype("int64")),
            labels=target,
        ).loss.item()
    assert (np.asarray(inputs["target_ids"])[:, 0] == pad).all()  # the decoder start
    logits = model.predict_on_batch({k: np.asarray(v) for k, v in inputs.items()})
    ours = float(keras.ops.convert_to_numpy(model.loss(labels, logits)))
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)


def test_checkpoint_generation_settings(model):
    options = model.generation_options
    assert options["suppressed_ids"] == (model.target_tokenizer.pad_id,)
    assert options["force_stop_at_end"] and options["finished_beams"] == "apart"
    # max_length 64 counts the decoder start; the cache (max_target_length=32) caps it.
    assert model.generation_defaults == dict(beam_width=4, length_penalty=1.0, max_length=32)
    assert loaded_defaults(model) == model.generation_defaults


def loaded_defaults(model):
    return TransformerSeq2Seq.from_config(model.get_config()).generation_defaults


def test_config_round_trip_and_keras_file(model, tmp_path):
    config = model.get_config()
    rebuilt = TransformerSeq2Seq.from_config(config)
    assert rebuilt.get_config() == config
    assert isinstance(rebuilt.source_tokenizer, MarianTokenizer)
    model.save(tmp_path / "marian.keras")
    loaded = keras.saving.load_model(tmp_path / "marian.keras")
    # The checkpoint's num_beams=4 and length_penalty 1.0, compiled by the beam test.
    expected = model.translate(TEXTS, max_length=MAX_NEW_TOKENS)
    got = loaded.translate(TEXTS, max_length=MAX_NEW_TOKENS)
    np.testing.assert_array_equal(got.ids, expected.ids)
    assert got.text == expected.text


def _edited_copy(marian_dir, tmp_path, edit, name="config.json"):
    copy = tmp_path / "edited"
    shutil.copytree(marian_dir, copy)
    config = json.loads((copy / name).read_text())
    edit(config)
    (copy / name).write_text(json.dumps(config))
    return copy


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c.update(normalize_before=True), "normalize_before=True"),
        (lambda c: c.update(add_bias_logits=True), "add_bias_logits=True"),
        (lambda c: c.update(activation_function="tanh"), "activation_function='tanh'"),
        (lambda c: c.update(vocab_size=c["vocab_size"] + 1), "vocab_size="),
        (lambda c: c.update(decoder_start_token_id=0), "decoder_start_token_id=0"),
        (lambda c: c.update(decoder_layers=3), "decoder_layers=3"),
        (lambda c: c.update(model_type="bart"), "model_type='bart'"),
    ],
)
def test_unrepresentable_configs_are_refused_by_key(marian_dir, tmp_path, edit, message):
    path = _edited_copy(marian_dir, tmp_path, edit)
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        TransformerSeq2Seq.from_pretrained(path)


def test_incomplete_directory_is_refused(marian_dir, tmp_path):
    copy = tmp_path / "partial"
    shutil.copytree(marian_dir, copy)
    (copy / "target.spm").unlink()
    with pytest.raises(ValueError, match=r"\['target.spm'\] are missing"):
        TransformerSeq2Seq.from_pretrained(copy)
