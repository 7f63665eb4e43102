"""Properties of the attention layers over random shapes, masks and data (hypothesis).

- attention rows sum to 1 over the real keys, and padded keys get exactly 0;
- outputs at real positions do not change when padding is appended;
- the encoder block, which has no positions, is permutation-equivariant;
- the decoder is causal: position `t` never reads a target token after `t`;
- `PositionalEncoding` of a slice at `start_index` is the slice of the encoding;
- `PatchEncoder` is local: a pixel changes its own patch's vector only.

Sizes are small and drawn from few values, layers are built once per
configuration and reused, and under JAX each layer call is one `jax.jit`
program: JAX compiles every eager op once per shape, which would make each new
shape cost seconds.
"""

import functools

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from keras import ops

from keras_seqattn import layers as L

ATOL = 1e-5
SETTINGS = settings(max_examples=15, deadline=None, derandomize=True)

batches = st.sampled_from([1, 3])
lengths = st.sampled_from([1, 4])
seeds = st.integers(0, 2**16)
widths = st.sampled_from([(1, 4), (2, 8)])  # (num_heads, hidden_dim)
EXTRA = 2  # padded positions appended


@pytest.fixture(autouse=True)
def _seeded():
    """Overrides the conftest's: layers are cached across tests of this file."""
    keras.utils.set_random_seed(1234)


@pytest.fixture(autouse=True, scope="module")
def _clear_session_once():
    yield
    _layer.cache_clear()
    _compiled.cache_clear()
    keras.backend.clear_session()


@functools.cache
def _layer(cls, **kwargs):
    """One layer per configuration, for every example that uses it."""
    return getattr(L, cls)(**kwargs)


@functools.cache
def _compiled(layer):
    import jax

    return jax.jit(layer.__call__, static_argnames=("return_attention_scores",))


def _run(layer, *args, **kwargs):
    """`layer(*args, **kwargs)`; under JAX, once built, as one compiled program."""
    if keras.backend.backend() != "jax" or not layer.built:
        return layer(*args, **kwargs)
    return _compiled(layer)(*args, **kwargs)


def _np(x):
    return np.asarray(ops.convert_to_numpy(x))


def _data(seed, *shape):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _mask(seed, batch, length, prefix=True):
    """Boolean `(batch, length)` with at least one `True` per row.

    `prefix=True` gives real tokens then padding; otherwise any pattern.
    """
    rng = np.random.default_rng(seed + 1)
    if prefix:
        real = rng.integers(1, length + 1, size=(batch, 1))
        return np.arange(length)[None] < real
    mask = rng.random((batch, length)) < 0.6
    mask[np.arange(batch), rng.integers(0, length, size=batch)] = True
    return mask


def _check_weights(weights, key_mask):
    """Rows sum to 1; keys where `key_mask` (broadcast to `weights`) is False get 0."""
    key_mask = np.broadcast_to(key_mask, weights.shape)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=ATOL)
    assert np.all(weights[~key_mask] == 0.0)


@SETTINGS
@given(batches, lengths, widths, seeds, st.booleans())
def test_encoder_weights_and_padding(batch, length, width, seed, normalize_first):
    num_heads, dim = width
    encoder = _layer(
        "TransformerEncoder",
        num_heads=num_heads,
        intermediate_dim=8,
        normalize_first=normalize_first,
    )
    x, mask = _data(seed, batch, length, dim), _mask(seed, batch, length)
    outputs, scores = _run(encoder, x, padding_mask=mask, return_attention_scores=True)
    _check_weights(_np(scores), mask[:, None, None, :])  # (B, h, T, T)

    # Appending padding of any value changes nothing at the real positions.
    padded = np.concatenate([x, _data(seed + 2, batch, EXTRA, dim) * 1e3], axis=1)
    padded_mask = np.concatenate([mask, np.zeros((batch, EXTRA), bool)], axis=1)
    again = _np(_run(encoder, padded, padding_mask=padded_mask))[:, :length]
    np.testing.assert_allclose(again[mask], _np(outputs)[mask], atol=ATOL)


@SETTINGS
@given(batches, lengths, widths, seeds)
def test_encoder_is_permutation_equivariant(batch, length, width, seed):
    num_heads, dim = width
    encoder = _layer("TransformerEncoder", num_heads=num_heads, intermediate_dim=8)
    x, mask = _data(seed, batch, length, dim), _mask(seed, batch, length, prefix=False)
    order = np.random.default_rng(seed).permutation(length)
    outputs = _np(_run(encoder, x, padding_mask=mask))
    permuted = _np(_run(encoder, x[:, order], padding_mask=mask[:, order]))
    np.testing.assert_allclose(permuted, outputs[:, order], atol=ATOL)


@SETTINGS
@given(batches, lengths, lengths, widths, seeds)
def test_decoder_weights_and_causality(batch, target, source, width, seed):
    num_heads, dim = width
    decoder = _layer("TransformerDecoder", num_heads=num_heads, intermediate_dim=8)
    y, h = _data(seed, batch, target, dim), _data(seed + 3, batch, source, dim)
    target_mask, source_mask = _mask(seed, batch, target), _mask(seed + 4, batch, source)
    outputs, self_scores, cross_scores = _run(
        decoder,
        y,
        h,
        decoder_padding_mask=target_mask,
        encoder_padding_mask=source_mask,
        return_attention_scores=True,
    )
    causal = np.tril(np.ones((target, target), bool))
    _check_weights(_np(self_scores), target_mask[:, None, None, :] & causal)  # (B, h, T, T)
    _check_weights(_np(cross_scores), source_mask[:, None, None, :])  # (B, h, T, S)

    # Changing the tokens after `t` leaves positions `<= t` as they were.
    t = seed % target
    changed = y.copy()
    changed[:, t + 1 :] = _data(seed + 5, batch, target - t - 1, dim)
    np.testing.assert_allclose(
        _np(_run(decoder, changed, h))[:, : t + 1], _np(_run(decoder, y, h))[:, : t + 1], atol=ATOL
    )

    # Appending source padding changes nothing.
    padded = np.concatenate([h, _data(seed + 6, batch, EXTRA, dim) * 1e3], axis=1)
    padded_mask = np.concatenate([source_mask, np.zeros((batch, EXTRA), bool)], axis=1)
    again = _run(
        decoder, y, padded, decoder_padding_mask=target_mask, encoder_padding_mask=padded_mask
    )
    np.testing.assert_allclose(_np(again)[target_mask], _np(outputs)[target_mask], atol=ATOL)


@SETTINGS
@given(batches, lengths, seeds, st.sampled_from(["additive", "dot", "cosine"]), st.booleans())
def test_bahdanau_weights_padding_and_order(batch, length, seed, score_mode, single_step):
    attention = _layer("BahdanauAttention", units=4, score_mode=score_mode)
    query_shape = (batch, 3) if single_step else (batch, 2, 3)
    query, value = _data(seed, *query_shape), _data(seed + 1, batch, length, 4)
    mask = _mask(seed, batch, length, prefix=False)
    context, weights = _run(attention, query, value, padding_mask=mask)
    key_mask = mask if single_step else mask[:, None, :]
    _check_weights(_np(weights), key_mask)

    # Padding appended, or the source positions permuted: the same context.
    padded = np.concatenate([value, _data(seed + 2, batch, EXTRA, 4) * 1e3], axis=1)
    padded_mask = np.concatenate([mask, np.zeros((batch, EXTRA), bool)], axis=1)
    again, _ = _run(attention, query, padded, padding_mask=padded_mask)
    np.testing.assert_allclose(_np(again), _np(context), atol=ATOL)
    order = np.random.default_rng(seed).permutation(length)
    permuted_context, permuted_weights = _run(
        attention, query, value[:, order], padding_mask=mask[:, order]
    )
    np.testing.assert_allclose(_np(permuted_context), _np(context), atol=ATOL)
    np.testing.assert_allclose(_np(permuted_weights), _np(weights)[..., order], atol=ATOL)


@settings(max_examples=8, deadline=None, derandomize=True)
@given(batches, st.sampled_from([1, 3]), lengths, seeds)
def test_attention_rnn_decoder_weights(batch, steps, source, seed):
    decoder = _layer("AttentionRNNDecoder", vocabulary_size=10, embedding_dim=4, units=4)
    token_ids = np.random.default_rng(seed).integers(0, 10, size=(batch, steps))
    values, mask = _data(seed, batch, source, 6), _mask(seed, batch, source, prefix=False)
    state = (_data(seed + 1, batch, 4),)
    _, weights = _run(decoder, token_ids, state, values, padding_mask=mask)
    _check_weights(_np(weights), mask[:, None, :])  # (B, T, S)


@SETTINGS
@given(batches, st.sampled_from([1, 3, 8]), seeds, st.sampled_from(["sinusoidal", "learned"]))
def test_positional_encoding_of_a_slice(batch, length, seed, mode):
    encoding = _layer("PositionalEncoding", sequence_length=8, mode=mode)
    x = _data(seed, batch, length, 4)
    full = _np(encoding(x))
    start = seed % length
    piece = _np(encoding(x[:, start:], start_index=start))
    np.testing.assert_allclose(piece, full[:, start:], atol=ATOL)
    # The same encoding at every batch row, and sinusoids stay within [-1, 1].
    added = full - x
    np.testing.assert_allclose(added, np.broadcast_to(added[:1], added.shape), atol=ATOL)
    if mode == "sinusoidal":
        assert np.all(np.abs(added) <= 1.0 + ATOL)


@SETTINGS
@given(st.sampled_from([(4, 2), (8, 4), (8, 2)]), st.booleans(), seeds)
def test_patch_encoder_is_local(sizes, use_class_token, seed):
    image_size, patch_size = sizes
    encoder = _layer(
        "PatchEncoder",
        image_size=image_size,
        patch_size=patch_size,
        hidden_dim=4,
        num_channels=2,
        use_class_token=use_class_token,
    )
    rng = np.random.default_rng(seed)
    images = rng.random((2, image_size, image_size, 2)).astype("float32")
    row, col = rng.integers(0, image_size, size=2)
    changed = images.copy()
    changed[:, row, col] += 1.0
    before, after = _np(encoder(images)), _np(encoder(changed))
    grid = image_size // patch_size
    patch = int(use_class_token) + (row // patch_size) * grid + col // patch_size
    others = np.delete(np.arange(before.shape[1]), patch)
    np.testing.assert_allclose(after[:, others], before[:, others], atol=ATOL)
    assert not np.allclose(after[:, patch], before[:, patch])
