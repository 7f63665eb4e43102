"""Builds a model's optimizer before `fit` traces its first training step."""


def build_optimizer(model):
    """Builds `model.optimizer` for `model.trainable_variables`, if `fit` would not.

    Keras's TensorFlow trainer, when no `tf.distribute` strategy holds the
    model, leaves the optimizer unbuilt until the first traced training step.
    Its slot variables (Adam's moments) are then created inside `tf.function`,
    which traces the whole step a second time without them: the first epoch of a
    small TransformerSeq2Seq took 30 s against 16 s with the optimizer built
    first. Under a strategy Keras builds it itself, in the strategy's scope, so
    that case is left to Keras. On JAX and PyTorch Keras builds it before the
    first step anyway, so building it here only does that work a moment sooner.

    Example:

    >>> import keras
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> model.compile(optimizer="adam", loss="mse")
    >>> build_optimizer(model)
    >>> model.optimizer.built
    True
    """
    optimizer = getattr(model, "optimizer", None)
    if (
        optimizer is None
        or optimizer.built
        or not model.built
        # The TensorFlow trainer's own record of the strategy it was built under.
        or getattr(model, "_distribute_strategy", None) is not None
    ):
        return
    optimizer.build(model.trainable_variables)
