"""Evaluates an image classifier on a dataset of (image, label) pairs."""

import numpy as np

from keras_seqattn.models._batch_prediction import predict_batch


def evaluate_image_classification(model, pairs, batch_size=256, limit=None):
    """Classifies every image of `pairs` and scores the predictions.

    Args:
        model: a `VisionTransformer` (any Keras model from images to logits).
        pairs: `tf.data.Dataset` of `(image, label)`, e.g. from
            `keras_seqattn.datasets.load_image_labels`, images of the model's size
            on the 0-255 scale.
        batch_size: int, images per `predict` batch.
        limit: optional int, score only the first `limit` pairs.

    Returns:
        dict with `accuracy` (top-1), `loss` (mean cross-entropy of the
        logits), `count`, and `predictions`: the predicted class of each image,
        in the dataset's order.

    Raises:
        ValueError: the images are not of the size and channels the model takes.

    Example:

    >>> import tensorflow as tf
    >>> from keras_seqattn.applications import VisionTransformer
    >>> model = VisionTransformer(image_size=8, patch_size=4, num_classes=2, hidden_dim=8,
    ...                           num_layers=1, num_heads=2, mlp_dim=8, num_channels=1)
    >>> pairs = tf.data.Dataset.from_tensor_slices((tf.zeros((3, 8, 8, 1)), [0, 1, 0]))
    >>> evaluate_image_classification(model, pairs)["count"]
    3
    """
    wanted = tuple(model.input_shape[1:])
    image_shape = tuple(pairs.element_spec[0].shape)
    if len(image_shape) != len(wanted) or any(
        w is not None and s != w for s, w in zip(image_shape, wanted)
    ):
        raise ValueError(
            f"The model takes images of shape {wanted} (height, width, channels); the "
            f"dataset's are {image_shape}. Received: a dataset of another image size"
        )
    if limit is not None:
        pairs = pairs.take(limit)
    predictions, labels, losses = [], [], []
    for images, batch_labels in pairs.batch(batch_size).as_numpy_iterator():
        logits = np.asarray(predict_batch(model, images.astype("float32")), "float64")
        predictions.append(np.argmax(logits, axis=-1))
        labels.append(batch_labels)
        # Cross-entropy -log softmax(logits)[label], from the max-shifted logits.
        shifted = logits - logits.max(-1, keepdims=True)
        log_softmax = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
        losses.append(-np.take_along_axis(log_softmax, batch_labels[:, None], -1)[:, 0])
    predictions = np.concatenate(predictions) if predictions else np.zeros((0,), "int64")
    labels = np.concatenate(labels) if labels else np.zeros((0,), "int64")
    count = int(len(labels))
    return {
        "accuracy": float(np.mean(predictions == labels)) if count else 0.0,
        "loss": float(np.mean(np.concatenate(losses))) if count else 0.0,
        "count": count,
        "predictions": predictions.tolist(),
    }
