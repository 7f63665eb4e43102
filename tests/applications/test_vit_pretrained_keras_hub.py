"""`VisionTransformer.from_pretrained` of keras-hub ViTs against keras-hub's own outputs.

A tiny random `ViTImageClassifier` with an image converter: the object, its
`save_to_preset` directory, its backbone, and converters whose scale and offset
or output size differ.
"""

import keras
import numpy as np
import pytest

from keras_seqattn.applications import VisionTransformer

pytest.importorskip("keras_hub")
IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), dtype="uint8")


def _keras_hub_classifier(scale, offset):
    import keras_hub

    backbone = keras_hub.models.ViTBackbone(
        image_shape=(32, 32, 3),
        patch_size=8,
        num_layers=2,
        num_heads=4,
        hidden_dim=32,
        mlp_dim=64,
        use_mha_bias=False,
    )
    converter = keras_hub.layers.ViTImageConverter(image_size=(32, 32), scale=scale, offset=offset)
    preprocessor = keras_hub.models.ViTImageClassifierPreprocessor(image_converter=converter)
    classifier = keras_hub.models.ViTImageClassifier(
        backbone=backbone, num_classes=4, preprocessor=preprocessor
    )
    rng = np.random.default_rng(4)
    for variable in classifier.weights:
        variable.assign(rng.normal(size=variable.shape).astype("float32") * 0.2)
    return classifier


def test_keras_hub_classifier_object_and_preset(tmp_path, images):
    std = np.array(IMAGENET_STD)
    scale = (1 / (255 * std)).tolist()
    offset = (-np.array(IMAGENET_MEAN) / std).tolist()
    classifier = _keras_hub_classifier(scale, offset)
    expected = classifier.predict(images.astype("float32"), verbose=0)
    model = VisionTransformer.from_pretrained(classifier)
    assert model.pixel_mean == pytest.approx(IMAGENET_MEAN)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(images)), expected, atol=1e-4)
    classifier.save_to_preset(str(tmp_path))
    from_preset = VisionTransformer.from_pretrained(tmp_path)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(from_preset(images)), expected, atol=1e-4)
    # A bare backbone: no head, no converter (so ViT's [-1, 1] pixels), a fresh head.
    with pytest.raises(ValueError, match="no classification head"):
        VisionTransformer.from_pretrained(classifier.backbone)
    model = VisionTransformer.from_pretrained(classifier.backbone, num_classes=2)
    features = keras.Model(model.input, model.get_layer("encoder_norm").output)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(features(images)),
        keras.ops.convert_to_numpy(classifier.backbone(images / 127.5 - 1.0)),
        atol=1e-4,
    )
    # A converter without a scale adds its offset to [0, 255] pixels: so does ours.
    converter = classifier.preprocessor.image_converter
    converter.scale, converter.offset = None, [-100.0, -120.0, -90.0]
    expected = classifier(converter(images.astype("float32")))
    model = VisionTransformer.from_pretrained(classifier)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model(images)), keras.ops.convert_to_numpy(expected), atol=1e-4
    )
    converter.image_size = (48, 48)
    with pytest.raises(ValueError, match=r"makes 48x48 images.*Received: image_size=\(48, 48\)"):
        VisionTransformer.from_pretrained(classifier)
