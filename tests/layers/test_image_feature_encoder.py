import keras
import numpy as np
import pytest
from keras import ops

from keras_seqattn.layers import ImageFeatureEncoder
from tests.test_case import TestCase

RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 256, size=(2, 16, 16, 1)).astype("float32")


class TestImageFeatureEncoder(TestCase):
    def test_layer_behaviour(self, tmp_path):
        self.run_layer_test(
            ImageFeatureEncoder,
            init_kwargs={
                "backbone": "small_cnn",
                "filters": (4, 8),
                "weights": None,
                "trainable_backbone": True,
                "output_dim": 6,
            },
            input_data=IMAGES,
            expected_output_shape=(2, 16, 6),  # 16x16 -> 4x4 grid
            expected_num_trainable_weights=6,  # 2 convolutions + projection
            tmp_path=tmp_path,
        )

    def test_grid_is_the_feature_map_row_major(self):
        encoder = ImageFeatureEncoder(filters=(4, 8))
        features = ops.convert_to_numpy(encoder(IMAGES))
        feature_map = ops.convert_to_numpy(encoder.cnn(IMAGES))  # (2, 4, 4, 8)
        assert encoder.grid_shape((16, 16)) == (4, 4)
        self.assertAllClose(features, feature_map.reshape(2, 16, 8))
        self.assertAllClose(features[:, 1 * 4 + 2], feature_map[:, 1, 2])

    def test_uint8_and_float_pixels_share_one_scale_and_nan_is_black(self):
        encoder = ImageFeatureEncoder(filters=(4, 8))
        as_float = encoder(IMAGES)
        self.assertAllClose(encoder(IMAGES.astype("uint8")), as_float, atol=1e-5)
        with_nan, with_zero = IMAGES.copy(), IMAGES.copy()
        with_nan[0, 3, 3, 0], with_zero[0, 3, 3, 0] = np.nan, 0.0
        result = ops.convert_to_numpy(encoder(with_nan))
        assert np.all(np.isfinite(result))
        self.assertAllClose(result, encoder(with_zero), atol=1e-5)

    def test_frozen_keras_application_backbone(self, tmp_path):
        # MobileNet (v1): a small Keras application (86 layers, 3.2M weights) that
        # takes 32 x 32 images; every application goes through the same lines (on
        # JAX MobileNetV2's 154 layers took 136 s, each op compiled on first call).
        encoder = ImageFeatureEncoder(
            "MobileNet", weights=None, trainable_backbone=False, output_dim=8
        )
        images = RNG.integers(0, 256, size=(2, 32, 32, 3)).astype("float32")
        features = encoder(images)
        assert tuple(features.shape) == (2, 1, 8) and encoder.grid_shape((32, 32)) == (1, 1)
        assert len(encoder.trainable_weights) == 2  # the projection only
        model = keras.Sequential([keras.Input((32, 32, 3)), encoder])
        model.save(tmp_path / "encoder.keras")
        revived = keras.saving.load_model(tmp_path / "encoder.keras", safe_mode=True)
        self.assertAllClose(revived(images), features, atol=1e-5)

    def test_bad_input(self):
        encoder = ImageFeatureEncoder(filters=(4, 8))
        with pytest.raises(ValueError, match="height, width"):
            encoder(IMAGES[0])
        with pytest.raises(ValueError, match="multiples of 4"):
            ImageFeatureEncoder(filters=(4, 8))(np.zeros((1, 18, 16, 1), "float32"))
        with pytest.raises(ValueError, match="3 channels"):
            ImageFeatureEncoder("MobileNetV2", weights="imagenet")(IMAGES)
        with pytest.raises(ValueError, match="backbone"):
            ImageFeatureEncoder("NoSuchNet")
        with pytest.raises(ValueError, match="from scratch"):
            ImageFeatureEncoder(weights="imagenet")
        with pytest.raises(ValueError, match="filters"):
            ImageFeatureEncoder(filters=())
        with pytest.raises(ValueError, match="output_dim"):
            ImageFeatureEncoder(output_dim=0)
