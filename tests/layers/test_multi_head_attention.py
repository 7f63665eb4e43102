"""The blocks' attention: the fused kernel whenever no scores are asked and no dropout is on.

Checked against a NumPy computation of scaled dot-product attention (Vaswani et
al., 2017, eq. 1) from the layer's own weights, with flash attention enabled
(`keras.config.enable_flash_attention()`, Keras's default) and disabled.
"""

import keras
import numpy as np
import pytest
from keras import ops

from keras_seqattn.layers import TransformerDecoder, TransformerEncoder
from keras_seqattn.layers._multi_head_attention import MultiHeadAttention
from tests.numpy_reference import softmax


@pytest.fixture(params=["flash enabled", "flash disabled"])
def flash(request):
    before = keras.config.is_flash_attention_enabled()
    _set_flash(request.param == "flash enabled")
    yield keras.config.is_flash_attention_enabled()
    _set_flash(before is not False)


def _set_flash(enabled):
    if enabled:
        keras.config.enable_flash_attention()
    else:
        keras.config.disable_flash_attention()


@pytest.fixture
def fused_calls(monkeypatch):
    """The `flash_attention` argument of each `keras.ops.dot_product_attention` call."""
    calls = []
    original = keras.ops.dot_product_attention

    def spy(*args, **kwargs):
        calls.append(kwargs.get("flash_attention"))
        return original(*args, **kwargs)

    monkeypatch.setattr(keras.ops, "dot_product_attention", spy)
    return calls


def _data(seed=0):
    rng = np.random.default_rng(seed)
    query = rng.normal(size=(2, 3, 8)).astype("float32")
    value = rng.normal(size=(2, 5, 8)).astype("float32")
    mask = np.ones((2, 3, 5), bool)
    mask[0, :, 3:] = False  # the first example has 3 real keys
    mask[1, 0, 1:] = False  # the second's first query sees one key
    return query, value, mask


def _numpy_attention(layer, query, value, mask):
    """`(outputs, weights)`: softmax(Q K^T / sqrt(d_k)) V, then the output projection."""
    weights = {w.path.split("/")[-2] + "/" + w.name: ops.convert_to_numpy(w) for w in layer.weights}

    def project(x, part):
        return np.einsum("btd,dhk->bthk", x, weights[f"{part}/kernel"]) + weights[f"{part}/bias"]

    q, k, v = project(query, "query"), project(value, "key"), project(value, "value")
    scores = np.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(q.shape[-1])
    scores = np.where(mask[:, None], scores, -np.inf)
    attention = softmax(scores)
    context = np.einsum("bhqk,bkhd->bqhd", attention, v)
    outputs = np.einsum("bqhd,hdo->bqo", context, weights["attention_output/kernel"])
    return outputs + weights["attention_output/bias"], attention


def test_fused_path_equals_the_paper_at_inference_with_dropout(flash, fused_calls):
    query, value, mask = _data()
    layer = MultiHeadAttention(num_heads=2, key_dim=4, dropout=0.3)
    outputs = layer(query, value, attention_mask=mask, training=False)
    expected, _ = _numpy_attention(layer, query, value, mask)
    np.testing.assert_allclose(ops.convert_to_numpy(outputs), expected, atol=1e-5)
    assert fused_calls == [flash]  # one fused call, with the global flash setting


def test_scores_and_active_dropout_take_the_explicit_path(flash, fused_calls):
    query, value, mask = _data(seed=1)
    layer = MultiHeadAttention(num_heads=2, key_dim=4, dropout=0.3)
    outputs, scores = layer(
        query, value, attention_mask=mask, return_attention_scores=True, training=False
    )
    expected, weights = _numpy_attention(layer, query, value, mask)
    np.testing.assert_allclose(ops.convert_to_numpy(outputs), expected, atol=1e-5)
    np.testing.assert_allclose(ops.convert_to_numpy(scores), weights, atol=1e-6)
    trained = ops.convert_to_numpy(layer(query, value, attention_mask=mask, training=True))
    assert fused_calls == []
    assert np.isfinite(trained).all() and not np.allclose(trained, expected, atol=1e-3)


def test_no_dropout_takes_the_fused_path_in_training_too(fused_calls):
    query, value, mask = _data(seed=2)
    layer = MultiHeadAttention(num_heads=2, key_dim=4)
    outputs = layer(query, value, attention_mask=mask, training=True)
    np.testing.assert_allclose(
        ops.convert_to_numpy(outputs), _numpy_attention(layer, query, value, mask)[0], atol=1e-5
    )
    assert len(fused_calls) == 1


def test_blocks_under_flash_attention_fused_without_scores_and_scores_when_asked(
    flash, fused_calls
):
    rng = np.random.default_rng(3)
    y = rng.normal(size=(2, 4, 8)).astype("float32")
    h = rng.normal(size=(2, 6, 8)).astype("float32")
    padding = np.array([[True] * 4 + [False] * 2, [True] * 6])
    encoder = TransformerEncoder(2, 16, dropout=0.1)
    decoder = TransformerDecoder(2, 16, dropout=0.1)
    encoded = encoder(h, padding_mask=padding)
    decoded = ops.convert_to_numpy(decoder(y, encoded, encoder_padding_mask=padding))
    assert fused_calls == [flash] * 3  # self-attention, then causal self- and cross-attention
    encoded_again, encoder_scores = encoder(h, padding_mask=padding, return_attention_scores=True)
    decoded_again, self_scores, cross_scores = decoder(
        y, encoded, encoder_padding_mask=padding, return_attention_scores=True
    )
    assert len(fused_calls) == 3
    np.testing.assert_allclose(
        ops.convert_to_numpy(encoded_again), ops.convert_to_numpy(encoded), atol=1e-5
    )
    np.testing.assert_allclose(ops.convert_to_numpy(decoded_again), decoded, atol=1e-5)
    assert np.all(ops.convert_to_numpy(cross_scores)[0, :, :, 4:] == 0.0)
    assert np.all(np.triu(ops.convert_to_numpy(self_scores)[1, 0], k=1) == 0.0)
    assert tuple(encoder_scores.shape) == (2, 2, 6, 6)
