import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_seqattn.applications import VisionTransformer
from keras_seqattn.evaluation import evaluate_image_classification


def _model():
    keras.utils.set_random_seed(0)
    model = VisionTransformer(
        image_size=8, patch_size=4, num_classes=3, hidden_dim=8, num_layers=1, num_heads=2,
        mlp_dim=8, num_channels=1,
    )  # fmt: skip
    # The head starts at zero (as in the paper); other logits show the loss is computed.
    head = model.get_layer("head")
    head.kernel.assign(np.random.default_rng(0).normal(size=head.kernel.shape))
    return model


def test_accuracy_and_loss_equal_keras_evaluate():
    model = _model()
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (7, 8, 8, 1)).astype("float32")
    labels = rng.integers(0, 3, 7)
    pairs = tf.data.Dataset.from_tensor_slices((images, labels))
    scores = evaluate_image_classification(model, pairs, batch_size=3)  # 3 + 3 + 1
    model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"]
    )
    expected = model.evaluate(images, labels, batch_size=7, return_dict=True, verbose=0)
    assert scores["count"] == 7
    assert scores["accuracy"] == pytest.approx(expected["accuracy"])
    assert scores["loss"] == pytest.approx(expected["loss"], rel=1e-5)
    assert scores["loss"] > 0.1  # not a zero-logit model's constant
