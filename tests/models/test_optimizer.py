"""`build_optimizer`: the optimizer exists before `fit` traces a step, and trains the same."""

import keras
import numpy as np
import pytest

from keras_seqattn.models._optimizer import build_optimizer
from tests.applications import tiny_models


def _compiled(name):
    keras.utils.set_random_seed(0)
    model = tiny_models.BUILDS[name]()
    if name == "VisionTransformer":
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        model.compile(keras.optimizers.Adam(1e-2), loss)
    else:
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
    return model


@pytest.mark.only_backend("tensorflow", reason="the trainer that builds it inside tf.function")
@pytest.mark.parametrize("name", ["TransformerSeq2Seq", "VisionTransformer"])
def test_fit_builds_the_optimizer_outside_the_traced_step(name):
    import tensorflow as tf

    model = _compiled(name)
    optimizer, inside = model.optimizer, []
    build = optimizer.build

    def spy(variables):
        inside.append(tf.inside_function())
        build(variables)

    optimizer.build = spy  # an instance attribute: what Keras's `apply` calls
    model.fit(tiny_models.batches(model, 4, count=1), epochs=1, verbose=0)
    # Built once, eagerly: before, Keras built it in the first trace, and
    # tf.function traced the step again without the new variables.
    assert inside == [False]


def test_training_is_unchanged():
    """Losses and weights after two steps equal keras.Model.fit's own (no early build)."""
    ours, theirs = _compiled("AttentionSeq2Seq"), _compiled("AttentionSeq2Seq")
    data = tiny_models.batches(ours, 4)
    mine = ours.fit(data, epochs=1, verbose=0, shuffle=False).history["loss"]
    reference = keras.Model.fit(theirs, data, epochs=1, verbose=0, shuffle=False)
    np.testing.assert_allclose(mine, reference.history["loss"], rtol=1e-6)
    for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_only_compiled_and_built_models_are_touched():
    model = keras.Sequential([keras.layers.Dense(2)])  # no input shape: not built
    build_optimizer(model)  # no optimizer yet: nothing to build
    model.compile(optimizer="adam", loss="mse")
    build_optimizer(model)
    assert not model.optimizer.built  # nothing to build it for yet
    model.build((None, 3))
    build_optimizer(model)
    assert model.optimizer.built
    assert len(model.optimizer.variables) == 2 + 2 * len(model.trainable_variables)


@pytest.mark.only_backend("tensorflow", reason="tf.distribute strategies are TensorFlow's")
def test_a_model_under_a_strategy_is_left_to_keras():
    import tensorflow as tf

    strategy = tf.distribute.MirroredStrategy(["cpu:0"])
    with strategy.scope():
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        model.compile(optimizer="adam", loss="mse")
    build_optimizer(model)
    assert not model.optimizer.built  # Keras builds it in the strategy's scope
