"""What the Transformer encoder and decoder blocks share: settings, sublayers, residuals."""

import keras
from keras import ops

from keras_seqattn.layers._checks import (
    as_bool,
    check_dropout,
    check_positive_int,
    check_positive_number,
    get_activation,
)
from keras_seqattn.layers._flat_einsum_dense import flatten_projections
from keras_seqattn.layers._multi_head_attention import MultiHeadAttention


class TransformerBlock(keras.layers.Layer):
    """Base of `TransformerEncoder` and `TransformerDecoder`.

    Holds the constructor arguments both take, builds the sublayers each
    attention or MLP part needs (`{part}_norm`, `{part}_dropout`, the MLP's two
    `Dense`s), and wraps a part in its residual connection with the norm before
    (`normalize_first`) or after it.
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
        super().__init__(**kwargs)
        check_positive_int("num_heads", num_heads)
        check_positive_int("intermediate_dim", intermediate_dim)
        if key_dim is not None:
            check_positive_int("key_dim", key_dim)
        check_dropout(dropout)
        check_positive_number("layer_norm_epsilon", layer_norm_epsilon)
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.activation = get_activation(activation)
        self.layer_norm_epsilon = layer_norm_epsilon
        self.normalize_first = as_bool("normalize_first", normalize_first)
        self.key_dim = key_dim

    def _build_attention(self, part, query_shape, value_shape, key_dim):
        """`{part}` (MultiHeadAttention), `{part}_norm` and `{part}_dropout`."""
        attention = MultiHeadAttention(
            num_heads=self.num_heads,
            key_dim=key_dim,
            dropout=self.dropout,
            name=part,
            dtype=self.dtype_policy,
        )
        attention.build(query_shape, value_shape)
        setattr(self, part, flatten_projections(attention))  # faster on TF; see there
        self._build_norm_and_dropout(part, query_shape)

    def _build_mlp(self, inputs_shape):
        """`mlp_intermediate`, `mlp_output`, `mlp_norm` and `mlp_dropout`."""
        self.mlp_intermediate = keras.layers.Dense(
            self.intermediate_dim,
            activation=self.activation,
            name="mlp_intermediate",
            dtype=self.dtype_policy,
        )
        self.mlp_intermediate.build(inputs_shape)
        self.mlp_output = keras.layers.Dense(
            inputs_shape[-1], name="mlp_output", dtype=self.dtype_policy
        )
        self.mlp_output.build(tuple(inputs_shape[:-1]) + (self.intermediate_dim,))
        self._build_norm_and_dropout("mlp", inputs_shape)

    def _build_norm_and_dropout(self, part, inputs_shape):
        norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, name=f"{part}_norm", dtype=self.dtype_policy
        )
        norm.build(inputs_shape)
        setattr(self, f"{part}_norm", norm)
        dropout = keras.layers.Dropout(
            self.dropout, name=f"{part}_dropout", dtype=self.dtype_policy
        )
        setattr(self, f"{part}_dropout", dropout)

    def _attend(self, part, query, value, mask, return_attention_scores, training):
        """`(outputs, scores)` of the `{part}` attention; `scores` is `None` unless asked.

        Asking for the scores computes attention op by op, and so does training
        with dropout; otherwise `ops.dot_product_attention`, the backend's fused
        kernel, runs (flash attention where the backend and the inputs allow;
        see `_multi_head_attention`).
        """
        attention = getattr(self, part)
        if return_attention_scores:
            return attention(
                query=query,
                value=value,
                attention_mask=mask,
                return_attention_scores=True,
                training=training,
            )
        return attention(query=query, value=value, attention_mask=mask, training=training), None

    def _residual(self, part, x, sublayer, training):
        """`norm(x + f(x))` (post-norm) or `x + f(norm(x))` (pre-norm).

        `sublayer(x)` returns `(output, scores)`; `scores` is passed through.
        """
        norm, dropout = getattr(self, f"{part}_norm"), getattr(self, f"{part}_dropout")
        residual = x
        if self.normalize_first:
            x = norm(x)
        x, scores = sublayer(x)
        x = residual + dropout(x, training=training)
        if not self.normalize_first:
            x = norm(x)
        return x, scores

    def _mlp(self, x, training):
        x, _ = self._residual(
            "mlp", x, lambda x: (self.mlp_output(self.mlp_intermediate(x)), None), training
        )
        return x

    def get_config(self):
        config = super().get_config()
        config.update(
            num_heads=self.num_heads,
            intermediate_dim=self.intermediate_dim,
            dropout=self.dropout,
            activation=keras.activations.serialize(self.activation),
            layer_norm_epsilon=self.layer_norm_epsilon,
            normalize_first=self.normalize_first,
            key_dim=self.key_dim,
        )
        return config


def head_dim(hidden_dim, num_heads, key_dim=None):
    """`key_dim`, or `hidden_dim // num_heads` when that divides evenly."""
    if key_dim is not None:
        return key_dim
    if hidden_dim is None or hidden_dim % num_heads:
        raise ValueError(
            f"`num_heads` must divide the hidden width {hidden_dim} when `key_dim` is "
            f"not given. Received: num_heads={num_heads!r}"
        )
    return hidden_dim // num_heads


def zero_padding(sequence, padding_mask):
    """`sequence` `(B, S, D)` with its padded positions set to 0.

    Padded keys and values get zero attention weight, but `0 * NaN` is NaN and
    a masked softmax adds its large negative number to a NaN score: zeroing
    them first keeps NaN or inf padding out of the outputs at real positions.
    """
    if padding_mask is None:
        return sequence
    keep = ops.cast(padding_mask, "bool")[:, :, None]  # (B, S, 1)
    return ops.where(keep, sequence, ops.zeros_like(sequence))


def merge_padding_and_attention_mask(
    inputs, padding_mask, attention_mask, padding_mask_name="padding_mask"
):
    """One boolean `(B, T, S)` mask from a `(B, S)` padding mask and a `(B, T, S)` mask.

    `inputs` is the query sequence, `(B, T, D)`; with no `attention_mask` the
    keys are the same sequence (`S = T`).
    """
    length = inputs.shape[1]
    mask = None
    if padding_mask is not None:
        if len(padding_mask.shape) != 2 or not _same_dim(padding_mask.shape[1], length):
            raise ValueError(
                f"`{padding_mask_name}` must have shape (batch, {length}). "
                f"Received: {padding_mask_name}.shape={tuple(padding_mask.shape)}"
            )
        mask = ops.cast(padding_mask, "bool")[:, None, :]  # (B, 1, T)
    if attention_mask is not None:
        shape = attention_mask.shape
        if len(shape) != 3 or not (_same_dim(shape[1], length) and _same_dim(shape[2], length)):
            raise ValueError(
                f"`attention_mask` must have shape (batch, {length}, {length}). "
                f"Received: attention_mask.shape={tuple(attention_mask.shape)}"
            )
        attention_mask = ops.cast(attention_mask, "bool")
        mask = attention_mask if mask is None else ops.logical_and(mask, attention_mask)
    return mask


def _same_dim(a, b):
    return a is None or b is None or a == b
