"""One Transformer decoder block, with a fixed-size key/value cache for generation."""

import math

import keras
from keras import ops

from keras_seqattn.generation._decoding import write_step
from keras_seqattn.layers._checks import (
    check_dim,
    check_floating,
    check_rank,
    check_same_batch,
)
from keras_seqattn.layers._softmax import softmax
from keras_seqattn.layers._transformer_block import (
    TransformerBlock,
    head_dim,
    merge_padding_and_attention_mask,
    zero_padding,
)


@keras.saving.register_keras_serializable(package="keras_seqattn")
class TransformerDecoder(TransformerBlock):
    """The decoder block of Vaswani et al. (2017), section 3.1.

    1. Causal self-attention: position `t` attends to target positions `<= t`
       (and only to real ones when `decoder_padding_mask` is given).
    2. Cross-attention: the **queries are the decoder states** and the keys and
       values are the encoder outputs, so each target position reads the source.
       The lecture notes say the decoder uses the encoder's output as the query;
       that is backwards, and this layer follows the paper (section 3.2.3).
    3. A position-wise MLP, `Dense(intermediate_dim, activation)` then
       `Dense(hidden_dim)`.

    Each sublayer has dropout, a residual add and a layer norm: `x = norm(x +
    sublayer(x))` with `normalize_first=False` (the paper's post-norm), `x = x +
    sublayer(norm(x))` with `normalize_first=True` (pre-norm; the stacking model
    adds a final norm).

    Generation runs one token at a time without recomputing the prefix:
    `precompute_cross()` projects the encoder outputs to keys and values once,
    `empty_cache()` allocates the self-attention keys and values of every target
    position, and `step()` writes the new token's key and value at `index` and
    attends over cache positions `<= index`. The cache has a fixed size and is
    written with `ops.where` over a one-hot position mask, so the step has fixed
    shapes (`ops.while_loop` in JAX, TFLite with builtin ops only). The step
    reuses the projections of the two `keras.layers.MultiHeadAttention`
    sublayers through their public `query_dense`, `key_dense`, `value_dense`
    and `output_dense` properties, so training (`call()`) and generation share
    every weight; keras-hub's `CachedMultiHeadAttention` is not used because it
    updates its cache with a dynamic slice at a tensor index.

    Args:
        num_heads: int, number of attention heads.
        intermediate_dim: int, width of the MLP's hidden layer (`d_ff`).
        dropout: float, dropout on the attention weights and on each sublayer's
            output. Defaults to `0.0`.
        activation: the MLP's activation. Defaults to `"relu"`.
        layer_norm_epsilon: float, epsilon of the layer norms. Defaults to `1e-5`.
        normalize_first: bool, pre-norm when `True`, post-norm when `False`.
            Defaults to `False`.
        key_dim: int, width of each head. Defaults to `None`:
            `hidden_dim // num_heads`, which then must divide evenly.
        **kwargs: other keyword arguments of `keras.layers.Layer`.

    Call arguments:
        decoder_sequence: floating-point `(batch, T, hidden_dim)`, the
            embedded target; `batch` may be 0.
        encoder_sequence: floating-point `(batch, S, encoder_dim)`, the
            encoder outputs. NaN or inf at a padded position of either
            sequence does not reach the real positions (their keys and values
            are zeroed); at a real position it propagates, and may reach
            earlier target positions too through the masked softmax.
        decoder_padding_mask: optional boolean `(batch, T)`, `True` at real
            target positions.
        encoder_padding_mask: optional boolean `(batch, S)`, `True` at real
            source positions; padded positions get exactly zero cross-attention.
        return_attention_scores: bool, also return the attention weights.
        training: Python boolean, dropout on when `True`.

    Returns:
        `outputs`, `(batch, T, hidden_dim)`, or `(outputs, self_scores,
        cross_scores)` with `self_scores` `(batch, num_heads, T, T)` and
        `cross_scores` `(batch, num_heads, T, S)` when
        `return_attention_scores=True`.

    Example:

    >>> decoder = TransformerDecoder(num_heads=2, intermediate_dim=32)
    >>> y = np.random.rand(2, 4, 16).astype("float32")
    >>> h = np.random.rand(2, 6, 16).astype("float32")
    >>> outputs, self_scores, cross_scores = decoder(y, h, return_attention_scores=True)
    >>> tuple(outputs.shape), tuple(cross_scores.shape)
    ((2, 4, 16), (2, 2, 4, 6))

    Reference:
        Vaswani et al. (2017), Attention Is All You Need, sections 3.1-3.3.
    """

    def __init__(
        self,
        num_heads,
        intermediate_dim,
        dropout=0.0,
        activation="relu",
        layer_norm_epsilon=1e-5,
        normalize_first=False,
        key_dim=None,
        **kwargs,
    ):
        super().__init__(
            num_heads,
            intermediate_dim,
            dropout=dropout,
            activation=activation,
            layer_norm_epsilon=layer_norm_epsilon,
            normalize_first=normalize_first,
            key_dim=key_dim,
            **kwargs,
        )

    def build(self, decoder_sequence_shape, encoder_sequence_shape=None, *args, **kwargs):
        for name, shape in [
            ("decoder_sequence", decoder_sequence_shape),
            ("encoder_sequence", encoder_sequence_shape),
        ]:
            if shape is None or len(shape) != 3:
                raise ValueError(
                    f"`{name}` must have shape (batch, length, dim). "
                    f"Received: {name}.shape={None if shape is None else tuple(shape)}"
                )
        self._hidden_dim = decoder_sequence_shape[-1]
        self._encoder_dim = encoder_sequence_shape[-1]
        self._head_dim = head_dim(decoder_sequence_shape[-1], self.num_heads, self.key_dim)
        self._build_attention(
            "self_attention", decoder_sequence_shape, decoder_sequence_shape, self._head_dim
        )
        self._build_attention(
            "cross_attention", decoder_sequence_shape, encoder_sequence_shape, self._head_dim
        )
        self._build_mlp(decoder_sequence_shape)
        self.built = True

    def call(
        self,
        decoder_sequence,
        encoder_sequence,
        decoder_padding_mask=None,
        encoder_padding_mask=None,
        return_attention_scores=False,
        training=None,
    ):
        self._check_inputs(decoder_sequence, encoder_sequence)
        x = decoder_sequence
        length = ops.shape(x)[1]
        positions = ops.arange(length, dtype="int32")
        causal = ops.expand_dims(positions[:, None] >= positions[None, :], 0)  # (1, T, T)
        self_mask = merge_padding_and_attention_mask(
            x, decoder_padding_mask, None, padding_mask_name="decoder_padding_mask"
        )
        self_mask = causal if self_mask is None else ops.logical_and(self_mask, causal)
        cross_mask = _check_encoder_padding_mask(encoder_padding_mask, encoder_sequence)
        memory = zero_padding(encoder_sequence, cross_mask)  # (B, S, E)
        if cross_mask is not None:
            cross_mask = cross_mask[:, None, :]  # (B, 1, S)

        def self_attention(x):
            keys = zero_padding(x, decoder_padding_mask)  # (B, T, D)
            return self._attend(
                "self_attention", x, keys, self_mask, return_attention_scores, training
            )  # (B, T, D), (B, h, T, T) or None

        def cross_attention(x):
            return self._attend(
                "cross_attention",
                x,
                memory,
                cross_mask,
                return_attention_scores,
                training,
            )  # (B, T, D), (B, h, T, S) or None

        x, self_scores = self._residual("self_attention", x, self_attention, training)
        x, cross_scores = self._residual("cross_attention", x, cross_attention, training)
        x = self._mlp(x, training)
        if return_attention_scores:
            return x, self_scores, cross_scores
        return x

    def _check_inputs(self, decoder_sequence, encoder_sequence):
        check_rank("decoder_sequence", decoder_sequence, 3, "(batch, T, hidden_dim)")
        check_rank("encoder_sequence", encoder_sequence, 3, "(batch, S, encoder_dim)")
        check_same_batch("decoder_sequence", decoder_sequence, "encoder_sequence", encoder_sequence)
        check_dim("decoder_sequence", decoder_sequence, -1, self._hidden_dim, "hidden_dim")
        check_dim("encoder_sequence", encoder_sequence, -1, self._encoder_dim, "encoder_dim")
        check_floating("decoder_sequence", decoder_sequence)
        check_floating("encoder_sequence", encoder_sequence)

    def precompute_cross(self, encoder_sequence):
        """The cross-attention keys and values, computed once per source.

        Returns:
            `(keys, values)`, each `(batch, S, num_heads, key_dim)`.
        """
        return (
            self.cross_attention.key_dense(encoder_sequence),
            self.cross_attention.value_dense(encoder_sequence),
        )

    def empty_cache(self, batch_size, max_length):
        """Zero self-attention keys and values for `max_length` target positions.

        Returns:
            `(keys, values)`, each `(batch_size, max_length, num_heads, key_dim)`.
        """
        shape = (batch_size, max_length, self.num_heads, self._head_dim)
        return ops.zeros(shape, self.compute_dtype), ops.zeros(shape, self.compute_dtype)

    def step(self, token_state, cache, cross_kv, index, encoder_padding_mask=None):
        """Decodes the token at position `index`, given the cache of earlier ones.

        Equal to `call()` on the whole prefix at position `index`, without
        dropout.

        Args:
            token_state: `(batch, 1, hidden_dim)`, the embedded token.
            cache: `(keys, values)` from `empty_cache()` or the previous step.
            cross_kv: `(keys, values)` from `precompute_cross()`.
            index: int32 scalar tensor, the token's position.
            encoder_padding_mask: optional boolean `(batch, S)`.

        Returns:
            `(outputs, cache, cross_scores)`: `(batch, 1, hidden_dim)`, the cache
            with this token's key and value written at `index`, and the
            cross-attention weights `(batch, num_heads, S)`.
        """
        keys, values = cache
        token_state = ops.convert_to_tensor(token_state, self.compute_dtype)
        index = ops.cast(index, "int32")
        new_cache = []

        def self_attention(x):
            attention = self.self_attention
            keys_t = attention.key_dense(x)[:, 0]  # (B, h, k)
            values_t = attention.value_dense(x)[:, 0]  # (B, h, k)
            new_cache.append(write_step(keys, index, keys_t))
            new_cache.append(write_step(values, index, values_t))
            seen = ops.arange(keys.shape[1], dtype="int32") <= index  # (L,)
            mask = ops.reshape(seen, (1, 1, -1))  # (1, 1, L)
            return _attend(attention, x, new_cache[0], new_cache[1], mask)

        cross_mask = _check_encoder_padding_mask(encoder_padding_mask, cross_kv[0])
        if cross_mask is not None:
            cross_mask = cross_mask[:, None, :]  # (B, 1, S)

        def cross_attention(x):
            return _attend(self.cross_attention, x, cross_kv[0], cross_kv[1], cross_mask)

        x, _ = self._residual("self_attention", token_state, self_attention, False)
        x, cross_scores = self._residual("cross_attention", x, cross_attention, False)
        x = self._mlp(x, False)
        return x, tuple(new_cache), cross_scores[:, :, 0]  # (B, h, S)

    def compute_output_spec(
        self, decoder_sequence, encoder_sequence, *args, return_attention_scores=False, **kwargs
    ):
        outputs = keras.KerasTensor(decoder_sequence.shape, dtype=self.compute_dtype)
        if not return_attention_scores:
            return outputs
        batch, target = decoder_sequence.shape[:2]
        source = encoder_sequence.shape[1]
        return (
            outputs,
            keras.KerasTensor((batch, self.num_heads, target, target), self.compute_dtype),
            keras.KerasTensor((batch, self.num_heads, target, source), self.compute_dtype),
        )


def _check_encoder_padding_mask(mask, encoder_sequence):
    if mask is None:
        return None
    source = encoder_sequence.shape[1]
    if len(mask.shape) != 2 or (
        mask.shape[1] is not None and source is not None and mask.shape[1] != source
    ):
        raise ValueError(
            f"`encoder_padding_mask` must have shape (batch, {source}). "
            f"Received: encoder_padding_mask.shape={tuple(mask.shape)}"
        )
    return ops.cast(mask, "bool")


def _attend(attention, x, keys, values, mask):
    """Multi-head attention of `x` over projected `keys` and `values`.

    The computation of `keras.layers.MultiHeadAttention` without dropout, from
    its own projection layers; `mask` broadcasts to `(B, Tq, Tk)`.

    Returns:
        `(outputs (B, Tq, D), weights (B, h, Tq, Tk))`.
    """
    queries = attention.query_dense(x)  # (B, Tq, h, k)
    queries = queries * ops.cast(1.0 / math.sqrt(queries.shape[-1]), queries.dtype)
    scores = ops.einsum("bqhd,bkhd->bhqk", queries, keys)  # (B, h, Tq, Tk)
    # The masked softmax in float32, also under a mixed precision policy.
    scores = ops.cast(scores, "float32")
    if mask is not None:
        mask = ops.expand_dims(mask, 1)  # (B, 1, Tq, Tk)
        scores = ops.where(mask, scores, ops.cast(-1e9, "float32"))
    weights = ops.cast(softmax(scores), values.dtype)
    context = ops.einsum("bhqk,bkhd->bqhd", weights, values)  # (B, Tq, h, k)
    return attention.output_dense(context), weights
