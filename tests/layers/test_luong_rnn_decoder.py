import numpy as np
import pytest
from keras import ops

from keras_seqattn.layers import LuongRNNDecoder
from tests.numpy_reference import gru_step, softmax
from tests.test_case import TestCase

TARGET = np.array([[2, 7, 9, 4], [2, 5, 3, 0]], dtype="int32")
RNG = np.random.default_rng(1)
H = RNG.normal(size=(2, 5, 16)).astype("float32")
H_WIDE = RNG.normal(size=(2, 5, 12)).astype("float32")
S0 = RNG.normal(size=(2, 16)).astype("float32")
MASK = np.array([[True] * 3 + [False] * 2, [True] * 5])


def _numpy(x):
    return ops.convert_to_numpy(x)


def luong_reference(decoder, target, s0, h, mask):
    """Luong et al. (2015), eqs. 5-8 and input feeding, in NumPy, from the layer's weights."""
    embeddings = _numpy(decoder.embedding.embeddings)
    cell = decoder.rnn.cell
    gru = [_numpy(w) for w in (cell.kernel, cell.recurrent_kernel, cell.bias)]
    w_c = _numpy(decoder.attentional_dense.kernel)
    w_o, b_o = _numpy(decoder.output_dense.kernel), _numpy(decoder.output_dense.bias)
    state, feed = s0, np.zeros_like(s0)
    logits, attention = [], []
    for t in range(target.shape[1]):
        x = embeddings[target[:, t]]
        if decoder.input_feeding:
            x = np.concatenate([x, feed], -1)
        state = gru_step(x, state, *gru)  # h_t, before attending
        if decoder.score_mode == "dot":
            scores = np.einsum("bu,bsu->bs", state, h)
        elif decoder.score_mode == "general":
            scores = np.einsum("bu,bsu->bs", state, h @ _numpy(decoder.key_dense.kernel))
        else:
            w_q, w_k = _numpy(decoder.query_dense.kernel), _numpy(decoder.key_dense.kernel)
            hidden = np.tanh((state @ w_q)[:, None] + h @ w_k)
            scores = hidden @ _numpy(decoder.score_vector)
        a = softmax(np.where(mask, scores, -np.inf))
        context = (a[:, :, None] * h).sum(1)
        feed = np.tanh(np.concatenate([context, state], -1) @ w_c)  # h~_t
        logits.append(feed @ w_o + b_o)
        attention.append(a)
    return np.stack(logits, 1), np.stack(attention, 1)


class TestLuongRNNDecoder(TestCase):
    def test_layer_behaviour(self, tmp_path):
        self.run_layer_test(
            LuongRNNDecoder,
            init_kwargs={
                "vocabulary_size": 11,
                "embedding_dim": 8,
                "units": 16,
                "score_mode": "concat",
                "input_feeding": True,
                "attention_units": 6,
                "rnn_type": "lstm",
                "dropout": 0.0,
            },
            input_data=[TARGET, (S0, S0), H_WIDE, MASK],
            expected_output_shape=((2, 4, 11), (2, 4, 5)),
            # embedding, LSTM (3), W_o (2), W_k, W_q, v_a, W_c
            expected_num_trainable_weights=10,
            tmp_path=tmp_path,
        )

    @pytest.mark.parametrize(
        "score_mode, input_feeding, values",
        [
            ("dot", True, H),
            ("general", True, H_WIDE),
            ("general", False, H_WIDE),
            ("concat", True, H_WIDE),
            ("concat", False, H),
        ],
    )
    def test_matches_numpy_luong_equations(self, score_mode, input_feeding, values):
        decoder = LuongRNNDecoder(11, 8, 16, score_mode=score_mode, input_feeding=input_feeding)
        logits, attention = decoder(TARGET, (S0,), values, MASK)
        expected_logits, expected_attention = luong_reference(decoder, TARGET, S0, values, MASK)
        self.assertAllClose(attention, expected_attention, atol=1e-5)
        self.assertAllClose(logits, expected_logits, atol=1e-4)

    @pytest.mark.parametrize("rnn_type, input_feeding", [("gru", True), ("lstm", False)])
    def test_step_equals_teacher_forcing(self, rnn_type, input_feeding):
        decoder = LuongRNNDecoder(11, 8, 16, rnn_type=rnn_type, input_feeding=input_feeding)
        initial = (S0,) if rnn_type == "gru" else (S0, S0)
        full_logits, full_attention = decoder(TARGET, initial, H_WIDE, MASK)
        keys, state = decoder.precompute(H_WIDE), decoder.start_state(initial)
        logits, attention = [], []
        for t in range(TARGET.shape[1]):
            step_logits, state, weights = decoder.step(TARGET[:, t], state, H_WIDE, keys, MASK)
            logits.append(_numpy(step_logits))
            attention.append(_numpy(weights))
        assert len(state) == len(initial) + int(input_feeding)
        self.assertAllClose(np.stack(logits, 1), full_logits, atol=1e-5)
        self.assertAllClose(np.stack(attention, 1), full_attention, atol=1e-6)

    def test_padding_gets_no_attention_and_its_values_change_nothing(self):
        decoder = LuongRNNDecoder(11, 8, 16)
        logits, attention = decoder(TARGET, (S0,), H, MASK)
        attention = _numpy(attention)
        assert np.all(attention[0, :, 3:] == 0.0)
        self.assertAllClose(attention.sum(-1), np.ones((2, 4)), atol=1e-6)
        padded = np.concatenate([H, np.full((2, 3, 16), np.nan, "float32")], axis=1)
        padded_mask = np.concatenate([MASK, np.zeros((2, 3), bool)], axis=1)
        padded_logits, _ = decoder(TARGET, (S0,), padded, padded_mask)
        self.assertAllClose(padded_logits, logits, atol=1e-5)

    def test_bad_arguments_are_refused(self):
        with pytest.raises(ValueError, match="`score_mode` must be one of"):
            LuongRNNDecoder(11, 8, 16, score_mode="additive")
        with pytest.raises(ValueError, match="`attention_units` must be a positive int"):
            LuongRNNDecoder(11, 8, 16, score_mode="concat", attention_units=0)
        with pytest.raises(ValueError, match="`dot` score needs encoder states as wide"):
            LuongRNNDecoder(11, 8, 16, score_mode="dot")(TARGET, (S0,), H_WIDE)
        with pytest.raises(ValueError, match="state tuple"):
            LuongRNNDecoder(11, 8, 16)(TARGET, (S0, S0), H)
