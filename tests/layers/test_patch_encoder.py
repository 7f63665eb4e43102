import numpy as np
import pytest
from keras import ops

from keras_seqattn.layers import PatchEncoder
from tests.test_case import TestCase


def _images(batch=2, height=8, width=12, channels=3, seed=0):
    return (
        np.random.default_rng(seed).normal(size=(batch, height, width, channels)).astype("float32")
    )


def _bilinear_reference(grid, new_size):
    """Half-pixel-centre bilinear resize of a `(h, w, d)` array, in NumPy."""

    def weights(old, new):
        src = np.clip((np.arange(new) + 0.5) * old / new - 0.5, 0, old - 1)
        low = np.floor(src).astype(int)
        high = np.minimum(low + 1, old - 1)
        matrix = np.zeros((new, old))
        matrix[np.arange(new), low] += 1 - (src - low)
        matrix[np.arange(new), high] += src - low
        return matrix

    rows, cols = weights(grid.shape[0], new_size[0]), weights(grid.shape[1], new_size[1])
    return np.einsum("ih,jw,hwd->ijd", rows, cols, grid)


class TestPatchEncoder(TestCase):
    def test_layer_behaviour(self, tmp_path):
        self.run_layer_test(
            PatchEncoder,
            init_kwargs={
                "image_size": (8, 12),
                "patch_size": 4,
                "hidden_dim": 6,
                "num_channels": 3,
                "use_class_token": True,
            },
            input_data=_images(),
            expected_output_shape=(2, 7, 6),  # 2 x 3 patches and the class token
            expected_num_trainable_weights=4,  # kernel, bias, class token, positions
            tmp_path=tmp_path,
        )

    def test_without_class_token(self, tmp_path):
        self.run_layer_test(
            PatchEncoder,
            init_kwargs={
                "image_size": 8,
                "patch_size": 2,
                "hidden_dim": 5,
                "num_channels": 1,
                "use_class_token": False,
            },
            input_data=_images(height=8, width=8, channels=1),
            expected_output_shape=(2, 16, 5),
            expected_num_trainable_weights=3,
            run_training_check=False,
            tmp_path=tmp_path,
        )

    def test_matches_flattened_patches_times_kernel(self):
        images = _images()
        layer = PatchEncoder((8, 12), 4, hidden_dim=6)
        layer.build(images.shape)
        rng = np.random.default_rng(1)
        layer.class_token.assign(rng.normal(size=(1, 1, 6)))
        outputs = ops.convert_to_numpy(layer(images))
        kernel = ops.convert_to_numpy(layer.embedding.kernel)  # (P, P, C, D)
        bias = ops.convert_to_numpy(layer.embedding.bias)
        positions = ops.convert_to_numpy(layer.position_embedding)[0]
        # Patches in row-major grid order, each flattened row by row, pixel by pixel.
        patches = images.reshape(2, 2, 4, 3, 4, 3).transpose(0, 1, 3, 2, 4, 5).reshape(2, 6, 48)
        expected = patches @ kernel.reshape(48, 6) + bias
        cls = np.broadcast_to(ops.convert_to_numpy(layer.class_token), (2, 1, 6))
        expected = np.concatenate([cls, expected], axis=1) + positions
        self.assertAllClose(outputs, expected, atol=1e-5, rtol=1e-5)

    def test_uint8_images_are_cast(self):
        layer = PatchEncoder(8, 4, hidden_dim=3, num_channels=1)
        outputs = layer(np.full((1, 8, 8, 1), 255, "uint8"))
        assert "float" in str(outputs.dtype)

    def test_bad_arguments_name_the_values(self):
        with pytest.raises(ValueError, match="must divide.*image_size=30, patch_size=16"):
            PatchEncoder(30, 16, hidden_dim=8)
        with pytest.raises(ValueError, match=r"image_size=\(32, 30\), patch_size=4"):
            PatchEncoder((32, 30), 4, hidden_dim=8)
        with pytest.raises(ValueError, match="image_size=\\(1, 2, 3\\)"):
            PatchEncoder((1, 2, 3), 1, hidden_dim=8)
        with pytest.raises(ValueError, match="patch_size=0"):
            PatchEncoder(32, 0, hidden_dim=8)
        with pytest.raises(ValueError, match="hidden_dim=-1"):
            PatchEncoder(32, 4, hidden_dim=-1)

    def test_wrong_images_name_the_shape(self):
        layer = PatchEncoder(8, 4, hidden_dim=3, num_channels=3)
        with pytest.raises(ValueError, match=r"Received: images.shape=\(2, 8, 8, 1\)"):
            layer(np.zeros((2, 8, 8, 1), "float32"))
        with pytest.raises(ValueError, match=r"images.shape=\(2, 16, 8, 3\)"):
            layer(np.zeros((2, 16, 8, 3), "float32"))

    def test_resize_keeps_class_token_and_matches_numpy_bilinear(self):
        rng = np.random.default_rng(2)
        embedding = rng.normal(size=(1, 1 + 2 * 3, 4)).astype("float32")
        resized = ops.convert_to_numpy(
            PatchEncoder.resize_position_embedding(embedding, (2, 3), (4, 5))
        )
        assert resized.shape == (1, 1 + 20, 4)
        self.assertAllClose(resized[:, 0], embedding[:, 0])
        expected = _bilinear_reference(embedding[0, 1:].reshape(2, 3, 4), (4, 5))
        self.assertAllClose(resized[0, 1:], expected.reshape(20, 4), atol=1e-5, rtol=1e-5)
        same = PatchEncoder.resize_position_embedding(embedding, (2, 3), (2, 3))
        self.assertAllClose(same, embedding)
        constant = np.ones((1, 16, 3), "float32")
        smaller = PatchEncoder.resize_position_embedding(constant, 4, 2, num_prefix_tokens=0)
        self.assertAllClose(smaller, np.ones((1, 4, 3)), atol=1e-6)

    def test_impossible_grids_are_value_errors(self):
        embedding = np.zeros((1, 1 + 6, 4), "float32")
        with pytest.raises(ValueError, match=r"Received: embedding.shape=\(1, 7, 4\)"):
            PatchEncoder.resize_position_embedding(embedding, (3, 3), (4, 4))
        with pytest.raises(ValueError, match="new_grid_size=0"):
            PatchEncoder.resize_position_embedding(embedding, (2, 3), 0)
        layer = PatchEncoder(8, 2, hidden_dim=4)
        with pytest.raises(ValueError, match="2x2 grid"):
            layer.set_position_embedding(embedding)  # 6 is not a square.
        with pytest.raises(ValueError, match=r"\(1, length, 4\)"):
            layer.set_position_embedding(np.zeros((1, 5, 3), "float32"))

    def test_set_position_embedding_resizes_to_own_grid(self):
        layer = PatchEncoder(16, 4, hidden_dim=3, num_channels=1)  # a 4 x 4 grid
        embedding = np.arange(5 * 3, dtype="float32").reshape(1, 5, 3)  # 2 x 2
        layer.set_position_embedding(embedding)
        stored = ops.convert_to_numpy(layer.position_embedding)
        assert stored.shape == (1, 17, 3)
        self.assertAllClose(stored[0, 0], embedding[0, 0])
        expected = _bilinear_reference(embedding[0, 1:].reshape(2, 2, 3), (4, 4))
        self.assertAllClose(stored[0, 1:], expected.reshape(16, 3), atol=1e-5, rtol=1e-5)
