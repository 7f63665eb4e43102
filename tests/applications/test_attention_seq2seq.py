import numpy as np

from keras_seqattn.applications import AttentionSeq2Seq
from tests.numpy_reference import gru_parameter_count


def test_parameter_count(char_tokenizers):
    model = AttentionSeq2Seq(*char_tokenizers, embedding_dim=16, hidden_dim=32)
    vs, vt = (t.vocabulary_size for t in char_tokenizers)
    e, h = 16, 32
    expected = (
        vs * e
        + gru_parameter_count(e, h)  # encoder
        + vt * e
        + gru_parameter_count(e + h, h)  # decoder embedding, GRU over [E y; c]
        + 2 * h * h
        + h  # attention: W_q, W_k, v
        + 2 * h * vt
        + vt  # output layer over [s; c]
    )
    assert model.count_params() == expected


def test_attention_is_a_distribution_over_real_source_tokens(char_tokenizers):
    model = AttentionSeq2Seq(*char_tokenizers, embedding_dim=16, hidden_dim=32)
    result = model.translate(["forty two", "seven"], max_length=12)
    for row, attention in enumerate(result.attention):
        assert attention.shape == (result.lengths[row], len(result.input_tokens[row]))
        np.testing.assert_allclose(attention.sum(-1), 1.0, atol=1e-5)
    assert result.input_tokens[0][-1] == "[STOP]"
    assert len(result.input_tokens[1]) == len("seven") + 1
