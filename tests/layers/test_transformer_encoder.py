import numpy as np
import pytest
from keras import ops

from keras_seqattn.layers import TransformerEncoder
from tests.test_case import TestCase


def _data(batch=2, length=5, dim=16, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, length, dim)).astype("float32")
    mask = np.array([[True] * (length - 2) + [False] * 2, [True] * length])
    return x, mask


class TestTransformerEncoder(TestCase):
    def test_layer_behaviour(self, tmp_path):
        x, mask = _data()
        self.run_layer_test(
            TransformerEncoder,
            init_kwargs={
                "num_heads": 2,
                "intermediate_dim": 32,
                "dropout": 0.1,
                "activation": "gelu",
                "layer_norm_epsilon": 1e-6,
                "normalize_first": True,
                "key_dim": 4,
            },
            input_data=[x, mask],  # inputs, padding_mask
            expected_output_shape=(2, 5, 16),
            # q, k, v, output: kernel + bias each; 2 norms; 2 MLP dense layers.
            expected_num_trainable_weights=8 + 4 + 4,
            tmp_path=tmp_path,
        )

    def test_attention_scores_shape_and_padding(self):
        x, mask = _data()
        outputs, scores = TransformerEncoder(2, 32)(
            x, padding_mask=mask, return_attention_scores=True
        )
        assert tuple(outputs.shape) == (2, 5, 16)
        scores = ops.convert_to_numpy(scores)
        assert scores.shape == (2, 2, 5, 5)
        assert np.all(scores[0, :, :, 3:] == 0.0)
        np.testing.assert_allclose(scores.sum(-1), 1.0, atol=1e-5)

    def test_padding_changes_nothing_at_real_positions(self):
        x, _ = _data(length=3)
        layer = TransformerEncoder(2, 32)
        expected = layer(x)
        padded = np.concatenate([x, np.full((2, 2, 16), 5.0, "float32")], axis=1)
        mask = np.array([[True] * 3 + [False] * 2] * 2)
        self.assertAllClose(layer(padded, padding_mask=mask)[:, :3], expected, atol=1e-5)

    def test_attention_mask_combines_with_padding_mask(self):
        x, mask = _data()
        layer = TransformerEncoder(2, 32)
        causal = np.tril(np.ones((5, 5), bool))[None].repeat(2, 0)
        _, scores = layer(x, padding_mask=mask, attention_mask=causal, return_attention_scores=True)
        scores = ops.convert_to_numpy(scores)
        assert np.all(scores[:, :, np.triu_indices(5, 1)[0], np.triu_indices(5, 1)[1]] == 0.0)
        assert np.all(scores[0, :, :, 3:] == 0.0)

    @pytest.mark.parametrize("normalize_first", [False, True])
    def test_matches_torch_transformer_encoder_layer(self, normalize_first):
        torch = pytest.importorskip("torch")
        from tests.layers.torch_transformer import torch_encoder_layer

        x, mask = _data()
        layer = TransformerEncoder(2, 32, normalize_first=normalize_first)
        outputs = layer(x, padding_mask=mask)
        reference = torch_encoder_layer(layer, 16)
        with torch.no_grad():
            expected = reference(
                torch.from_numpy(x), src_key_padding_mask=torch.from_numpy(~mask)
            ).numpy()
        self.assertAllClose(outputs, expected, atol=1e-5, rtol=1e-5)

    def test_bad_input(self):
        x, mask = _data()
        with pytest.raises(ValueError, match="num_heads=3"):
            TransformerEncoder(3, 32)(x)
        with pytest.raises(ValueError, match="intermediate_dim=0"):
            TransformerEncoder(2, 0)
        with pytest.raises(ValueError, match="dropout=1.5"):
            TransformerEncoder(2, 8, dropout=1.5)
        layer = TransformerEncoder(2, 32)
        with pytest.raises(ValueError, match=r"padding_mask.shape=\(2, 3\)"):
            layer(x, padding_mask=mask[:, :3])
        with pytest.raises(ValueError, match=r"attention_mask.shape=\(2, 5\)"):
            layer(x, attention_mask=mask)
        with pytest.raises(ValueError, match=r"inputs.shape=\(2, 16\)"):
            TransformerEncoder(2, 32)(x[:, 0])
