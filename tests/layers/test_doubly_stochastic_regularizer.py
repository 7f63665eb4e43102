import keras
import numpy as np
import pytest
from keras import ops

from keras_seqattn.layers import AttentionRNNDecoder, DoublyStochasticRegularizer
from tests.numpy_reference import additive_attention, gru_step, sigmoid, softmax
from tests.test_case import TestCase

RNG = np.random.default_rng(0)
ATTENTION = softmax(RNG.normal(size=(3, 5, 7))).astype("float32")  # (batch, T, cells)
MASK = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]], dtype=bool)
LOGITS = RNG.normal(size=(3, 5, 4)).astype("float32")


def _penalty(attention, mask, weight):
    """lambda * mean_b sum_i (1 - sum_{t real} a_{t,i})^2, written out in loops."""
    total = 0.0
    for b in range(attention.shape[0]):
        for i in range(attention.shape[2]):
            coverage = sum(attention[b, t, i] for t in range(attention.shape[1]) if mask[b, t])
            total += (1.0 - coverage) ** 2
    return weight * total / attention.shape[0]


class TestDoublyStochasticRegularizer(TestCase):
    def test_layer_behaviour(self, tmp_path):
        self.run_layer_test(
            DoublyStochasticRegularizer,
            init_kwargs={"penalty_weight": 0.5},
            input_data=[LOGITS, ATTENTION],
            expected_output_shape=(3, 5, 4),
            expected_output_data=LOGITS,
            expected_num_trainable_weights=0,
            run_training_check=False,
            tmp_path=tmp_path,
        )

    def test_penalty_matches_the_formula(self):
        layer = DoublyStochasticRegularizer(penalty_weight=0.3)
        layer(LOGITS, ATTENTION, MASK)
        (loss,) = layer.losses
        self.assertAllClose(loss, _penalty(ATTENTION, MASK, 0.3), atol=1e-5)
        full = DoublyStochasticRegularizer(penalty_weight=1.0)
        full(LOGITS, ATTENTION)
        self.assertAllClose(full.losses[0], _penalty(ATTENTION, np.ones((3, 5), bool), 1.0))

    def test_loss_reaches_fit(self):
        inputs = keras.Input((5, 7))
        outputs = DoublyStochasticRegularizer(2.0)(inputs, keras.layers.Softmax()(inputs))
        model = keras.Model(inputs, outputs)
        model.compile(loss=lambda y, p: ops.zeros(()))
        logs = model.evaluate(ATTENTION, ATTENTION, verbose=0, return_dict=True)
        expected = _penalty(softmax(ATTENTION), np.ones((3, 5), bool), 2.0)
        assert abs(logs["loss"] - expected) < 1e-4 * max(1.0, expected)

    def test_bad_weight(self):
        with pytest.raises(ValueError, match="penalty_weight"):
            DoublyStochasticRegularizer(-1.0)


def test_context_gate_scales_the_context_by_beta():
    """Xu et al. eq. (4.2.1): z_t = beta_t * sum_i a_{t,i} h_i, beta = sigmoid(f(s_{t-1}))."""
    target = np.array([[2, 7, 9], [2, 5, 3]], dtype="int32")
    h = RNG.normal(size=(2, 4, 16)).astype("float32")
    s0 = RNG.normal(size=(2, 16)).astype("float32")
    decoder = AttentionRNNDecoder(11, 8, 16, context_gate=True)
    logits, attention = (ops.convert_to_numpy(x) for x in decoder(target, (s0,), h))
    assert decoder.get_config()["context_gate"] is True
    numpy = ops.convert_to_numpy
    cell, att = decoder.rnn.cell, decoder.attention
    gru = [numpy(w) for w in (cell.kernel, cell.recurrent_kernel, cell.bias)]
    w_q, w_k, v = (
        numpy(w) for w in (att.query_dense.kernel, att.key_dense.kernel, att.score_layer.scale)
    )
    w_beta, b_beta = numpy(decoder.gate_dense.kernel), numpy(decoder.gate_dense.bias)
    embeddings = numpy(decoder.embedding.embeddings)
    kernel, bias = numpy(decoder.output_dense.kernel), numpy(decoder.output_dense.bias)
    s = s0
    for t in range(target.shape[1]):
        context, a = additive_attention(s, h, w_q, w_k, v)
        context = sigmoid(s @ w_beta + b_beta) * context
        s = gru_step(np.concatenate([embeddings[target[:, t]], context], -1), s, *gru)
        np.testing.assert_allclose(attention[:, t], a, atol=1e-5)
        np.testing.assert_allclose(
            logits[:, t], np.concatenate([s, context], -1) @ kernel + bias, atol=1e-4
        )
    # Without the option the decoder has no gate and two fewer weights.
    plain = AttentionRNNDecoder(11, 8, 16)
    plain(target, (s0,), h)
    assert plain.gate_dense is None
    assert len(plain.trainable_weights) == len(decoder.trainable_weights) - 2
