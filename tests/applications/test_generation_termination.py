"""Decoding always ends, and is deterministic, for every family of generative model.

A model that can never emit `[STOP]` (its output bias for `[STOP]` is -1e9)
must return exactly `max_length` tokens under greedy and beam search; the same
input decoded twice must give the same ids.
"""

import functools

import numpy as np
import pytest
from keras import ops

from keras_seqattn.applications import (
    RNNCaptioner,
    Seq2SeqRNN,
    TransformerCaptioner,
    TransformerSeq2Seq,
)
from keras_seqattn.text import SequenceTokenizer

IMAGES = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 1)).astype("uint8")
TEXTS = ["forty two", "seven"]


@functools.lru_cache
def _tokenizers():
    return (
        SequenceTokenizer.from_corpus(TEXTS, mode="character"),
        SequenceTokenizer.from_corpus(["zweiundvierzig", "sieben"], mode="character"),
        SequenceTokenizer.from_corpus(["one two", "three four"]),
    )


def _build(family):
    source, target, captions = _tokenizers()
    if family == "rnn_seq2seq":
        model = Seq2SeqRNN(source, target, embedding_dim=8, hidden_dim=16, max_target_length=9)
        return model, model.decoder.output_dense, target
    if family == "transformer_seq2seq":
        model = TransformerSeq2Seq(
            source,
            target,
            hidden_dim=16,
            num_layers=1,
            num_heads=2,
            intermediate_dim=16,
            tie_output_embedding=False,
            max_target_length=9,
        )
        return model, model.output_dense, target
    if family == "rnn_captioner":
        model = RNNCaptioner(
            captions,
            image_size=(32, 32),
            filters=(8,),
            embedding_dim=8,
            hidden_dim=16,
            feature_dim=8,
            max_caption_length=9,
        )
        return model, model.decoder.output_dense, captions
    model = TransformerCaptioner(
        captions,
        image_size=(32, 32),
        hidden_dim=16,
        intermediate_dim=16,
        tie_output_embedding=False,
        max_caption_length=9,
    )
    return model, model.output_dense, captions


def _generate(model, **kwargs):
    if hasattr(model, "translate"):
        return model.translate(TEXTS, **kwargs)
    return model.caption(IMAGES, **kwargs)


FAMILIES = ["rnn_seq2seq", "transformer_seq2seq", "rnn_captioner", "transformer_captioner"]


@pytest.mark.parametrize("family", FAMILIES)
def test_never_stopping_model_ends_at_max_length_and_is_deterministic(family):
    model, output_dense, tokenizer = _build(family)
    bias = ops.convert_to_numpy(output_dense.bias).copy()
    bias[tokenizer.stop_id] = -1e9  # [STOP] becomes impossible
    output_dense.bias.assign(bias)
    # Greedy over the model's whole buffer, beam search over less of it.
    for beam_width, max_length in [(1, 9), (3, 4)]:
        first = _generate(model, max_length=max_length, beam_width=beam_width)
        assert first.ids.shape == (2, max_length)
        assert first.lengths.tolist() == [max_length, max_length]
        assert tokenizer.stop_id not in first.ids
        assert [len(a) for a in first.attention] == [max_length, max_length]
        again = _generate(model, max_length=max_length, beam_width=beam_width)
        np.testing.assert_array_equal(again.ids, first.ids)
        np.testing.assert_array_equal(again.scores, first.scores)


def test_pad_emitted_before_the_end_keeps_tokens_and_attention_rows_aligned(tmp_path):
    """A barely trained model may emit `[PAD]` (id 0) mid-output: the heat map still draws."""
    from keras_seqattn.visualization import plot_attention_heatmap

    model, output_dense, tokenizer = _build("transformer_seq2seq")
    bias = np.zeros(ops.convert_to_numpy(output_dense.bias).shape, "float32")
    bias[0] = 1e9  # [PAD] always wins; [STOP] never comes
    output_dense.bias.assign(bias)
    result = model.translate(TEXTS, max_length=5)
    assert result.ids.tolist() == [[0] * 5, [0] * 5] and result.lengths.tolist() == [5, 5]
    for attention, tokens, inputs in zip(
        result.attention, result.output_tokens, result.input_tokens
    ):
        assert tokens == ["[PAD]"] * 5 and attention.shape == (5, len(inputs))
    plot_attention_heatmap(
        result.attention[0], result.input_tokens[0], result.output_tokens[0],
        path=str(tmp_path / "map.png"),
    )  # fmt: skip
    assert (tmp_path / "map.png").read_bytes()[:4] == b"\x89PNG"
