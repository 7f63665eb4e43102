import keras
import numpy as np
import pytest
from keras import ops

from keras_seqattn.applications import AttentionSeq2Seq
from keras_seqattn.layers import AttentionRNNDecoder, ContextRNNDecoder
from keras_seqattn.text import SequenceTokenizer
from tests.numpy_reference import additive_attention, gru_step
from tests.test_case import TestCase

TARGET = np.array([[2, 7, 9, 4], [2, 5, 3, 0]], dtype="int32")
RNG = np.random.default_rng(0)
H = RNG.normal(size=(2, 5, 16)).astype("float32")
S0 = RNG.normal(size=(2, 16)).astype("float32")
MASK = np.array([[True] * 3 + [False] * 2, [True] * 5])


def _numpy(x):
    return ops.convert_to_numpy(x)


class TestContextRNNDecoder(TestCase):
    def test_layer_behaviour(self, tmp_path):
        self.run_layer_test(
            ContextRNNDecoder,
            init_kwargs={
                "vocabulary_size": 11,
                "embedding_dim": 8,
                "units": 16,
                "rnn_type": "lstm",
                "dropout": 0.0,
            },
            input_data=[TARGET, (S0, S0), S0],
            expected_output_shape=(2, 4, 11),
            expected_num_trainable_weights=6,
            tmp_path=tmp_path,
        )

    def test_matches_numpy_gru(self):
        decoder = ContextRNNDecoder(11, 8, 16)
        logits = _numpy(decoder(TARGET, (S0,), S0))
        embeddings = _numpy(decoder.embedding.embeddings)
        cell = decoder.rnn.cell
        weights = [_numpy(w) for w in (cell.kernel, cell.recurrent_kernel, cell.bias)]
        kernel, bias = _numpy(decoder.output_dense.kernel), _numpy(decoder.output_dense.bias)
        h = S0
        for t in range(TARGET.shape[1]):
            x = np.concatenate([embeddings[TARGET[:, t]], S0], axis=-1)
            h = gru_step(x, h, *weights)
            expected = np.concatenate([h, S0], axis=-1) @ kernel + bias
            self.assertAllClose(logits[:, t], expected, atol=1e-5)

    @pytest.mark.parametrize("rnn_type", ["gru", "lstm"])
    def test_step_equals_teacher_forcing(self, rnn_type):
        decoder = ContextRNNDecoder(11, 8, 16, rnn_type=rnn_type)
        state = (S0,) if rnn_type == "gru" else (S0, S0)
        full = decoder(TARGET, state, S0)
        steps = []
        for t in range(TARGET.shape[1]):
            logits, state = decoder.step(TARGET[:, t], state, S0)
            steps.append(_numpy(logits))
        self.assertAllClose(np.stack(steps, 1), full, atol=1e-5)

    def test_state_width_must_match_units(self):
        decoder = ContextRNNDecoder(11, 8, 16)
        with pytest.raises(ValueError, match="units"):
            decoder(TARGET, (S0[:, :8],), S0)
        with pytest.raises(ValueError, match="state tuple"):
            decoder(TARGET, (S0, S0), S0)


class TestAttentionRNNDecoder(TestCase):
    def test_layer_behaviour(self, tmp_path):
        self.run_layer_test(
            AttentionRNNDecoder,
            init_kwargs={
                "vocabulary_size": 11,
                "embedding_dim": 8,
                "units": 16,
                "attention_units": 12,
                "score_mode": "additive",
                "rnn_type": "gru",
                "dropout": 0.0,
            },
            input_data=[TARGET, (S0,), H, MASK],
            expected_output_shape=((2, 4, 11), (2, 4, 5)),
            expected_num_trainable_weights=9,
            tmp_path=tmp_path,
        )

    def test_matches_numpy_bahdanau_recurrence(self):
        decoder = AttentionRNNDecoder(11, 8, 16)
        logits, attention = decoder(TARGET, (S0,), H, MASK)
        logits, attention = _numpy(logits), _numpy(attention)
        embeddings = _numpy(decoder.embedding.embeddings)
        cell = decoder.rnn.cell
        weights = [_numpy(w) for w in (cell.kernel, cell.recurrent_kernel, cell.bias)]
        att = decoder.attention
        w_q, w_k = _numpy(att.query_dense.kernel), _numpy(att.key_dense.kernel)
        v = _numpy(att.score_layer.scale)
        kernel, bias = _numpy(decoder.output_dense.kernel), _numpy(decoder.output_dense.bias)
        s = S0
        for t in range(TARGET.shape[1]):
            context, a = additive_attention(s, H, w_q, w_k, v, MASK)  # uses s_{t-1}
            s = gru_step(np.concatenate([embeddings[TARGET[:, t]], context], -1), s, *weights)
            self.assertAllClose(attention[:, t], a, atol=1e-5)
            self.assertAllClose(
                logits[:, t], np.concatenate([s, context], -1) @ kernel + bias, atol=1e-4
            )

    @pytest.mark.parametrize("rnn_type", ["gru", "lstm"])
    def test_step_equals_teacher_forcing(self, rnn_type):
        decoder = AttentionRNNDecoder(11, 8, 16, rnn_type=rnn_type)
        state = (S0,) if rnn_type == "gru" else (S0, S0)
        full_logits, full_attention = decoder(TARGET, state, H, MASK)
        keys = decoder.precompute(H)
        logits, attention = [], []
        for t in range(TARGET.shape[1]):
            step_logits, state, weights = decoder.step(TARGET[:, t], state, H, keys, MASK)
            logits.append(_numpy(step_logits))
            attention.append(_numpy(weights))
        self.assertAllClose(np.stack(logits, 1), full_logits, atol=1e-5)
        self.assertAllClose(np.stack(attention, 1), full_attention, atol=1e-6)

    def test_source_padding_never_receives_attention(self):
        decoder = AttentionRNNDecoder(11, 8, 16)
        logits, attention = decoder(TARGET, (S0,), H, MASK)
        attention = _numpy(attention)
        assert np.all(attention[0, :, 3:] == 0.0)
        self.assertAllClose(attention.sum(-1), np.ones((2, 4)), atol=1e-6)
        # Extra padded positions with arbitrary values change nothing.
        padded = np.concatenate([H, np.full((2, 4, 16), 9.0, "float32")], axis=1)
        padded_mask = np.concatenate([MASK, np.zeros((2, 4), bool)], axis=1)
        padded_logits, _ = decoder(TARGET, (S0,), padded, padded_mask)
        self.assertAllClose(padded_logits, logits, atol=1e-5)


@pytest.mark.skipif(keras.backend.backend() == "torch", reason="torch.compile: not this check")
def test_attention_decoder_model_compiles_with_jit_compile_true():
    """TF's XLA has no form of the decoder's scan: such a model falls back to no XLA."""
    tokenizer = SequenceTokenizer.from_corpus(["ab", "ba", "abba"], mode="character")
    model = AttentionSeq2Seq(
        tokenizer, tokenizer, embedding_dim=4, hidden_dim=8, max_source_length=6,
        max_target_length=6,
    )  # fmt: skip
    model.compile(optimizer="adam", jit_compile=True)
    ids = np.array([[2, 4, 5, 3, 0, 0], [2, 5, 4, 4, 3, 0]])
    loss = model.train_on_batch({"source_ids": ids, "target_ids": ids}, ids)
    assert np.isfinite(float(keras.tree.flatten(loss)[0]))
    assert model.jit_compile == (keras.backend.backend() != "tensorflow")
