"""Bad input on every application entry point: a clear error, or a documented handling.

Each table row is `case id -> (call, expected exception, message regex)`; the
call takes the tiny models of `_models()`. Errors are raised before any layer
is built or any generation loop traced, so the whole table runs in seconds.
"""

import functools
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_seqattn_registry
from keras_seqattn.applications import (
    AttentionCaptioner,
    AttentionSeq2Seq,
    RNNCaptioner,
    Seq2SeqRNN,
    TransformerCaptioner,
    TransformerSeq2Seq,
    VisionTransformer,
)
from keras_seqattn.text import SequenceTokenizer
from tests import signature_cases

SEQ2SEQ = dict(embedding_dim=8, hidden_dim=16, max_source_length=12, max_target_length=10)
TRANSFORMER = dict(
    hidden_dim=16, num_layers=1, num_heads=2, intermediate_dim=16, max_source_length=12
)
CAPTIONER = dict(
    image_size=(32, 32),
    filters=(8,),
    embedding_dim=8,
    hidden_dim=16,
    feature_dim=8,
    max_caption_length=6,
)
TRANSFORMER_CAPTIONER = dict(
    image_size=(32, 32), hidden_dim=16, intermediate_dim=16, max_caption_length=6
)
VIT = dict(
    image_size=32,
    patch_size=8,
    num_classes=3,
    hidden_dim=16,
    num_layers=1,
    num_heads=2,
    mlp_dim=16,
    num_channels=1,
)
IMAGE = np.zeros((1, 32, 32, 1), "uint8")
PAIRS = [("forty two", "zweiundvierzig"), ("seven", "sieben")]

# Every registered application, by class name, and the smallest good arguments
# it builds with besides its tokenizers (a new application adds its line here).
REGISTERED = {app.class_name: app for app in keras_seqattn_registry.applications().values()}
SMALL = {
    "Seq2SeqRNN": SEQ2SEQ,
    "AttentionSeq2Seq": SEQ2SEQ,
    "LuongSeq2Seq": SEQ2SEQ,
    "TransformerSeq2Seq": dict(TRANSFORMER, max_target_length=10),
    "RNNCaptioner": CAPTIONER,
    "AttentionCaptioner": CAPTIONER,
    "TransformerCaptioner": TRANSFORMER_CAPTIONER,
    "VisionTransformer": VIT,
}
TRANSLATORS = [name for name, app in REGISTERED.items() if app.task == "translation"]
CAPTIONERS = [name for name, app in REGISTERED.items() if app.task == "captioning"]


@pytest.fixture(autouse=True)
def _seeded():
    """Overrides tests/conftest.py's: seeds, but keeps the session.

    Its `clear_session()` (a full garbage collection, about 1 s with TensorFlow
    loaded) after each of the ~170 cases would cost minutes; the cases share
    the cached models below and build nothing else that lasts.
    """
    keras.utils.set_random_seed(1234)


@functools.lru_cache
def _tokenizers():
    return {
        "translation": (
            SequenceTokenizer.from_corpus([s for s, _ in PAIRS], mode="character"),
            SequenceTokenizer.from_corpus([t for _, t in PAIRS], mode="character"),
        ),
        "captioning": (SequenceTokenizer.from_corpus(["one two", "three four"]),),
        "classification": (),
    }


def _build(name, **kwargs):
    """The registered application `name`, small, with `kwargs` over `SMALL[name]`."""
    app = REGISTERED[name]
    return app.load_class()(*_tokenizers()[app.task], **{**SMALL[name], **kwargs})


@functools.lru_cache
def _models():
    (source, target), (captions,) = _tokenizers()["translation"], _tokenizers()["captioning"]
    models = {name: _build(name) for name in TRANSLATORS + CAPTIONERS}
    models["VisionTransformer"] = VisionTransformer.from_config_name(
        "vit_micro_digits", num_classes=3
    )
    return dict(models, source=source, target=target, captions=captions)


def _dataset(*columns):
    return tf.data.Dataset.from_tensor_slices(columns if len(columns) > 1 else columns[0])


def _image_with(value, dtype="float32"):
    image = np.full((1, 32, 32, 1), 10.0, dtype)
    image[0, 0, 0, 0] = value
    return image


# Every translator: `translate()`, `prepare()`.
TRANSLATE_CASES = {
    "empty_list": (lambda m: m.translate([]), ValueError, r"at least one text.*texts=\[\]"),
    "none": (lambda m: m.translate(None), TypeError, "Received: texts=None"),
    "int": (lambda m: m.translate(5), TypeError, "Received: texts=5"),
    "non_string_item": (lambda m: m.translate(["seven", 3]), TypeError, r"items \[3\]"),
    "nested_list": (lambda m: m.translate([["seven"]]), TypeError, r"items \[\['seven'\]\]"),
    "beam_width_0": (
        lambda m: m.translate("seven", beam_width=0),
        ValueError,
        "int >= 1. Received: beam_width=0$",
    ),
    "beam_width_float": (
        lambda m: m.translate("seven", beam_width=2.0),
        ValueError,
        "Received: beam_width=2.0$",
    ),
    "max_length_0": (
        lambda m: m.translate("seven", max_length=0),
        ValueError,
        "Received: max_length=0$",
    ),
    "max_length_float": (
        lambda m: m.translate("seven", max_length=5.0),
        ValueError,
        "Received: max_length=5.0$",
    ),
    "length_penalty_negative": (
        lambda m: m.translate("seven", beam_width=2, length_penalty=-1),
        ValueError,
        "Received: length_penalty=-1$",
    ),
    "length_penalty_nan": (
        lambda m: m.translate("seven", beam_width=2, length_penalty=float("nan")),
        ValueError,
        "Received: length_penalty=nan$",
    ),
    # A number written as a string is shown as one: `'0.6'`, not `0.6`.
    "length_penalty_string": (
        lambda m: m.translate("seven", beam_width=2, length_penalty="0.6"),
        ValueError,
        "`length_penalty` must be a finite number >= 0. Received: length_penalty='0.6'$",
    ),
    "max_length_string": (
        lambda m: m.translate("seven", max_length="5"),
        ValueError,
        "`max_length` must be an int >= 1. Received: max_length='5'$",
    ),
    "beam_width_string": (
        lambda m: m.translate("seven", beam_width="2"),
        ValueError,
        "Received: beam_width='2'$",
    ),
    "dict": (lambda m: m.translate({"seven": 1}), TypeError, "a mapping or set has no order"),
    "set": (lambda m: m.translate({"seven"}), TypeError, "a mapping or set"),
    "lone_surrogate": (
        lambda m: m.translate(["seven", "sev\ud800en"]),
        ValueError,
        r"text 1 is not UTF-8 from byte 3 \('\\ud800' at character 3, a lone surrogate\)",
    ),
    "bytes_not_utf8": (
        lambda m: m.translate(b"\xff\xfe 3 mai"),
        ValueError,
        r"text 0 is not UTF-8 from byte 0 \(0xff, invalid start byte\)",
    ),
    "prepare_list": (lambda m: m.prepare(PAIRS), TypeError, "Received: pairs=list$"),
    "prepare_lengths": (
        lambda m: m.prepare(_dataset(["a"], ["b"]), lengths="shortest"),
        ValueError,
        "`lengths` must be 'model' or 'longest'. Received: lengths='shortest'$",
    ),
    "prepare_feature_dicts": (
        lambda m: m.prepare(_dataset({"source": ["a"], "target": ["b"]})),
        ValueError,
        "load_translation_pairs.*Received: element_spec=",
    ),
    "prepare_triples": (
        lambda m: m.prepare(_dataset(["a"], ["b"], ["c"])),
        ValueError,
        "Received: element_spec=",
    ),
    "prepare_ints": (
        lambda m: m.prepare(_dataset([1], [2])),
        ValueError,
        "scalar strings.*Received: element_spec=",
    ),
    "prepare_batch_size_0": (
        lambda m: m.prepare(_dataset(["a"], ["b"]), batch_size=0),
        ValueError,
        "Received: batch_size=0$",
    ),
    "prepare_batch_size_str": (
        lambda m: m.prepare(_dataset(["a"], ["b"]), batch_size="8"),
        ValueError,
        "Received: batch_size='8'$",
    ),
}

# Every captioner: `caption()`, `prepare()`.
CAPTION_CASES = {
    "rank_3": (lambda m: m.caption(IMAGE[0]), ValueError, r"image\[None\].*\(32, 32, 1\)$"),
    "rank_5": (lambda m: m.caption(IMAGE[None]), ValueError, r"shape=\(1, 1, 32, 32, 1\)$"),
    "empty_batch": (lambda m: m.caption(IMAGE[:0]), ValueError, "at least one image"),
    "empty_image": (
        lambda m: m.caption(np.zeros((1, 0, 32, 1))),
        ValueError,
        r"at least 1x1 pixels. Received: images.shape=\(1, 0, 32, 1\)$",
    ),
    "two_channels": (
        lambda m: m.caption(np.zeros((1, 32, 32, 2))),
        ValueError,
        r"1 \(grey\) or 3 \(RGB\) channels. Received: images.shape=\(1, 32, 32, 2\)$",
    ),
    "four_channels": (
        lambda m: m.caption(np.zeros((1, 32, 32, 4), "uint8")),
        ValueError,
        "channels",
    ),
    "none": (lambda m: m.caption(None), TypeError, "Received: images.dtype=object$"),
    "file_name": (lambda m: m.caption("cat.png"), TypeError, "Received: images.dtype=<U7$"),
    "bool_pixels": (
        lambda m: m.caption(np.ones((1, 32, 32, 1), bool)),
        TypeError,
        "Received: images.dtype=bool$",
    ),
    "nan_pixel": (lambda m: m.caption(_image_with(np.nan)), ValueError, "1 NaN and 0 infinite"),
    "complex_pixels": (
        lambda m: m.caption(IMAGE.astype(complex)),
        TypeError,
        r"real-valued pixels \(uint8, or floats on the 0-255 scale\). "
        "Received: images.dtype=complex128$",
    ),
    "list_of_sizes_with_a_2d_image": (
        lambda m: m.caption([IMAGE[0], np.zeros((28, 28))]),
        ValueError,
        r"must hold \(height, width, channels\) images. Received: an image of shape \(28, 28\)$",
    ),
    "length_penalty_string": (
        lambda m: m.caption(IMAGE, length_penalty="0.6"),
        ValueError,
        "Received: length_penalty='0.6'$",
    ),
    "inf_pixel": (lambda m: m.caption(_image_with(np.inf)), ValueError, "0 NaN and 1 infinite"),
    "float64_pixel_beyond_float32": (  # finite as float64, infinite as the model reads it
        lambda m: m.caption(_image_with(-1e39, "float64")),
        ValueError,
        "as float32.*Received: 0 NaN and 1 infinite values$",
    ),
    "beam_width_0": (
        lambda m: m.caption(IMAGE, beam_width=0),
        ValueError,
        "Received: beam_width=0$",
    ),
    "max_length_0": (
        lambda m: m.caption(IMAGE, max_length=0),
        ValueError,
        "Received: max_length=0$",
    ),
    "prepare_list": (lambda m: m.prepare([(IMAGE[0], "one")]), TypeError, "pairs=list$"),
    "prepare_feature_dicts": (
        lambda m: m.prepare(_dataset({"image": IMAGE, "caption": ["one"]})),
        ValueError,
        "load_caption_pairs.*Received: element_spec=",
    ),
    "prepare_swapped": (
        lambda m: m.prepare(_dataset(["one"], IMAGE)),
        ValueError,
        "Received: element_spec=",
    ),
    "prepare_rank_2_images": (
        lambda m: m.prepare(_dataset(IMAGE[..., 0], ["one"])),
        ValueError,
        r"Received: image.shape=\(32, 32\)",
    ),
    "prepare_batch_size_0": (
        lambda m: m.prepare(_dataset(IMAGE, ["one"]), batch_size=0),
        ValueError,
        "Received: batch_size=0$",
    ),
}


# Constructors, named configs, `from_corpus`, and the model-specific methods.
MODEL_CASES = {
    "seq2seq_no_tokenizer": (
        lambda m: Seq2SeqRNN(None, m["target"]),
        ValueError,
        "SequenceTokenizer holding the vocabulary. Received: source_tokenizer=None$",
    ),
    "seq2seq_unadapted_keras_tokenizer": (
        lambda m: AttentionSeq2Seq(keras.layers.TextVectorization(), m["target"]),
        ValueError,
        "must be a keras_seqattn.text.SequenceTokenizer",
    ),
    "seq2seq_max_source_length_1": (
        lambda m: _build("Seq2SeqRNN", max_source_length=1),
        ValueError,
        "int >= 2. Received: max_source_length=1$",
    ),
    "bidirectional_odd_hidden_dim": (
        lambda m: _build("AttentionSeq2Seq", bidirectional=True, hidden_dim=15),
        ValueError,
        "even `hidden_dim`. Received: hidden_dim=15$",
    ),
    "score_mode_unknown": (
        lambda m: _build("AttentionSeq2Seq", score_mode="general"),
        ValueError,
        "Received: score_mode='general'$",
    ),
    "transformer_num_heads_not_dividing": (
        lambda m: _build("TransformerSeq2Seq", num_heads=3),
        ValueError,
        "must divide `hidden_dim`=16. Received: num_heads=3$",
    ),
    "transformer_share_embeddings_of_two_vocabularies": (
        lambda m: _build("TransformerSeq2Seq", share_embeddings=True),
        ValueError,
        "Received: share_embeddings=True$",
    ),
    "transformer_unknown_config": (
        lambda m: TransformerSeq2Seq.from_named_config(
            "transformer_huge", m["source"], m["target"]
        ),
        ValueError,
        r"\['transformer_base', 'transformer_big', 'transformer_small', 'transformer_tiny'\]"
        r". Received: config_name=transformer_huge$",
    ),
    "transformer_max_length_above_cache": (
        lambda m: m["TransformerSeq2Seq"].translate("seven", max_length=11),
        ValueError,
        "cannot exceed 10. Received: max_length=11$",
    ),
    "transformer_numpy_max_length_above_cache": (
        lambda m: m["TransformerSeq2Seq"].translate("seven", max_length=np.int64(11)),
        ValueError,
        "cannot exceed 10. Received: max_length=11$",
    ),
    "seq2seq_from_corpus_misspelt": (
        lambda m: AttentionSeq2Seq.from_corpus(PAIRS, source_mode="character", hiden_dim=8),
        TypeError,
        r"AttentionSeq2Seq\(\) got an unexpected keyword argument 'hiden_dim' \(did you mean "
        r"'hidden_dim'\?\)",
    ),
    "vit_misspelt": (
        lambda m: VisionTransformer(
            image_size=8,
            patch_size=4,
            num_classes=2,
            hidden_dim=8,
            num_layers=1,
            num_heads=2,
            mlp_dim=8,
            dropuot=0.1,
        ),  # fmt: skip
        TypeError,
        "unexpected keyword argument 'dropuot' \\(did you mean 'dropout'\\?\\)",
    ),
    "seq2seq_from_corpus_max_source_0": (
        lambda m: Seq2SeqRNN.from_corpus(PAIRS, source_mode="character", max_source_length=0),
        ValueError,
        "`max_source_length` must be an int >= 2. Received: max_source_length=0",
    ),
    "captioner_from_corpus_max_caption_0": (
        lambda m: RNNCaptioner.from_corpus([(IMAGE[0], "one two")], max_caption_length=0),
        ValueError,
        "max_caption_length",
    ),
    "seq2seq_from_corpus_empty": (
        lambda m: Seq2SeqRNN.from_corpus([]),
        ValueError,
        "at least one \\(source, target\\) pair",
    ),
    "seq2seq_from_corpus_none": (
        lambda m: Seq2SeqRNN.from_corpus(None),
        TypeError,
        "Received: pairs=None$",
    ),
    "seq2seq_from_corpus_string": (
        lambda m: Seq2SeqRNN.from_corpus("forty two"),
        TypeError,
        "Received: pairs='forty two'$",
    ),
    "seq2seq_from_corpus_not_pairs": (
        lambda m: Seq2SeqRNN.from_corpus([("seven",)]),
        ValueError,
        r"Received: pair=\('seven',\)$",
    ),
    "seq2seq_from_corpus_feature_dicts": (
        lambda m: Seq2SeqRNN.from_corpus(_dataset({"source": ["a"], "target": ["b"]})),
        ValueError,
        "Received: pair=",
    ),
    "seq2seq_from_corpus_non_string": (
        lambda m: Seq2SeqRNN.from_corpus([("seven", 7)]),
        TypeError,
        r"corpus of strings. Received: texts items \[7\]$",
    ),
    "seq2seq_from_corpus_blank": (
        lambda m: Seq2SeqRNN.from_corpus([("", " ")]),
        ValueError,
        "every text is empty or blank",
    ),
    "seq2seq_from_corpus_mode": (
        lambda m: Seq2SeqRNN.from_corpus(PAIRS, source_mode="bytes"),
        ValueError,
        "Received: mode='bytes'$",
    ),
    "seq2seq_from_corpus_vocabulary_size_4": (
        lambda m: TransformerSeq2Seq.from_corpus(PAIRS, vocabulary_size=4),
        ValueError,
        "int > 4.*Received: vocabulary_size=4$",
    ),
    "captioner_no_tokenizer": (
        lambda m: RNNCaptioner(None),
        ValueError,
        "Received: tokenizer=None$",
    ),
    "captioner_image_size_int": (
        lambda m: _build("AttentionCaptioner", image_size=32),
        ValueError,
        "Received: image_size=32$",
    ),
    "captioner_num_channels_2": (
        lambda m: _build("RNNCaptioner", num_channels=2),
        ValueError,
        "1 or 3. Received: num_channels=2$",
    ),
    "captioner_max_caption_length_1": (
        lambda m: _build("TransformerCaptioner", max_caption_length=1),
        ValueError,
        "Received: max_caption_length=1$",
    ),
    "captioner_filters_empty": (
        lambda m: _build("RNNCaptioner", filters=()),
        ValueError,
        r"Received: filters=\(\)$",
    ),
    "transformer_captioner_patch_not_dividing": (
        lambda m: _build("TransformerCaptioner", patch_size=5),
        ValueError,
        "Received: patch_size=5$",
    ),
    "transformer_captioner_num_heads_not_dividing": (
        lambda m: _build("TransformerCaptioner", num_heads=3),
        ValueError,
        "Received: num_heads=3$",
    ),
    "transformer_captioner_attention_layer": (
        lambda m: _build("TransformerCaptioner", attention_layer=2),
        ValueError,
        "Received: attention_layer=2$",
    ),
    "transformer_captioner_unknown_config": (
        lambda m: TransformerCaptioner.from_named_config("huge", m["captions"]),
        ValueError,
        r"\['transformer_captioner_base', 'transformer_captioner_tiny_digits'\]"
        r". Received: config_name='huge'$",
    ),
    "transformer_captioner_max_length_above_cache": (
        lambda m: m["TransformerCaptioner"].caption(IMAGE, max_length=7),
        ValueError,
        "cannot exceed 6. Received: max_length=7$",
    ),
    "captioner_from_corpus_empty": (
        lambda m: RNNCaptioner.from_corpus([]),
        ValueError,
        "at least one \\(image, caption\\) pair",
    ),
    "captioner_from_corpus_none": (
        lambda m: RNNCaptioner.from_corpus(None),
        TypeError,
        "Received: pairs=None$",
    ),
    "captioner_from_corpus_grey_without_channel_axis": (
        lambda m: AttentionCaptioner.from_corpus([(np.zeros((32, 32)), "one")]),
        ValueError,
        r"image\[\.\.\., None\].*Received: image.shape=\(32, 32\)$",
    ),
    "captioner_from_corpus_non_string": (
        lambda m: RNNCaptioner.from_corpus([(IMAGE[0], 5)]),
        TypeError,
        r"Received: captions items \[5\]$",
    ),
    "captioner_from_corpus_feature_dicts": (
        lambda m: TransformerCaptioner.from_corpus(_dataset({"image": IMAGE, "caption": ["a"]})),
        ValueError,
        "Received: element_spec=",
    ),
    "vit_unknown_config": (
        lambda m: VisionTransformer.from_config_name("vit_x99", num_classes=3),
        ValueError,
        "Known: vit_ti16, .*vit_micro_digits. Received: config_name='vit_x99'$",
    ),
    "vit_num_heads_not_dividing": (
        lambda m: _build("VisionTransformer", num_heads=3),
        ValueError,
        "Received: hidden_dim=16, num_heads=3$",
    ),
    "vit_patch_not_dividing": (
        lambda m: _build("VisionTransformer", patch_size=5),
        ValueError,
        "Received: image_size=32, patch_size=5$",
    ),
    # `predict` checks images as the captioners do, before Keras builds its function.
    "vit_predict_wrong_size": (
        lambda m: m["VisionTransformer"].predict(np.zeros((1, 28, 28, 1)), verbose=0),
        ValueError,
        r"Expected images of shape \(batch, 32, 32, 1\), the model's input; resize them first "
        r"\(e.g. `keras.ops.image.resize`\). Received: images.shape=\(1, 28, 28, 1\)$",
    ),
    "vit_predict_wrong_channels": (
        lambda m: m["VisionTransformer"].predict(np.zeros((1, 32, 32, 3)), verbose=0),
        ValueError,
        r"\(batch, 32, 32, 1\).*Received: images.shape=\(1, 32, 32, 3\)$",
    ),
    "vit_predict_nan": (
        lambda m: m["VisionTransformer"].predict(_image_with(np.nan), verbose=0),
        ValueError,
        "NaN or infinite pixels.*Received: 1 NaN and 0 infinite values$",
    ),
    "vit_predict_float64_beyond_float32": (
        lambda m: m["VisionTransformer"].predict(_image_with(1e39, "float64"), verbose=0),
        ValueError,
        "NaN or infinite pixels.*Received: 0 NaN and 1 infinite values$",
    ),
    "vit_predict_complex": (
        lambda m: m["VisionTransformer"].predict(IMAGE.astype(complex), verbose=0),
        TypeError,
        "real-valued pixels.*Received: images.dtype=complex128$",
    ),
    "vit_predict_images_of_two_sizes": (
        lambda m: m["VisionTransformer"].predict([IMAGE[0], np.zeros((28, 28, 1))], verbose=0),
        ValueError,
        r"one shape; resize them to one size first. Received: images\[0\].shape=\(32, 32, 1\), "
        r"images\[1\].shape=\(28, 28, 1\)$",
    ),
    "vit_predict_empty": (
        lambda m: m["VisionTransformer"].predict(IMAGE[:0], verbose=0),
        ValueError,
        r"at least one image. Received: images.shape=\(0, 32, 32, 1\)$",
    ),
    "vit_attention_maps_wrong_size": (
        lambda m: m["VisionTransformer"].attention_maps(np.zeros((1, 28, 28, 1))),
        ValueError,
        r"\(batch, 32, 32, 1\).*Received: images.shape=\(1, 28, 28, 1\)$",
    ),
    "vit_attention_maps_rank_3": (
        lambda m: m["VisionTransformer"].attention_maps(np.zeros((32, 32, 1))),
        ValueError,
        r"image\[None\]`. Received: images.shape=\(32, 32, 1\)$",
    ),
    "vit_attention_maps_empty": (
        lambda m: m["VisionTransformer"].attention_maps(np.zeros((0, 32, 32, 1))),
        ValueError,
        r"Received: images.shape=\(0, 32, 32, 1\)$",
    ),
    "vit_attention_maps_nan": (
        lambda m: m["VisionTransformer"].attention_maps(_image_with(np.nan)),
        ValueError,
        "Received: 1 NaN and 0 infinite values$",
    ),
    "vit_attention_maps_strings": (
        lambda m: m["VisionTransformer"].attention_maps(np.full((1, 32, 32, 1), "x")),
        TypeError,
        "Received: images.dtype=<U1$",
    ),
    "vit_attention_maps_batch_size_0": (
        lambda m: m["VisionTransformer"].attention_maps(IMAGE, batch_size=0),
        ValueError,
        "Received: batch_size=0$",
    ),
    "captioner_backbone_weights_unknown": (
        lambda m: _build("AttentionCaptioner", backbone_weights="imagenet21k"),
        ValueError,
        "Received: backbone_weights='imagenet21k'$",
    ),
    "captioner_backbone_weights_small_cnn": (
        lambda m: _build("RNNCaptioner", backbone_weights="imagenet"),
        ValueError,
        "a keras.applications `backbone`.*Received: backbone_weights='imagenet'$",
    ),
    "captioner_attention_regularization_negative": (
        lambda m: _build("AttentionCaptioner", attention_regularization=-0.5),
        ValueError,
        "finite number >= 0. Received: attention_regularization=-0.5$",
    ),
    "captioner_attention_regularization_nan": (
        lambda m: _build("AttentionCaptioner", attention_regularization=float("nan")),
        ValueError,
        "Received: attention_regularization=nan$",
    ),
    "transformer_generation_options_unknown": (
        lambda m: _build("TransformerSeq2Seq", generation_options={"beam_width": 4}),
        ValueError,
        r"Unknown generation options \['beam_width'\]",
    ),
    "transformer_generation_options_not_a_dict": (
        lambda m: _build("TransformerSeq2Seq", generation_options="power"),
        ValueError,
        "Received: generation_options='power'$",
    ),
    "transformer_generation_defaults_unknown": (
        lambda m: _build("TransformerSeq2Seq", generation_defaults={"num_beams": 4}),
        ValueError,
        r"`generation_defaults` must be a dict with some of .*Received: generation_defaults="
        r"\{'num_beams': 4\}$",
    ),
    "transformer_generation_defaults_beam_width": (
        lambda m: _build("TransformerSeq2Seq", generation_defaults={"beam_width": 0}),
        ValueError,
        r"\['beam_width'\]` must be an int >= 1. Received: generation_defaults\['beam_width'\]=0$",
    ),
    "transformer_generation_defaults_max_length": (
        lambda m: _build("TransformerSeq2Seq", generation_defaults={"max_length": 10_000}),
        ValueError,
        r"\['max_length'\]` must be at most max_target_length=.*Received: "
        r"generation_defaults\['max_length'\]=10000$",
    ),
    "transformer_generation_defaults_length_penalty": (
        lambda m: _build("TransformerSeq2Seq", generation_defaults={"length_penalty": "0.6"}),
        ValueError,
        r"must be a finite number >= 0. Received: generation_defaults\['length_penalty'\]='0.6'$",
    ),
    "vit_pixel_mean_wrong_length": (
        lambda m: _build("VisionTransformer", pixel_mean=(0.5, 0.5, 0.5)),
        ValueError,
        r"one per channel. Received: pixel_mean=\(0.5, 0.5, 0.5\)$",
    ),
    "vit_pixel_std_zero": (
        lambda m: _build("VisionTransformer", pixel_std=(0.0,)),
        ValueError,
        r"> 0 in every channel. Received: pixel_std=\(0.0,\)$",
    ),
}

CASES = [
    pytest.param(lambda m, f=call, n=name: f(m[n]), error, message, id=f"{name}-{case}")
    for name in TRANSLATORS
    for case, (call, error, message) in TRANSLATE_CASES.items()
]
CASES += [
    pytest.param(lambda m, f=call, n=name: f(m[n]), error, message, id=f"{name}-{case}")
    for name in CAPTIONERS
    for case, (call, error, message) in CAPTION_CASES.items()
]
CASES += [
    pytest.param(call, error, message, id=case)
    for case, (call, error, message) in MODEL_CASES.items()
]
# A dtype policy that is not float is refused by name before any weight is drawn
# (TensorFlow said only "Need minval < maxval").
CASES += [
    pytest.param(
        lambda m, n=name, d=dtype: _build(n, dtype=d),
        ValueError,
        f"`dtype` must be a float dtype or policy name.*Received: dtype={dtype!r}",
        id=f"{name}-dtype_{dtype}",
    )
    for name in SMALL
    for dtype in ("int32", "bool", "float32_from_nowhere")
]


@pytest.mark.parametrize("call, error, message", CASES)
def test_bad_input_raises_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call(_models())


# Constructor arguments, from the signatures (tests/signature_cases.py): every
# size, rate, flag and choice of every registered application gets the bad
# values of its kind. What a signature cannot say has its cases in MODEL_CASES:
# PARTICULAR names them.
CLASSES = {REGISTERED[name].load_class(): name for name in SMALL}
SIGNATURE_CASES = signature_cases.signature_cases(CLASSES)
PARTICULAR = {
    "source_tokenizer": ["seq2seq_no_tokenizer", "seq2seq_unadapted_keras_tokenizer"],
    "target_tokenizer": ["seq2seq_no_tokenizer"],
    "tokenizer": ["captioner_no_tokenizer"],
    "image_size": ["captioner_image_size_int", "vit_patch_not_dividing"],
    "filters": ["captioner_filters_empty"],
    "backbone_weights": ["captioner_backbone_weights_unknown"],
    "attention_regularization": ["captioner_attention_regularization_negative"],
    "attention_layer": ["transformer_captioner_attention_layer"],
    "generation_options": ["transformer_generation_options_unknown"],
    "generation_defaults": [
        "transformer_generation_defaults_unknown",
        "transformer_generation_defaults_beam_width",
        "transformer_generation_defaults_max_length",
        "transformer_generation_defaults_length_penalty",
    ],
    "pixel_mean": ["vit_pixel_mean_wrong_length"],
    "pixel_std": ["vit_pixel_std_zero"],
}


@pytest.mark.parametrize("cls, name, value", SIGNATURE_CASES)
def test_bad_constructor_argument_raises_a_clear_error(cls, name, value):
    with pytest.raises(Exception) as raised:
        _build(CLASSES[cls], **{name: value})
    signature_cases.assert_clear_refusal(raised.value, name, value)


def test_every_constructor_argument_of_every_registered_application_is_checked():
    assert set(SMALL) == set(REGISTERED), "give a new application its SMALL arguments"
    for cls, name in signature_cases.unclassified(CLASSES):
        assert set(PARTICULAR.get(name, ["-"])) <= set(MODEL_CASES), (
            f"{cls}({name}=...): give it a kind in tests/signature_cases.py, "
            "or cases of its own in MODEL_CASES, named in PARTICULAR"
        )


# Documented handling rather than errors.


@pytest.mark.parametrize("name", TRANSLATORS)
def test_unknown_empty_and_long_sources(name):
    """Unknown characters -> [UNK]; "" -> [STOP] alone; too long -> truncated, warned."""
    model = _models()[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        result = model.translate(["§eve☃", ""])
        # Alone, "" is attention over one position: no warning about that softmax.
        alone = model.translate([""], beam_width=2)
    assert result.input_tokens == [["[UNK]", "e", "v", "e", "[UNK]", "[STOP]"], ["[STOP]"]]
    assert alone.input_tokens == [["[STOP]"]] and len(alone.text) == 1
    assert len(result.text) == 2
    with pytest.warns(UserWarning, match="1 source.*max_source_length=12.*truncated"):
        result = model.translate(["forty two forty two", "seven"])
    assert len(result.input_tokens[0]) == 12 and result.input_tokens[0][-1] == "[STOP]"
    assert result.input_tokens[0][:11] == list("forty two f")


def test_rnn_decoders_have_no_length_buffer():
    """RNN models take any `max_length`: it only sizes the output."""
    result = _models()["Seq2SeqRNN"].translate("seven", max_length=25)
    assert result.ids.shape == (1, 25)


@pytest.mark.parametrize("name", CAPTIONERS)
def test_pixel_scales(name):
    """uint8 and float 0-255 pixels agree; [0, 1] or out-of-range floats warn."""
    model = _models()[name]
    images = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 1)).astype("uint8")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        expected = model.caption(images).ids
        np.testing.assert_array_equal(model.caption(images.astype("float32")).ids, expected)
    with pytest.warns(UserWarning, match="multiply by 255"):
        model.caption(images / 255.0)
    with pytest.warns(UserWarning, match="Received: pixels from min=-1 to max=1"):
        model.caption(images / 127.5 - 1.0)


@pytest.mark.parametrize("name", CAPTIONERS)
def test_a_list_of_images_of_several_sizes_is_resized_image_by_image(name):
    """As documented: each image is brought to the model's size, as `predict` of the CLI does."""
    model = _models()[name]
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (24, 40, 1), "uint8")
    rgb = rng.integers(0, 256, (32, 32, 3), "uint8")
    together = model.prepare_images([grey, rgb])
    apart = np.concatenate([model.prepare_images(grey[None]), model.prepare_images(rgb[None])])
    np.testing.assert_array_equal(together, apart)
    assert together.shape == (2, 32, 32, 1)


def test_vit_takes_uint8_and_float_pixels_alike():
    model = _models()["VisionTransformer"]
    images = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 1)).astype("uint8")
    np.testing.assert_allclose(
        model.attention_maps(images), model.attention_maps(images.astype("float32")), atol=1e-6
    )
