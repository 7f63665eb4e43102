"""Additive (Bahdanau) attention with its learned query and key projections."""

import keras
from keras import ops

from keras_seqattn.layers._checks import (
    check_dim,
    check_dropout,
    check_floating,
    check_positive_int,
    check_rank,
    check_same_batch,
)
from keras_seqattn.layers._softmax import softmax

SCORE_MODES = ("additive", "dot", "cosine")


@keras.saving.register_keras_serializable(package="keras_seqattn")
class BahdanauAttention(keras.layers.Layer):
    """Additive attention of Bahdanau et al. (2015), with the projections it needs.

    `keras.layers.AdditiveAttention` computes `sum(v * tanh(q + k))` but has no
    learned projections, so queries and keys must already share a width. This
    layer adds them, as in the paper:

    1. Project the encoder states once per source sequence: `keys = W_k h`,
       shape `(batch, Tv, units)` (`project_keys()`; pass the result as `keys=` on
       every decoder step instead of recomputing it).
    2. Project the decoder state: `q = W_q s`, shape `(batch, Tq, units)`.
    3. Scores `e_{t,i} = v^T tanh(q_t + k_i)` (`AdditiveAttention`, whose learned
       scale is `v`), `-inf` where `padding_mask` is `False`.
    4. Weights `a_{t,i} = softmax_i(e_{t,i})`; padded positions get exactly zero,
       also in a row where every position is padding.
    5. Context `c_t = sum_i a_{t,i} h_i`, shape `(batch, Tq, value_dim)`.

    The lecture's alternatives to the MLP score are available with `score_mode`:
    `"dot"` scores `q . k / sqrt(units)` and `"cosine"` scores the cosine of `q`
    and `k` times a learned temperature (both through `keras.layers.Attention`).

    Args:
        units: int, width of the projected queries and keys.
        score_mode: one of `"additive"`, `"dot"`, `"cosine"`. Defaults to
            `"additive"`.
        dropout: float, dropout on the attention weights. Defaults to `0.0`.
        **kwargs: other keyword arguments of `keras.layers.Layer`.

    Call arguments:
        query: `(batch, query_dim)` for one decoder step, or
            `(batch, Tq, query_dim)` for several.
        value: encoder states `h`, floating-point `(batch, Tv, value_dim)`;
            `batch` may be 0. NaN or inf at a real position propagates to the
            context; at a padded position it does not (it is zeroed first).
        keys: optional precomputed `project_keys(value)`, `(batch, Tv, units)`.
        padding_mask: optional boolean `(batch, Tv)`, `True` at real source
            positions.
        training: Python boolean, dropout on when `True`.

    Returns:
        `(context, weights)`: `(batch, [Tq,] value_dim)` and `(batch, [Tq,] Tv)`,
        with the `Tq` axis present when the query had it.

    Example:

    >>> attention = BahdanauAttention(units=8)
    >>> h = np.random.rand(2, 5, 16).astype("float32")
    >>> s = np.random.rand(2, 12).astype("float32")
    >>> context, weights = attention(s, h)
    >>> tuple(context.shape), tuple(weights.shape)
    ((2, 16), (2, 5))

    Reference:
        Bahdanau, Cho, Bengio (2015), Neural Machine Translation by Jointly
        Learning to Align and Translate, section 3.1 and appendix A.1.2.
    """

    def __init__(self, units, score_mode="additive", dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        check_positive_int("units", units)
        if score_mode not in SCORE_MODES:
            raise ValueError(
                f"`score_mode` must be one of {SCORE_MODES}. Received: score_mode={score_mode!r}"
            )
        check_dropout(dropout)
        self.units = units
        self.score_mode = score_mode
        self.dropout = dropout
        self.supports_masking = False

    def build(self, query_shape, value_shape=None, keys_shape=None, padding_mask_shape=None):
        if value_shape is None:
            raise ValueError("BahdanauAttention needs a `value` input of rank 3.")
        self._check_ranks(query_shape, value_shape)
        self._query_dim, self._value_dim = query_shape[-1], value_shape[-1]
        projection = dict(use_bias=False, dtype=self.dtype_policy)
        self.query_dense = keras.layers.Dense(self.units, name="query_dense", **projection)
        self.query_dense.build(query_shape)
        self.key_dense = keras.layers.Dense(self.units, name="key_dense", **projection)
        self.key_dense.build(value_shape)
        if self.score_mode == "additive":
            self.score_layer = keras.layers.AdditiveAttention(
                use_scale=True,
                dropout=self.dropout,
                name="additive_attention",
                dtype=self.dtype_policy,
            )
        else:
            self.score_layer = keras.layers.Attention(
                use_scale=self.score_mode == "cosine",
                dropout=self.dropout,
                name=f"{self.score_mode}_attention",
                dtype=self.dtype_policy,
            )
        projected = (None, None, self.units)
        self.score_layer.build([projected, tuple(value_shape), projected])
        self.built = True

    def _check_ranks(self, query_shape, value_shape):
        if len(value_shape) != 3:
            raise ValueError(
                "`value` must have shape (batch, Tv, value_dim). "
                f"Received: value.shape={tuple(value_shape)}"
            )
        if len(query_shape) not in (2, 3):
            raise ValueError(
                "`query` must have shape (batch, query_dim) or (batch, Tq, query_dim). "
                f"Received: query.shape={tuple(query_shape)}"
            )

    def _check_value(self, value):
        check_rank("value", value, 3, "(batch, Tv, value_dim)")
        check_dim("value", value, -1, self._value_dim, "value_dim")
        check_floating("value", value)

    def check_padding_mask(self, padding_mask, value):
        """`padding_mask` is `(batch, Tv)` for `value` `(batch, Tv, value_dim)`."""
        if padding_mask is None:
            return
        length = value.shape[1]
        if len(padding_mask.shape) != 2 or (
            None not in (length, padding_mask.shape[1]) and padding_mask.shape[1] != length
        ):
            raise ValueError(
                f"`padding_mask` must have shape (batch, {length}). "
                f"Received: padding_mask.shape={tuple(padding_mask.shape)}"
            )

    def project_keys(self, value):
        """`W_k h`, computed once per source sequence: `(batch, Tv, units)`."""
        self._check_value(value)
        keys = self.key_dense(value)
        if self.score_mode == "cosine":
            keys = _l2_normalize(keys)
        return keys

    def prepare(self, value, keys=None, padding_mask=None):
        """Checks the source side once and readies it for `attend()` at every step.

        Returns `(value, keys, padding_mask)`: `keys` projected when not given,
        and, with a `padding_mask` (cast to bool), padded positions of `value`
        and `keys` zeroed: a NaN there would otherwise turn its zero weight
        into NaN. A decoder loop calls this once, not once per step.
        """
        self._check_value(value)
        self.check_padding_mask(padding_mask, value)
        if keys is None:
            keys = self.project_keys(value)
        elif len(keys.shape) != 3 or any(
            None not in (got, want) and got != want
            for got, want in zip(keys.shape[1:], (value.shape[1], self.units))
        ):
            raise ValueError(
                f"`keys` must be `project_keys(value)`, of shape (batch, {value.shape[1]}, "
                f"{self.units}). Received: keys.shape={tuple(keys.shape)}"
            )
        if padding_mask is not None:
            padding_mask = ops.cast(padding_mask, "bool")
            keep = padding_mask[:, :, None]  # (batch, Tv, 1)
            value = ops.where(keep, value, ops.zeros_like(value))
            keys = ops.where(keep, keys, ops.zeros_like(keys))
        return value, keys, padding_mask

    def attend(self, query, value, keys, padding_mask=None, training=None):
        """Steps 2-5 on the outputs of `prepare()`; no checks, for use inside loops.

        `query` is `(batch, Tq, query_dim)`. The scores come from the Keras score
        layer's own `_calculate_scores` (its variables, its formula), and the
        masked softmax is done here instead of in the layer's `call`: that one
        also multiplies the unmasked weights with `value`, a product this layer
        would throw away (it zeroes rows of padding exactly, then multiplies
        again), and re-validates its inputs on every decoder step.
        """
        queries = self.query_dense(query)  # (batch, Tq, units)
        if self.score_mode == "dot":
            queries = queries / ops.sqrt(ops.cast(self.units, queries.dtype))
        elif self.score_mode == "cosine":
            queries = _l2_normalize(queries)
        scores = self.score_layer._calculate_scores(queries, keys)  # (batch, Tq, Tv)
        dropout = None
        if training and self.dropout > 0:
            dropout = (self.dropout, self.score_layer.seed_generator)
        weights = masked_softmax(scores, padding_mask, value.dtype, dropout)
        return ops.matmul(weights, value), weights  # (batch, Tq, value_dim), (batch, Tq, Tv)

    def call(self, query, value, keys=None, padding_mask=None, training=None):
        self._check_ranks(query.shape, value.shape)
        check_dim("query", query, -1, self._query_dim, "query_dim")
        check_same_batch("query", query, "value", value)
        check_floating("query", query)
        value, keys, padding_mask = self.prepare(value, keys, padding_mask)
        single_step = len(query.shape) == 2
        if single_step:
            query = ops.expand_dims(query, 1)  # (batch, 1, query_dim)
        context, weights = self.attend(query, value, keys, padding_mask, training=training)
        if single_step:
            return ops.squeeze(context, 1), ops.squeeze(weights, 1)
        return context, weights

    def compute_output_shape(
        self, query_shape, value_shape, keys_shape=None, padding_mask_shape=None
    ):
        prefix = tuple(query_shape[:-1])
        return prefix + (value_shape[-1],), prefix + (value_shape[1],)

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, score_mode=self.score_mode, dropout=self.dropout)
        return config


def _l2_normalize(x):
    return x / ops.sqrt(ops.maximum(ops.sum(ops.square(x), axis=-1, keepdims=True), 1e-12))


def masked_softmax(scores, padding_mask, dtype, dropout=None):
    """Attention weights `(batch, Tq, Tv)` from `scores`, exactly 0 on padding.

    In float32 under a mixed precision policy too: a float16 score minus a bias
    large enough to mask overflows to -inf. `dropout` is `(rate, seed
    generator)` or `None`; the weights come back in `dtype`.
    """
    scores = ops.cast(scores, "float32")
    if padding_mask is not None:
        # As keras.layers.Attention masks: a large negative bias, so exp() gives
        # padding exactly 0.
        scores = ops.where(padding_mask[:, None, :], scores, scores - 1.0e9)
    weights = softmax(scores)
    if dropout is not None:
        weights = keras.random.dropout(weights, dropout[0], seed=dropout[1])
    if padding_mask is not None:
        # A row with no real position would spread its mass over padding.
        weights = weights * ops.cast(padding_mask[:, None, :], weights.dtype)
    return ops.cast(weights, dtype)
