import numpy as np
import pytest
from keras import ops

from keras_seqattn.layers import RNNEncoder
from tests.numpy_reference import gru_sequence
from tests.test_case import TestCase

IDS = np.array([[5, 6, 7, 8], [3, 9, 0, 0]], dtype="int32")


class TestRNNEncoder(TestCase):
    @pytest.mark.parametrize(
        "rnn_type, bidirectional, weights",
        [
            ("gru", False, 4),
            ("lstm", False, 4),
            ("gru", True, 7),
        ],
    )
    def test_layer_behaviour(self, rnn_type, bidirectional, weights, tmp_path):
        width = 32 if bidirectional else 16
        states = (width,) if rnn_type == "gru" else (width, width)
        self.run_layer_test(
            RNNEncoder,
            init_kwargs={
                "vocabulary_size": 12,
                "embedding_dim": 8,
                "units": 16,
                "rnn_type": rnn_type,
                "bidirectional": bidirectional,
                "dropout": 0.0,
            },
            input_data=IDS,
            expected_output_shape=((2, 4, width), tuple((2, w) for w in states)),
            expected_num_trainable_weights=weights,
            tmp_path=tmp_path,
        )

    def test_gru_matches_numpy(self):
        encoder = RNNEncoder(12, 8, 16)
        outputs, (state,) = encoder(IDS)
        embedded = ops.convert_to_numpy(encoder.embedding.embeddings)[IDS]
        cell = encoder.rnn.cell
        expected_outputs, expected_state = gru_sequence(
            embedded,
            np.zeros((2, 16), "float32"),
            *(ops.convert_to_numpy(w) for w in (cell.kernel, cell.recurrent_kernel, cell.bias)),
            mask=IDS != 0,
        )
        self.assertAllClose(state, expected_state, atol=1e-5)
        real = ops.convert_to_numpy(outputs)[0]
        self.assertAllClose(real, expected_outputs[0], atol=1e-5)

    @pytest.mark.parametrize("rnn_type, bidirectional", [("gru", True), ("lstm", False)])
    def test_final_state_ignores_padding(self, rnn_type, bidirectional):
        encoder = RNNEncoder(12, 8, 16, rnn_type=rnn_type, bidirectional=bidirectional)
        _, short = encoder(IDS[:, :2])
        _, padded = encoder(np.pad(IDS[:, :2], ((0, 0), (0, 5))))
        self.assertAllClose(padded, short, atol=1e-6)

    def test_bad_input(self):
        with pytest.raises(ValueError, match="rnn_type"):
            RNNEncoder(12, 8, 16, rnn_type="rnn")
        with pytest.raises(ValueError, match="units"):
            RNNEncoder(12, 8, 0)
        with pytest.raises(ValueError, match="dropout"):
            RNNEncoder(12, 8, 16, dropout=1.0)
        with pytest.raises(ValueError, match="token_ids"):
            RNNEncoder(12, 8, 16)(np.ones((2, 3, 1), "int32"))


# Right-padded rows (one all padding) and rows that are not right-padded.
RIGHT_PADDED = np.array([[5, 6, 7, 8, 2], [3, 9, 0, 0, 0], [0, 0, 0, 0, 0]], "int32")
NOT_RIGHT_PADDED = np.array([[5, 0, 7, 8, 2], [3, 9, 0, 0, 0]], "int32")


def test_right_padded():
    from keras_seqattn.layers._rnn import right_padded

    assert right_padded(ops.convert_to_tensor(RIGHT_PADDED != 0))
    assert not right_padded(ops.convert_to_tensor(NOT_RIGHT_PADDED != 0))
    assert not right_padded(ops.convert_to_tensor(np.array([[False, True]])))


def test_unmasked_gru_equals_the_masked_one():
    """The torch fast path's arithmetic, on every backend, against Keras's masked GRU."""
    encoder = RNNEncoder(12, 8, 16)
    encoder.build(RIGHT_PADDED.shape)
    mask = ops.convert_to_tensor(RIGHT_PADDED != 0)
    x = encoder.embedding(RIGHT_PADDED)
    outputs, (state,) = encoder._right_padded_gru(x, mask)
    expected_outputs, expected_state = encoder.rnn(x, mask=mask)
    # Every position: padded ones repeat the last real output (zeros for an empty row).
    np.testing.assert_allclose(
        ops.convert_to_numpy(outputs), ops.convert_to_numpy(expected_outputs), atol=1e-6
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(state), ops.convert_to_numpy(expected_state), atol=1e-6
    )
    assert not np.any(ops.convert_to_numpy(state)[2])


@pytest.mark.only_backend("torch", reason="the fast path is taken on torch only")
def test_torch_call_takes_the_fast_path_only_where_exact():
    import torch

    encoder = RNNEncoder(12, 8, 16)
    encoder.build(RIGHT_PADDED.shape)
    assert encoder._runs_unmasked(ops.convert_to_tensor(RIGHT_PADDED != 0))
    assert not encoder._runs_unmasked(ops.convert_to_tensor(NOT_RIGHT_PADDED != 0))
    assert not RNNEncoder(12, 8, 16, rnn_type="lstm")._runs_unmasked(
        ops.convert_to_tensor(RIGHT_PADDED != 0)
    )
    for ids in (RIGHT_PADDED, NOT_RIGHT_PADDED):
        mask = ops.convert_to_tensor(ids != 0)
        fast_outputs, (fast_state,) = encoder(ids)
        outputs, state = encoder.rnn(encoder.embedding(ids), mask=mask)
        np.testing.assert_allclose(
            ops.convert_to_numpy(fast_outputs), ops.convert_to_numpy(outputs), atol=1e-6
        )
        np.testing.assert_allclose(
            ops.convert_to_numpy(fast_state), ops.convert_to_numpy(state), atol=1e-6
        )
    # Gradients of every weight, through the fast path and through the masked loop.
    upstream = torch.as_tensor(
        np.random.default_rng(0).normal(size=(3, 5, 16)), dtype=torch.float32
    )
    weights = [v.value for v in encoder.trainable_variables]
    mask = ops.convert_to_tensor(RIGHT_PADDED != 0)
    fast, _ = encoder(RIGHT_PADDED)
    slow, _ = encoder.rnn(encoder.embedding(RIGHT_PADDED), mask=mask)
    for got, want in zip(
        torch.autograd.grad((fast * upstream).sum(), weights),
        torch.autograd.grad((slow * upstream).sum(), weights),
    ):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)
