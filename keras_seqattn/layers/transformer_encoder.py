"""One Transformer encoder block: self-attention and an MLP, each with residual + norm."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_seqattn")
class TransformerEncoder(keras.layers.Layer):
    """The encoder block of Vaswani et al. (2017), section 3.1.

    Every position attends to every (unpadded) position of the same sequence:

    1. Self-attention with `num_heads` heads (`keras.layers.MultiHeadAttention`):
       queries, keys and values are projections of the input, scores
       `softmax(Q K^T / sqrt(key_dim))`, `-inf` where `padding_mask` or
       `attention_mask` is `False`.
    2. Dropout, residual add, layer norm.
    3. A position-wise MLP, `Dense(intermediate_dim, activation)` then
       `Dense(hidden_dim)`.
    4. Dropout, residual add, layer norm.

    With `normalize_first=False` (the paper, "post-norm") each sublayer computes
    `x = norm(x + sublayer(x))`; with `normalize_first=True` ("pre-norm", the
    common variant that trains deeper stacks without warm-up) it computes
    `x = x + sublayer(norm(x))`. Pre-norm stacks need a final layer norm after the
    last block; the model that stacks the blocks adds it.

    Args:
        num_heads: int, number of attention heads.
        intermediate_dim: int, width of the MLP's hidden layer (`d_ff`).
        dropout: float, dropout on the attention weights and on each sublayer's
            output before the residual add. Defaults to `0.0`.
        activation: the MLP's activation, a name or a callable. Defaults to
            `"relu"`.
        layer_norm_epsilon: float, epsilon of the layer norms. Defaults to `1e-5`.
        normalize_first: bool, pre-norm when `True`, the paper's post-norm when
            `False`. Defaults to `False`.
        key_dim: int, width of each head's queries and keys. Defaults to `None`:
            `hidden_dim // num_heads`, which then must divide evenly.
        **kwargs: other keyword arguments of `keras.layers.Layer`.

    Call arguments:
        inputs: `(batch, T, hidden_dim)`.
        padding_mask: optional boolean `(batch, T)`, `True` at real positions.
        attention_mask: optional boolean `(batch, T, T)`, `True` where query `t`
            may attend to key `s`; combined with `padding_mask` by logical and.
        return_attention_scores: bool, also return the attention weights.
        training: Python boolean, dropout on when `True`.

    Returns:
        `outputs`, `(batch, T, hidden_dim)`, or `(outputs, scores)` with `scores`
        of shape `(batch, num_heads, T, T)` when `return_attention_scores=True`.

    Example:

    >>> encoder = TransformerEncoder(num_heads=2, intermediate_dim=32)
    >>> x = np.random.rand(2, 5, 16).astype("float32")
    >>> tuple(encoder(x).shape)
    (2, 5, 16)

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
        super().__init__(**kwargs)
        _check_positive_int("num_heads", num_heads)
        _check_positive_int("intermediate_dim", intermediate_dim)
        if key_dim is not None:
            _check_positive_int("key_dim", key_dim)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout}")
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.activation = keras.activations.get(activation)
        self.layer_norm_epsilon = layer_norm_epsilon
        self.normalize_first = normalize_first
        self.key_dim = key_dim
        self.supports_masking = True

    def build(self, inputs_shape, *args, **kwargs):
        if len(inputs_shape) != 3:
            raise ValueError(
                "`inputs` must have shape (batch, T, hidden_dim). "
                f"Received: inputs.shape={tuple(inputs_shape)}"
            )
        hidden_dim = inputs_shape[-1]
        key_dim = head_dim(hidden_dim, self.num_heads, self.key_dim)
        common = dict(dtype=self.dtype_policy)
        self.self_attention = keras.layers.MultiHeadAttention(
            num_heads=self.num_heads,
            key_dim=key_dim,
            dropout=self.dropout,
            name="self_attention",
            **common,
        )
        self.self_attention.build(inputs_shape, inputs_shape)
        norm = dict(epsilon=self.layer_norm_epsilon, **common)
        self.self_attention_norm = keras.layers.LayerNormalization(
            name="self_attention_norm", **norm
        )
        self.self_attention_norm.build(inputs_shape)
        self.self_attention_dropout = keras.layers.Dropout(
            self.dropout, name="self_attention_dropout", **common
        )
        self.mlp_intermediate = keras.layers.Dense(
            self.intermediate_dim,
            activation=self.activation,
            name="mlp_intermediate",
            **common,
        )
        self.mlp_intermediate.build(inputs_shape)
        self.mlp_output = keras.layers.Dense(hidden_dim, name="mlp_output", **common)
        self.mlp_output.build(tuple(inputs_shape[:-1]) + (self.intermediate_dim,))
        self.mlp_norm = keras.layers.LayerNormalization(name="mlp_norm", **norm)
        self.mlp_norm.build(inputs_shape)
        self.mlp_dropout = keras.layers.Dropout(self.dropout, name="mlp_dropout", **common)
        self.built = True

    def call(
        self,
        inputs,
        padding_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
    ):
        mask = merge_padding_and_attention_mask(inputs, padding_mask, attention_mask)

        x = inputs
        residual = x
        if self.normalize_first:
            x = self.self_attention_norm(x)
        x, scores = self.self_attention(
            query=x,
            value=x,
            attention_mask=mask,
            return_attention_scores=True,
            training=training,
        )  # x: (B, T, D), scores: (B, h, T, T)
        x = residual + self.self_attention_dropout(x, training=training)
        if not self.normalize_first:
            x = self.self_attention_norm(x)

        residual = x
        if self.normalize_first:
            x = self.mlp_norm(x)
        x = self.mlp_output(self.mlp_intermediate(x))
        x = residual + self.mlp_dropout(x, training=training)
        if not self.normalize_first:
            x = self.mlp_norm(x)

        if return_attention_scores:
            return x, scores
        return x

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_shape(self, inputs_shape, *args, **kwargs):
        return tuple(inputs_shape)

    def compute_output_spec(self, inputs, *args, return_attention_scores=False, **kwargs):
        outputs = keras.KerasTensor(inputs.shape, dtype=self.compute_dtype)
        if not return_attention_scores:
            return outputs
        batch, length = inputs.shape[0], inputs.shape[1]
        scores_shape = (batch, self.num_heads, length, length)
        return outputs, keras.KerasTensor(scores_shape, dtype=self.compute_dtype)

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


def _check_positive_int(name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"`{name}` must be a positive int. Received: {name}={value}")


def head_dim(hidden_dim, num_heads, key_dim=None):
    """`key_dim`, or `hidden_dim // num_heads` when that divides evenly."""
    if key_dim is not None:
        return key_dim
    if hidden_dim is None or hidden_dim % num_heads:
        raise ValueError(
            f"`num_heads` must divide the hidden width {hidden_dim} when `key_dim` is "
            f"not given. Received: num_heads={num_heads}"
        )
    return hidden_dim // num_heads


def merge_padding_and_attention_mask(inputs, padding_mask, attention_mask):
    """One boolean `(B, T, S)` mask from a `(B, S)` padding mask and a `(B, T, S)` mask.

    `inputs` is the query sequence, `(B, T, D)`; with no `attention_mask` the
    keys are the same sequence (`S = T`).
    """
    length = inputs.shape[1]
    mask = None
    if padding_mask is not None:
        if len(padding_mask.shape) != 2 or not _same_dim(padding_mask.shape[1], length):
            raise ValueError(
                f"`padding_mask` must have shape (batch, {length}). "
                f"Received: padding_mask.shape={tuple(padding_mask.shape)}"
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
