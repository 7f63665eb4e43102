import math

import keras
import numpy as np
import pytest
from keras import ops

from keras_seqattn import datasets
from keras_seqattn.applications import TransformerCaptioner
from keras_seqattn.applications.transformer_captioner import CONFIGS
from keras_seqattn.text import SPECIAL_TOKENS, SequenceTokenizer
from tests.applications import captioning_checks as checks
from tests.conftest import BACKEND

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# Each config at its intended image format, with a vocabulary of the special
# tokens plus `words` made-up words: the ten digits, or a COCO-sized 10000.
PINNED_FORMATS = {
    "transformer_captioner_tiny_digits": dict(image_size=(64, 64), num_channels=1, words=10),
    "transformer_captioner_base": dict(image_size=(224, 224), num_channels=3, words=9996),
}
# Exact parameter counts of the configs in PINNED_FORMATS. By hand for the tiny
# one (D = 128, d_ff = 256, 8x8 patches of one channel over a 64x64 image, so
# N = 64 cells; V = 4 special tokens + 10 digits = 14):
#   patches   8*8*1*128 + 128 = 8,320 (Conv2D) + 64*128 = 8,192 (positions)
#   encoder   2 x [4*(128*128 + 128) attention + (128*256 + 256 + 256*128 + 128)
#             MLP + 2*2*128 norms] = 2 x 132,480 = 264,960
#   decoder   2 x [2 x 66,048 attention + 65,920 MLP + 3*2*128 norms]
#             = 2 x 198,784 = 397,568
#   words     14*128 = 1,792 (tied output, sinusoidal positions: no more)
#   total     8,320 + 8,192 + 264,960 + 397,568 + 1,792 = 680,832
PARAMETER_COUNTS = {
    "transformer_captioner_tiny_digits": 680_832,
    "transformer_captioner_base": 35_039_744,
}
# Small enough for a few seconds per test: a 4x4 grid of 8x8 patches.
SMALL = dict(
    image_size=(32, 32),
    patch_size=8,
    hidden_dim=16,
    num_encoder_layers=1,
    num_decoder_layers=2,
    num_heads=4,
    intermediate_dim=32,
    dropout=0.0,
    max_caption_length=6,
)


def captioner_parameter_count(
    vocabulary,
    image_size,
    num_channels,
    patch_size,
    hidden_dim,
    num_encoder_layers,
    num_decoder_layers,
    intermediate_dim,
    normalize_first=False,
    tie_output_embedding=True,
    **unused,
):
    """The count by formula, from the two papers' description of the layers."""
    d, f, p = hidden_dim, intermediate_dim, patch_size
    cells = (image_size[0] // p) * (image_size[1] // p)
    attention = 4 * (d * d + d)  # W_q, W_k, W_v, W_o with biases
    mlp = d * f + f + f * d + d
    norm = 2 * d
    count = p * p * num_channels * d + d + cells * d  # patch projection, positions
    count += num_encoder_layers * (attention + mlp + 2 * norm)
    count += num_decoder_layers * (2 * attention + mlp + 3 * norm)
    count += vocabulary * d
    if normalize_first:
        count += 2 * norm  # the final norm of each stack
    if not tie_output_embedding:
        count += d * vocabulary + vocabulary
    return count


def _tokenizer(words):
    names = DIGITS if words == len(DIGITS) else [f"w{i}" for i in range(words)]
    return SequenceTokenizer(list(SPECIAL_TOKENS) + list(names))


def _model(**kwargs):
    return TransformerCaptioner(checks.tokenizer(), **{**SMALL, **kwargs})


def _greedy_by_recomputation(model, images, length):
    """Greedy decoding that reruns the training graph on the whole growing prefix."""
    ids = np.full((len(images), 1), model.tokenizer.start_id, "int32")
    for _ in range(length):
        logits = ops.convert_to_numpy(model({"images": images, "target_ids": ids}))
        ids = np.concatenate([ids, logits[:, -1].argmax(-1)[:, None].astype("int32")], axis=1)
    return ids[:, 1:]


def _cross_attention_by_recomputation(model, images, target_ids):
    """Every decoder block's cross-attention `(B, h, T, N)`, from the layers one by one."""
    x = model.get_layer("rescaling")(images)
    x = model.patch_encoder(x)
    for block in model.encoder_layers:
        x = block(x)
    if model.normalize_first:
        x = model.get_layer("encoder_norm")(x)
    y = model.word_embedding(target_ids) * math.sqrt(model.hidden_dim)
    y = model.get_layer("target_position")(y)
    maps = []
    for block in model.decoder_layers:
        y, _, cross = block(y, x, return_attention_scores=True)
        maps.append(ops.convert_to_numpy(cross))
    return maps


def test_every_config_has_a_pinned_parameter_count():
    assert sorted(PARAMETER_COUNTS) == sorted(CONFIGS) == sorted(PINNED_FORMATS)
    for name, config in CONFIGS.items():
        image = PINNED_FORMATS[name]
        vocabulary = len(SPECIAL_TOKENS) + image["words"]
        expected = captioner_parameter_count(vocabulary, **image, **config)
        assert PARAMETER_COUNTS[name] == expected, name


@pytest.mark.only_backend("tensorflow", reason="counts do not depend on the backend")
@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=[pytest.mark.slow] if name.endswith("_base") else [])
        for name in sorted(CONFIGS)
    ],
)
def test_named_config_parameter_count(name):
    image = dict(PINNED_FORMATS[name])
    tokenizer = _tokenizer(image.pop("words"))
    model = TransformerCaptioner.from_named_config(name, tokenizer, **image)
    assert model.count_params() == PARAMETER_COUNTS[name]
    keras.backend.clear_session(free_memory=True)


@pytest.mark.parametrize("variant", [{}, {"normalize_first": True, "tie_output_embedding": False}])
def test_parameter_count_of_variants(variant):
    model = _model(**variant)
    vocabulary = checks.tokenizer().vocabulary_size
    expected = captioner_parameter_count(vocabulary, num_channels=1, **SMALL, **variant)
    assert model.count_params() == expected


def test_output_shapes_and_causality():
    model = _model()
    images = checks.quadrant_scenes()[0][:2]
    ids = np.array([[1, 5, 6, 7, 8], [1, 6, 5, 0, 0]], "int32")
    logits = ops.convert_to_numpy(model({"images": images, "target_ids": ids}))
    assert logits.shape == (2, 5, model.tokenizer.vocabulary_size)
    assert model.grid_shape == (4, 4)
    # Changing the tokens from position 3 on leaves the logits before it alone.
    changed = ids.copy()
    changed[:, 3:] = 9
    later = ops.convert_to_numpy(model({"images": images, "target_ids": changed}))
    np.testing.assert_allclose(later[:, :3], logits[:, :3], atol=1e-5)
    assert not np.allclose(later[:, 3:], logits[:, 3:], atol=1e-3)


def _never_stop(model):
    """Makes [STOP] impossible (needs `tie_output_embedding=False`): its bias becomes -1e9."""
    bias = ops.convert_to_numpy(model.output_dense.bias).copy()
    bias[model.tokenizer.stop_id] = -1e9
    model.output_dense.bias.assign(bias)


@pytest.mark.filterwarnings("ignore:You are using a softmax")  # the 1-token prefix
@pytest.mark.parametrize("normalize_first", [False, True])
def test_cached_generation_equals_recomputation(normalize_first):
    """caption()'s cached steps equal the training graph rerun on each prefix.

    Its attention is that of block `attention_layer` (the last, or the first
    for the pre-norm model): a distribution over the 4x4 grid per head.
    """
    layer = 0 if normalize_first else -1
    model = _model(
        normalize_first=normalize_first, tie_output_embedding=False, attention_layer=layer
    )
    _never_stop(model)  # so every row runs all max_caption_length steps
    images = checks.quadrant_scenes()[0][:3]
    result = model.caption(images)
    assert result.lengths.tolist() == [6, 6, 6]
    pixels = images.astype("float32")
    np.testing.assert_array_equal(result.ids, _greedy_by_recomputation(model, pixels, 6))
    start = np.full((3, 1), model.tokenizer.start_id, "int32")
    prefix = np.concatenate([start, result.ids[:, :-1]], axis=1)  # (3, 6)
    maps = _cross_attention_by_recomputation(model, pixels, prefix)[layer]  # (3, h, 6, N)
    grid = model.caption(images, grid_attention=True)
    for row in range(3):
        heads, attention = result.attention_heads[row], result.attention[row]
        assert heads.shape == (6, 4, 16) and attention.shape == (6, 16)
        np.testing.assert_allclose(heads, maps[row].transpose(1, 0, 2), atol=1e-5)
        np.testing.assert_allclose(attention, heads.mean(1), atol=1e-6)
        np.testing.assert_allclose(heads.sum(-1), 1.0, atol=1e-5)
        assert np.all(heads >= 0)
        np.testing.assert_array_equal(grid.attention[row], attention.reshape(6, 4, 4))
        assert grid.attention_heads[row].shape == (6, 4, 4, 4)


def test_beam_search_and_plot(tmp_path):
    from keras_seqattn.visualization import plot_caption_attention

    model = _model()
    images = checks.quadrant_scenes()[0][:2]
    wide = model.caption(images, beam_width=3, length_penalty=0.6, grid_attention=True)
    assert wide.ids.shape == (2, 6) and np.all(np.isfinite(wide.scores))
    assert wide.attention[0].shape == (wide.lengths[0], 4, 4)
    path = tmp_path / "attention.png"
    plot_caption_attention(images[0], wide.attention[0], wide.output_tokens[0], path=str(path))
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_config_round_trip():
    model = _model(normalize_first=True, attention_layer=0)
    config = model.get_config()
    revived = TransformerCaptioner.from_config(config)
    assert revived.get_config() == config
    assert config["image_size"] == [32, 32] and config["attention_layer"] == 0


@pytest.mark.only_backend("tensorflow", reason="a .keras round trip per backend costs seconds")
def test_save_load_keeps_vocabulary_and_outputs(tmp_path):
    model = _model(normalize_first=True, tie_output_embedding=False)
    images = checks.quadrant_scenes()[0][:3]
    path = str(tmp_path / "model.keras")
    model.save(path)
    revived = keras.saving.load_model(path, safe_mode=True)
    expected, actual = model.caption(images), revived.caption(images)
    assert actual.text == expected.text
    for got, want in zip(actual.attention_heads, expected.attention_heads):
        np.testing.assert_allclose(got, want, atol=1e-6)
    assert revived.get_config() == model.get_config()


def test_fit_on_digit_scenes_lowers_the_loss():
    train = datasets.load_caption_pairs("digit_scenes", "train[:96]")
    model = TransformerCaptioner.from_corpus(
        train,
        patch_size=16,
        hidden_dim=32,
        num_encoder_layers=1,
        num_decoder_layers=1,
        num_heads=2,
        intermediate_dim=64,
        dropout=0.0,
        normalize_first=True,
    )
    assert model.grid_shape == (4, 4) and model.image_size == (64, 64)
    # XLA compiles the train step for minutes on a small CPU: only JAX needs it.
    model.compile(optimizer=keras.optimizers.Adam(3e-3), jit_compile=BACKEND == "jax")
    data = model.prepare(train, batch_size=32)
    before = model.evaluate(data, verbose=0, return_dict=True)["loss"]
    model.fit(data.repeat(), steps_per_epoch=30, epochs=1, verbose=0)
    after = model.evaluate(data, verbose=0, return_dict=True)["loss"]
    assert after < 0.7 * before, (before, after)


def test_bad_input():
    with pytest.raises(ValueError, match="patch_size=5"):
        _model(patch_size=5)
    with pytest.raises(ValueError, match="num_heads=3"):
        _model(num_heads=3)
    with pytest.raises(ValueError, match="num_encoder_layers=0"):
        _model(num_encoder_layers=0)
    with pytest.raises(ValueError, match="attention_layer=2"):
        _model(attention_layer=2)
    with pytest.raises(ValueError, match="image_size"):
        _model(image_size=32)
    with pytest.raises(ValueError, match="num_channels"):
        _model(num_channels=2)
    with pytest.raises(ValueError, match="tokenizer"):
        TransformerCaptioner(None)
    with pytest.raises(ValueError, match="config_name='transformer_captioner_huge'"):
        TransformerCaptioner.from_named_config("transformer_captioner_huge", checks.tokenizer())
    model = _model()
    images = checks.quadrant_scenes()[0][:1]
    with pytest.raises(ValueError, match="max_length=7"):
        model.caption(images, max_length=7)
    with pytest.raises(ValueError, match="image\\[None\\]"):
        model.caption(images[0])
