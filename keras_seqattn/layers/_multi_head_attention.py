"""Attention that takes the backend's fused kernel whenever its dropout is off.

Why: `keras.layers.MultiHeadAttention` calls `ops.dot_product_attention` (the
backend's fused kernel: cuDNN or flash attention on a GPU under JAX, PyTorch's
`scaled_dot_product_attention`, flash attention where
`keras.config.is_flash_attention_enabled()` and the inputs allow it) only when
its dropout rate is 0 and no scores are asked. A block built with `dropout=0.1`
then computes attention op by op at inference too, where the dropout does
nothing. The layer below takes the fused kernel whenever no scores are asked
and the dropout is off (`training` false, or a rate of 0), and Keras's own
op-by-op computation otherwise, so asking for the scores always works, with
flash attention enabled or not. The variables, their names and the saved files
are Keras's.
"""

import math

import keras
from keras import ops


class MultiHeadAttention(keras.layers.MultiHeadAttention):
    """`keras.layers.MultiHeadAttention` with the fused kernel at inference; see above.

    Named like Keras's class, which it only specialises.
    """

    def _compute_attention(
        self,
        query,
        key,
        value,
        attention_mask=None,
        training=None,
        return_attention_scores=False,
        use_causal_mask=False,
    ):
        if (
            return_attention_scores
            or use_causal_mask
            or (training and self.dropout > 0.0)
            or len(query.shape) != 4
        ):
            return super()._compute_attention(
                query,
                key,
                value,
                attention_mask=attention_mask,
                training=training,
                return_attention_scores=return_attention_scores,
                use_causal_mask=use_causal_mask,
            )
        if attention_mask is not None:
            attention_mask = ops.cast(attention_mask, "bool")[:, None]  # (B, 1, T, S)
        outputs = ops.dot_product_attention(
            query,  # (B, T, h, k)
            key,  # (B, S, h, k)
            value,  # (B, S, h, v)
            mask=attention_mask,
            scale=1.0 / math.sqrt(self.key_dim),
            flash_attention=keras.config.is_flash_attention_enabled(),
        )  # (B, T, h, v)
        return outputs, None
