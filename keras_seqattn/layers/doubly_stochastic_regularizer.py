"""Show, Attend and Tell's doubly stochastic attention penalty, as a layer loss."""

import keras
from keras import ops

from keras_seqattn.layers._checks import check_non_negative


@keras.saving.register_keras_serializable(package="keras_seqattn")
class DoublyStochasticRegularizer(keras.layers.Layer):
    """Adds `lambda * sum_i (1 - sum_t a_{t,i})^2` to the model's loss.

    Softmax makes each step's attention sum to 1 over the grid cells `i`; this
    penalty pushes each cell's attention summed over the caption's steps `t`
    towards 1 as well, so that over a whole caption the model looks at every
    part of the image (Xu et al. 2015, section 4.2.1, eq. 14).

    1. Zero the attention of padded steps (`mask` `False`): a caption of
       `C` words sums over its own `C` steps only.
    2. `coverage_i = sum_t a_{t,i}`, shape `(batch, cells)`.
    3. `penalty = lambda * mean_batch sum_i (1 - coverage_i)^2`, added with
       `add_loss`, so `fit` minimises it with the task loss on every backend.

    The layer passes `inputs` through unchanged; it sits in the functional
    graph on the path of the model's output, so that Keras runs it.

    Args:
        penalty_weight: float >= 0, `lambda`. Defaults to `1.0`.
        **kwargs: other keyword arguments of `keras.layers.Layer`.

    Call arguments:
        inputs: any tensor, returned as it is (the model's logits).
        attention: `(batch, T, cells)` attention weights of every step.
        mask: optional boolean `(batch, T)`, `True` at the caption's real steps.

    Returns:
        `inputs`.

    Example:

    >>> regularizer = DoublyStochasticRegularizer(penalty_weight=0.5)
    >>> attention = np.full((1, 2, 4), 0.25, dtype="float32")
    >>> _ = regularizer(np.zeros((1, 2, 3)), attention)
    >>> float(regularizer.losses[0])  # 0.5 * 4 * (1 - 0.5) ** 2
    0.5

    Reference:
        Xu et al. (2015), Show, Attend and Tell: Neural Image Caption Generation
        with Visual Attention, section 4.2.1.
    """

    def __init__(self, penalty_weight=1.0, **kwargs):
        super().__init__(**kwargs)
        check_non_negative("penalty_weight", penalty_weight)
        self.penalty_weight = penalty_weight

    def call(self, inputs, attention, mask=None):
        if len(attention.shape) != 3:
            raise ValueError(
                "`attention` must have shape (batch, T, cells). "
                f"Received: attention.shape={tuple(attention.shape)}"
            )
        steps = attention.shape[1]
        if mask is not None and (
            len(mask.shape) != 2 or None not in (steps, mask.shape[1]) and mask.shape[1] != steps
        ):
            raise ValueError(
                f"`mask` must have shape (batch, {steps}), one entry per step of `attention`. "
                f"Received: mask.shape={tuple(mask.shape)}"
            )
        attention = ops.cast(attention, "float32")
        if mask is not None:
            attention = attention * ops.cast(mask, "float32")[:, :, None]  # (B, T, 1)
        coverage = ops.sum(attention, axis=1)  # (B, cells)
        penalty = ops.mean(ops.sum(ops.square(1.0 - coverage), axis=-1))
        self.add_loss(self.penalty_weight * penalty)
        return inputs

    def compute_output_shape(self, inputs_shape, attention_shape=None, mask_shape=None):
        return inputs_shape

    def get_config(self):
        config = super().get_config()
        config.update(penalty_weight=self.penalty_weight)
        return config
