"""Checks every translation application passes, run for each of them."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_seqattn.applications import AttentionSeq2Seq, LuongSeq2Seq, Seq2SeqRNN
from tests.applications import seq2seq_checks as checks

MODELS = [Seq2SeqRNN, AttentionSeq2Seq, LuongSeq2Seq]


def _model(cls, tokenizers, **kwargs):
    settings = dict(embedding_dim=16, hidden_dim=32, max_source_length=24, max_target_length=30)
    settings.update(kwargs)
    return cls(*tokenizers, **settings)


@pytest.mark.parametrize("cls", MODELS)
def test_fit_learns(cls, number_pairs, char_tokenizers):
    first, last = checks.fit_learns(_model(cls, char_tokenizers), number_pairs)
    assert last < 0.3 * first, (first, last)


@pytest.mark.parametrize("cls", MODELS)
def test_beam_width_one_equals_greedy(cls, char_tokenizers):
    model = _model(cls, char_tokenizers)
    texts = ["forty two", "one hundred"]
    greedy = model.translate(texts, max_length=10)
    beam = model.translate(texts, max_length=10, beam_width=1)
    np.testing.assert_array_equal(greedy.ids, beam.ids)
    np.testing.assert_allclose(beam.scores, greedy.scores, atol=1e-5)
    wide = model.translate(texts, max_length=10, beam_width=3, length_penalty=0.6)
    assert wide.ids.shape == (2, 10) and np.all(np.isfinite(wide.scores))


@pytest.mark.parametrize("cls", MODELS)
def test_generation_ends_without_stop(cls, char_tokenizers):
    model = _model(cls, char_tokenizers)
    checks.never_stop(model)
    for beam_width in (1, 3):
        result = model.translate(["forty two"], max_length=7, beam_width=beam_width)
        assert result.lengths.tolist() == [7]
        assert model.target_tokenizer.stop_id not in result.ids[0]


@pytest.mark.parametrize("cls", MODELS)
def test_save_load_keeps_vocabulary_and_outputs(cls, char_tokenizers, tmp_path):
    model = _model(cls, char_tokenizers)
    path = str(tmp_path / "model.keras")
    model.save(path)
    revived = keras.saving.load_model(path, safe_mode=True)
    texts = ["forty two", "ninety nine"]
    expected, actual = model.translate(texts), revived.translate(texts)
    assert actual.text == expected.text
    for got, want in zip(actual.attention, expected.attention):
        np.testing.assert_allclose(got, want, atol=1e-6)
    assert revived.get_config() == model.get_config()


@pytest.mark.only_backend("tensorflow", reason="saves once, reloads under the other two")
def test_saved_models_load_on_other_backends(char_tokenizers, tmp_path):
    texts = ["forty two", "ninety nine", "seven"]
    paths, expected = [], []
    for cls in MODELS:
        model = _model(cls, char_tokenizers)
        paths.append(str(tmp_path / f"{cls.__name__}.keras"))
        model.save(paths[-1])
        expected.append(model.translate(texts).ids)
    for backend, ids in checks.reload_on_backends(paths, texts, checks.other_backends()).items():
        for got, want, path in zip(ids, expected, paths):
            np.testing.assert_array_equal(got, want, err_msg=f"{path} on {backend}")


@pytest.mark.parametrize("cls", MODELS)
def test_bad_input(cls, char_tokenizers):
    model = _model(cls, char_tokenizers)
    with pytest.raises(ValueError, match="at least one"):
        model.translate([])
    with pytest.raises(TypeError, match="strings"):
        model.translate([42])
    assert len(model.translate([""]).text) == 1  # empty source: [STOP] only
    assert len(model.translate(["forty two ☃ §"]).text) == 1  # unknown chars -> [UNK]
    with pytest.warns(UserWarning, match="truncated"):
        model.translate(["seven hundred and seventy seven thousand"])
    with pytest.raises(ValueError, match="max_source_length"):
        _model(cls, char_tokenizers, max_source_length=1)
    with pytest.raises(ValueError, match="source_tokenizer"):
        cls(None, char_tokenizers[1])
    with pytest.raises(ValueError, match="beam_width"):
        model.translate(["seven"], beam_width=0)
    with pytest.raises(ValueError, match="hidden_dim"):
        _model(cls, char_tokenizers, bidirectional=True, hidden_dim=33)
    with pytest.raises(ValueError, match="rnn_type"):
        _model(cls, char_tokenizers, rnn_type="vanilla")


@pytest.mark.parametrize("cls", MODELS)
@pytest.mark.parametrize("rnn_type, bidirectional", [("lstm", False), ("gru", True)])
def test_variants_build_and_translate(cls, char_tokenizers, rnn_type, bidirectional):
    model = _model(cls, char_tokenizers, rnn_type=rnn_type, bidirectional=bidirectional)
    logits = model({"source_ids": np.array([[5, 6, 3]]), "target_ids": np.array([[2, 7]])})
    assert tuple(ops.shape(logits)) == (1, 2, char_tokenizers[1].vocabulary_size)
    assert len(model.translate(["seven"], max_length=4).text) == 1
