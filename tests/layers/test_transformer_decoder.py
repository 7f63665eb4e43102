import numpy as np
import pytest
from keras import ops

from keras_seqattn.layers import TransformerDecoder
from tests.test_case import TestCase


def _data(batch=2, target=5, source=6, dim=16, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.normal(size=(batch, target, dim)).astype("float32")
    h = rng.normal(size=(batch, source, dim)).astype("float32")
    encoder_mask = np.array([[True] * (source - 2) + [False] * 2, [True] * source])
    return y, h, encoder_mask


def _decode_step_by_step(layer, y, h, encoder_mask):
    cache = layer.empty_cache(y.shape[0], y.shape[1])
    cross_kv = layer.precompute_cross(h)
    outputs, cross_scores = [], []
    for index in range(y.shape[1]):
        index = ops.convert_to_tensor(index, dtype="int32")
        output, cache, scores = layer.step(
            y[:, index : index + 1], cache, cross_kv, index, encoder_mask
        )
        outputs.append(ops.convert_to_numpy(output))
        cross_scores.append(ops.convert_to_numpy(scores))
    return np.concatenate(outputs, 1), np.stack(cross_scores, 2)


class TestTransformerDecoder(TestCase):
    def test_layer_behaviour(self, tmp_path):
        y, h, encoder_mask = _data()
        self.run_layer_test(
            TransformerDecoder,
            init_kwargs={
                "num_heads": 2,
                "intermediate_dim": 32,
                "dropout": 0.1,
                "activation": "gelu",
                "layer_norm_epsilon": 1e-6,
                "normalize_first": True,
                "key_dim": 4,
            },
            # decoder_sequence, encoder_sequence, decoder_padding_mask, encoder_padding_mask
            input_data=[y, h, np.ones((2, 5), bool), encoder_mask],
            expected_output_shape=(2, 5, 16),
            # 2 attentions x 8, 3 norms x 2, 2 MLP dense layers x 2.
            expected_num_trainable_weights=16 + 6 + 4,
            tmp_path=tmp_path,
        )

    def test_attention_scores(self):
        y, h, encoder_mask = _data()
        outputs, self_scores, cross_scores = TransformerDecoder(2, 32)(
            y, h, encoder_padding_mask=encoder_mask, return_attention_scores=True
        )
        assert tuple(outputs.shape) == (2, 5, 16)
        self_scores, cross_scores = map(ops.convert_to_numpy, (self_scores, cross_scores))
        assert self_scores.shape == (2, 2, 5, 5) and cross_scores.shape == (2, 2, 5, 6)
        upper = np.triu_indices(5, 1)
        assert np.all(self_scores[:, :, upper[0], upper[1]] == 0.0)  # causal
        assert np.all(cross_scores[0, :, :, 4:] == 0.0)  # padded source positions
        np.testing.assert_allclose(cross_scores.sum(-1), 1.0, atol=1e-5)

    def test_causality(self):
        y, h, _ = _data()
        layer = TransformerDecoder(2, 32)
        expected = ops.convert_to_numpy(layer(y, h))
        for j in range(1, 5):
            changed = y.copy()
            changed[:, j] += 3.0
            outputs = ops.convert_to_numpy(layer(changed, h))
            np.testing.assert_allclose(outputs[:, :j], expected[:, :j], atol=1e-5)
            assert not np.allclose(outputs[:, j], expected[:, j], atol=1e-3)

    def test_padded_source_changes_nothing(self):
        y, h, _ = _data(source=4)
        layer = TransformerDecoder(2, 32)
        expected = layer(y, h)
        padded = np.concatenate([h, np.full((2, 3, 16), 9.0, "float32")], axis=1)
        mask = np.array([[True] * 4 + [False] * 3] * 2)
        self.assertAllClose(layer(y, padded, encoder_padding_mask=mask), expected, atol=1e-5)

    @pytest.mark.parametrize("normalize_first", [False, True])
    def test_cached_steps_equal_full_decoding(self, normalize_first):
        y, h, encoder_mask = _data()
        layer = TransformerDecoder(2, 32, normalize_first=normalize_first)
        outputs, _, cross_scores = layer(
            y, h, encoder_padding_mask=encoder_mask, return_attention_scores=True
        )
        step_outputs, step_scores = _decode_step_by_step(layer, y, h, encoder_mask)
        self.assertAllClose(step_outputs, outputs, atol=1e-5, rtol=1e-5)
        self.assertAllClose(step_scores, cross_scores, atol=1e-6, rtol=1e-5)

    @pytest.mark.parametrize("normalize_first", [False, True])
    def test_matches_torch_transformer_decoder_layer(self, normalize_first):
        torch = pytest.importorskip("torch")
        from tests.layers.torch_transformer import torch_decoder_layer

        y, h, encoder_mask = _data()
        decoder_mask = np.array([[True] * 4 + [False], [True] * 5])
        layer = TransformerDecoder(2, 32, normalize_first=normalize_first)
        outputs = layer(y, h, decoder_mask, encoder_mask)
        reference = torch_decoder_layer(layer, 16)
        with torch.no_grad():
            expected = reference(
                torch.from_numpy(y),
                torch.from_numpy(h),
                tgt_mask=torch.ones(5, 5, dtype=torch.bool).triu(1),  # True: masked
                tgt_key_padding_mask=torch.from_numpy(~decoder_mask),
                memory_key_padding_mask=torch.from_numpy(~encoder_mask),
            ).numpy()
        self.assertAllClose(outputs, expected, atol=1e-5, rtol=1e-5)

    def test_bad_input(self):
        y, h, encoder_mask = _data()
        with pytest.raises(ValueError, match="num_heads=3"):
            TransformerDecoder(3, 32)(y, h)
        with pytest.raises(ValueError, match="key_dim=0"):
            TransformerDecoder(2, 32, key_dim=0)
        layer = TransformerDecoder(2, 32)
        with pytest.raises(ValueError, match=r"encoder_padding_mask.shape=\(2, 5\)"):
            layer(y, h, encoder_padding_mask=encoder_mask[:, :5])
        with pytest.raises(ValueError, match=r"decoder_padding_mask.shape|padding_mask.shape"):
            layer(y, h, decoder_padding_mask=encoder_mask)
        with pytest.raises(ValueError, match=r"encoder_sequence.shape=\(2, 16\)"):
            TransformerDecoder(2, 32)(y, h[:, 0])
