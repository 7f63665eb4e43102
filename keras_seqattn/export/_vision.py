"""The export plan of `VisionTransformer`: images in, probabilities and top-k out."""

import tensorflow as tf

from keras_seqattn.export._plan import ExportPlan, static_batch
from keras_seqattn.export._tflite import Float32Model, precision


def vision_plan(model, top_k=5, label_names=None):
    """Signature `serving_default`: float32 images `(batch, H, W, C)`, 0-255 scale ->
    `probabilities (batch, classes)`, `top_k_indices`/`top_k_probabilities`
    `(batch, k)` and, with label names, `top_k_labels` `(batch, k)` strings.
    TFLite (`model.tflite`): the same without the strings, batch 1.
    """
    num_classes = model.num_classes
    if label_names is None:
        label_names = getattr(model, "label_names", None) or getattr(model, "class_names", None)
    if label_names is not None:
        label_names = [str(name) for name in label_names]
        if len(label_names) != num_classes:
            raise ValueError(
                f"Expected one label name per class ({num_classes}). "
                f"Received: {len(label_names)} label names"
            )
    if not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1:
        raise ValueError(f"`top_k` must be a positive int. Received: top_k={top_k!r}")
    k = min(top_k, num_classes)
    image_shape = tuple(model.inputs[0].shape[1:])
    spec = tf.TensorSpec((None, *image_shape), tf.float32, name="images")

    def classify(images, with_labels, classifier=model):
        logits = classifier(images, training=False)
        probabilities = tf.nn.softmax(tf.cast(logits, tf.float32), -1)
        top_probabilities, top_indices = tf.math.top_k(probabilities, k)  # (batch, k)
        outputs = {
            "probabilities": probabilities,
            "top_k_indices": tf.cast(top_indices, tf.int32),
            "top_k_probabilities": top_probabilities,
        }
        if with_labels and label_names is not None:
            outputs["top_k_labels"] = tf.gather(tf.constant(label_names), top_indices)
        return outputs

    def serve(images):
        return classify(images, True)

    tflite_model = Float32Model(model)

    def serve_tflite(images):
        return classify(images, False, tflite_model.get())

    plan = ExportPlan()
    plan.endpoints.append(("serving_default", serve, [spec]))
    plan.tflite.append(("model.tflite", serve_tflite, [static_batch(spec)]))
    plan.files["export.json"] = {
        "family": "image_classification",
        "image_shape": list(image_shape),
        "pixel_scale": "0-255",
        "num_classes": num_classes,
        "top_k": k,
        "label_names": label_names,
        **precision(model),
        "signatures": [name for name, _, _ in plan.endpoints],
    }
    if label_names is not None:
        plan.files["labels.json"] = label_names
    return plan
