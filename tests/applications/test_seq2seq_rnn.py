from keras_seqattn.applications import Seq2SeqRNN
from tests.numpy_reference import gru_parameter_count


def test_parameter_count(char_tokenizers):
    model = Seq2SeqRNN(*char_tokenizers, embedding_dim=16, hidden_dim=32)
    vs, vt = (t.vocabulary_size for t in char_tokenizers)
    e, h = 16, 32
    expected = (
        vs * e
        + gru_parameter_count(e, h)  # encoder
        + vt * e
        + gru_parameter_count(e + h, h)  # decoder embedding, GRU over [E y; c]
        + 2 * h * vt
        + vt  # output layer over [s; c]
    )
    assert model.count_params() == expected


def test_has_no_attention(char_tokenizers):
    model = Seq2SeqRNN(*char_tokenizers, embedding_dim=16, hidden_dim=32)
    result = model.translate(["forty two", "seven"], max_length=6)
    assert all(a.size == 0 for a in result.attention)
    assert len(result.text) == 2
