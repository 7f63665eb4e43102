"""One Transformer encoder block: self-attention and an MLP, each with residual + norm."""

import keras

from keras_seqattn.layers._checks import check_dim, check_floating, check_rank
from keras_seqattn.layers._transformer_block import (
    TransformerBlock,
    head_dim,
    merge_padding_and_attention_mask,
    zero_padding,
)


@keras.saving.register_keras_serializable(package="keras_seqattn")
class TransformerEncoder(TransformerBlock):
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
        inputs: floating-point `(batch, T, hidden_dim)`; `batch` may be 0.
            NaN or inf at a real position propagates to every output; at a
            padded position (`padding_mask` `False`) it does not reach the
            real positions, whose keys and values are zeroed there.
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
        self.supports_masking = True

    def build(self, inputs_shape, *args, **kwargs):
        if len(inputs_shape) != 3:
            raise ValueError(
                "`inputs` must have shape (batch, T, hidden_dim). "
                f"Received: inputs.shape={tuple(inputs_shape)}"
            )
        self._hidden_dim = inputs_shape[-1]
        key_dim = head_dim(inputs_shape[-1], self.num_heads, self.key_dim)
        self._build_attention("self_attention", inputs_shape, inputs_shape, key_dim)
        self._build_mlp(inputs_shape)
        self.built = True

    def call(
        self,
        inputs,
        padding_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
    ):
        check_rank("inputs", inputs, 3, "(batch, T, hidden_dim)")
        check_dim("inputs", inputs, -1, self._hidden_dim, "hidden_dim")
        check_floating("inputs", inputs)
        mask = merge_padding_and_attention_mask(inputs, padding_mask, attention_mask)

        def self_attention(x):
            keys = zero_padding(x, padding_mask)  # (B, T, D)
            return self._attend(
                "self_attention", x, keys, mask, return_attention_scores, training
            )  # (B, T, D), (B, h, T, T) or None

        x, scores = self._residual("self_attention", inputs, self_attention, training)
        x = self._mlp(x, training)
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
