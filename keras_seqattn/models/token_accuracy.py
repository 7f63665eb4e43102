"""The accuracy over real (non-padding) target tokens, for next-token models."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_seqattn")
class TokenAccuracy(keras.metrics.Metric):
    """Share of non-padding target tokens whose top logit is the target, over all batches.

    The default metric of every generative application (`token_accuracy` in
    `fit` logs). It counts hits and real tokens (label id not 0) across batches
    and divides once, so every token weighs the same. Keras's
    `MeanMetricWrapper` over a per-batch ratio would instead average the
    batches' ratios: a short last batch would weigh as much as a full one, and
    the empty batch Keras meets at the end of a dataset of unknown cardinality
    (a `filter`ed one) would count as a batch of accuracy 0 (a validation set of
    two batches, both perfect, then reads 0.667).

    Args:
        pad_id: int, the label id that is padding. Defaults to `0` (a converted
            MarianMT model pads with its last id).
        name: the metric's name. Defaults to `"token_accuracy"`.
        dtype: the dtype of the counts. Defaults to `"float32"`.

    Example:

    >>> metric = TokenAccuracy()
    >>> labels = np.array([[3, 1, 0], [2, 0, 0]])  # 3 real tokens
    >>> logits = np.eye(4)[[[3, 2, 0], [2, 0, 0]]]  # 2 of them right
    >>> metric.update_state(labels, logits)
    >>> round(float(metric.result()), 4)
    0.6667
    """

    def __init__(self, pad_id=0, name="token_accuracy", dtype="float32"):
        super().__init__(name=name, dtype=dtype)
        self.pad_id = pad_id
        self.hits = self.add_variable(shape=(), initializer="zeros", name="hits")
        self.tokens = self.add_variable(shape=(), initializer="zeros", name="tokens")

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Adds the batch's hits and real tokens; `sample_weight` weighs each token or row."""
        y_true = ops.cast(y_true, "int32")
        predicted = ops.cast(ops.squeeze(ops.top_k(y_pred, 1)[1], -1), "int32")  # (B, T)
        real = ops.cast(ops.not_equal(y_true, self.pad_id), self.dtype)
        if sample_weight is not None:
            weight = ops.cast(sample_weight, self.dtype)
            while len(weight.shape) < len(real.shape):
                weight = ops.expand_dims(weight, -1)  # (B,) -> (B, 1): one weight a row
            real = real * weight
        hits = ops.cast(ops.equal(predicted, y_true), self.dtype) * real
        self.hits.assign_add(ops.sum(hits))
        self.tokens.assign_add(ops.sum(real))

    def result(self):
        return ops.divide_no_nan(self.hits, self.tokens)

    def reset_state(self):
        self.hits.assign(0.0)
        self.tokens.assign(0.0)

    def get_config(self):
        config = super().get_config()
        if self.pad_id != 0:  # older configs have no key
            config["pad_id"] = self.pad_id
        return config
