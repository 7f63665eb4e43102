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
