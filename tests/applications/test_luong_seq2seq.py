import numpy as np
import pytest

from keras_seqattn.applications import LuongSeq2Seq
from tests.numpy_reference import gru_parameter_count


@pytest.mark.parametrize(
    "score_mode, input_feeding, attention",
    [
        ("dot", True, 0),  # no weights of its own
        ("general", True, 32 * 32),  # W_a
        ("general", False, 32 * 32),
        ("concat", True, 2 * 32 * 32 + 32),  # W_q, W_k, v_a
    ],
)
def test_parameter_count(char_tokenizers, score_mode, input_feeding, attention):
    model = LuongSeq2Seq(
        *char_tokenizers, embedding_dim=16, hidden_dim=32, score_mode=score_mode,
        input_feeding=input_feeding,
    )  # fmt: skip
    vs, vt = (t.vocabulary_size for t in char_tokenizers)
    e, h = 16, 32
    expected = (
        vs * e
        + gru_parameter_count(e, h)  # encoder
        + vt * e
        + gru_parameter_count(e + h * input_feeding, h)  # decoder GRU over [E y; h~]
        + attention
        + 2 * h * h  # W_c over [c; h_t], no bias
        + h * vt
        + vt  # output layer over h~
    )
    assert model.count_params() == expected


def test_attention_is_a_distribution_over_real_source_tokens(char_tokenizers):
    model = LuongSeq2Seq(*char_tokenizers, embedding_dim=16, hidden_dim=32)
    for beam_width in (1, 3):
        result = model.translate(["forty two", "seven"], max_length=12, beam_width=beam_width)
        for row, attention in enumerate(result.attention):
            assert attention.shape == (result.lengths[row], len(result.input_tokens[row]))
            np.testing.assert_allclose(attention.sum(-1), 1.0, atol=1e-5)
