import numpy as np
import pytest
from keras import ops

from keras_seqattn.layers import BahdanauAttention
from tests.numpy_reference import additive_attention, softmax
from tests.test_case import TestCase


def _data(batch=2, source=5, query_dim=12, value_dim=16, seed=0):
    rng = np.random.default_rng(seed)
    query = rng.normal(size=(batch, query_dim)).astype("float32")
    value = rng.normal(size=(batch, source, value_dim)).astype("float32")
    return query, value


class TestBahdanauAttention(TestCase):
    def test_layer_behaviour(self, tmp_path):
        query, value = _data()
        self.run_layer_test(
            BahdanauAttention,
            init_kwargs={"units": 8, "score_mode": "additive", "dropout": 0.0},
            input_data=[query, value],
            expected_output_shape=((2, 16), (2, 5)),
            expected_num_trainable_weights=3,  # W_q, W_k and v
            tmp_path=tmp_path,
        )

    def test_multi_step_queries(self):
        query, value = _data()
        context, weights = BahdanauAttention(8)(np.stack([query, query], 1), value)
        assert tuple(context.shape) == (2, 2, 16) and tuple(weights.shape) == (2, 2, 5)

    def test_matches_numpy_formula(self):
        query, value = _data()
        mask = np.array([[True, True, True, False, False], [True] * 5])
        layer = BahdanauAttention(8)
        context, weights = layer(query, value, padding_mask=mask)
        w_q = ops.convert_to_numpy(layer.query_dense.kernel)
        w_k = ops.convert_to_numpy(layer.key_dense.kernel)
        v = ops.convert_to_numpy(layer.score_layer.scale)
        expected_context, expected_weights = additive_attention(query, value, w_q, w_k, v, mask)
        self.assertAllClose(weights, expected_weights, atol=1e-5)
        self.assertAllClose(context, expected_context, atol=1e-5)

    @pytest.mark.parametrize("score_mode", ["dot", "cosine"])
    def test_alternative_scores_match_numpy(self, score_mode):
        query, value = _data()
        layer = BahdanauAttention(8, score_mode=score_mode)
        context, weights = layer(query, value)
        q = query @ ops.convert_to_numpy(layer.query_dense.kernel)
        k = value @ ops.convert_to_numpy(layer.key_dense.kernel)
        if score_mode == "dot":
            scores = np.einsum("bu,bsu->bs", q, k) / np.sqrt(8)
        else:
            q = q / np.linalg.norm(q, axis=-1, keepdims=True)
            k = k / np.linalg.norm(k, axis=-1, keepdims=True)
            scale = ops.convert_to_numpy(layer.score_layer.scale)
            scores = scale * np.einsum("bu,bsu->bs", q, k)
        expected = softmax(scores)
        self.assertAllClose(weights, expected, atol=1e-5)
        self.assertAllClose(context, (expected[:, :, None] * value).sum(1), atol=1e-5)

    def test_padding_gets_no_weight_and_changes_nothing(self):
        query, value = _data()
        layer = BahdanauAttention(8)
        context, weights = layer(query, value)
        padded = np.concatenate([value, np.full((2, 3, 16), 7.0, "float32")], axis=1)
        mask = np.array([[True] * 5 + [False] * 3] * 2)
        padded_context, padded_weights = layer(query, padded, padding_mask=mask)
        self.assertAllClose(padded_context, context, atol=1e-6)
        padded_weights = ops.convert_to_numpy(padded_weights)
        assert np.all(padded_weights[:, 5:] == 0.0)
        self.assertAllClose(padded_weights.sum(-1), np.ones(2), atol=1e-6)

    def test_all_padding_row_gets_zero_weights(self):
        query, value = _data()
        mask = np.array([[False] * 5, [True] * 5])
        context, weights = BahdanauAttention(8)(query, value, padding_mask=mask)
        assert np.all(ops.convert_to_numpy(weights)[0] == 0.0)
        assert np.all(ops.convert_to_numpy(context)[0] == 0.0)

    def test_precomputed_keys_give_the_same_result(self):
        query, value = _data()
        layer = BahdanauAttention(8)
        expected = layer(query, value)
        self.assertAllClose(layer(query, value, keys=layer.project_keys(value)), expected)

    @pytest.mark.parametrize(
        "kwargs, message",
        [
            ({"units": 0}, "units"),
            ({"units": 4, "score_mode": "mlp"}, "score_mode"),
            ({"units": 4, "dropout": 1.5}, "dropout"),
        ],
    )
    def test_bad_arguments(self, kwargs, message):
        with pytest.raises(ValueError, match=message):
            BahdanauAttention(**kwargs)

    def test_bad_value_rank(self):
        query, value = _data()
        with pytest.raises(ValueError, match="value"):
            BahdanauAttention(8)(query, value[:, 0])
