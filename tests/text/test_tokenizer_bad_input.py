"""Bad input to SequenceTokenizer: table of case id -> (call, exception, message regex)."""

import functools
import os

import numpy as np
import pytest
import tensorflow as tf

from keras_seqattn.text import SPECIAL_TOKENS, SequenceTokenizer

pytestmark = pytest.mark.backend_independent(reason="argument checks; no Keras backend")
VOCABULARY = [*SPECIAL_TOKENS, "the", "cat"]


@pytest.fixture(autouse=True)
def _seeded():
    """Overrides tests/conftest.py's, whose `clear_session()` (a full garbage
    collection, about 1 s) after each case would dominate this table's time."""


@functools.lru_cache
def _tokenizer():
    return SequenceTokenizer(VOCABULARY)


CASES = {
    "mode_unknown": (
        lambda: SequenceTokenizer(VOCABULARY, mode="bytes"),
        ValueError,
        r"one of \('word_piece', 'character', 'sentence_piece'\). Received: mode='bytes'$",
    ),
    "mode_none": (lambda: SequenceTokenizer(VOCABULARY, mode=None), ValueError, "mode=None$"),
    "from_corpus_mode_unknown": (
        lambda: SequenceTokenizer.from_corpus(["a"], mode="bpe"),
        ValueError,
        "Received: mode='bpe'$",
    ),
    "no_vocabulary": (
        lambda: SequenceTokenizer(),
        ValueError,
        "needs a `vocabulary`. Received: vocabulary=None$",
    ),
    "vocabulary_int": (
        lambda: SequenceTokenizer(5),
        ValueError,
        "list of str. Received: vocabulary=5$",
    ),
    "vocabulary_string": (
        lambda: SequenceTokenizer("abc"),
        ValueError,
        "list of str. Received: vocabulary='abc'$",
    ),
    "vocabulary_dict": (
        lambda: SequenceTokenizer(dict.fromkeys(VOCABULARY)),
        ValueError,
        "list of str",
    ),
    "vocabulary_empty": (
        lambda: SequenceTokenizer([]),
        ValueError,
        r"must start with .*Received: vocabulary\[:4\]=\[\]",
    ),
    "vocabulary_non_string_token": (
        lambda: SequenceTokenizer([*VOCABULARY, 7]),
        ValueError,
        "list of str",
    ),
    "vocabulary_without_specials": (
        lambda: SequenceTokenizer(["the", "cat"]),
        ValueError,
        r"must start with \['\[PAD\]', '\[UNK\]', '\[START\]', '\[STOP\]'\]",
    ),
    "vocabulary_repeated_token": (
        lambda: SequenceTokenizer([*VOCABULARY, "cat"]),
        ValueError,
        r"repeated=\['cat'\]$",
    ),
    "character_vocabulary_of_words": (
        lambda: SequenceTokenizer(VOCABULARY, mode="character"),
        ValueError,
        r"one character. Received: \['the', 'cat'\]$",
    ),
    "lowercase_not_bool": (
        lambda: SequenceTokenizer(VOCABULARY, lowercase="no"),
        ValueError,
        "Received: lowercase='no'$",
    ),
    "sequence_length_0": (
        lambda: SequenceTokenizer(VOCABULARY, sequence_length=0),
        ValueError,
        "Received: sequence_length=0$",
    ),
    "sequence_length_float": (
        lambda: SequenceTokenizer(VOCABULARY, sequence_length=2.5),
        ValueError,
        "Received: sequence_length=2.5$",
    ),
    "vocabulary_size_below_specials": (
        lambda: SequenceTokenizer.from_corpus(["the cat"], vocabulary_size=3),
        ValueError,
        r"int > 4, room for the special tokens .*Received: vocabulary_size=3$",
    ),
    "vocabulary_size_of_specials_only": (
        lambda: SequenceTokenizer.from_corpus(["the cat"], vocabulary_size=4),
        ValueError,
        "Received: vocabulary_size=4$",
    ),
    "vocabulary_size_bool": (
        lambda: SequenceTokenizer.from_corpus(["the cat"], vocabulary_size=True),
        ValueError,
        "Received: vocabulary_size=True$",
    ),
    "vocabulary_size_float": (
        lambda: SequenceTokenizer.from_corpus(["the cat"], vocabulary_size=10.0),
        ValueError,
        "Received: vocabulary_size=10.0$",
    ),
    "corpus_empty_list": (
        lambda: SequenceTokenizer.from_corpus([]),
        ValueError,
        "empty corpus",
    ),
    "corpus_empty_dataset": (
        lambda: SequenceTokenizer.from_corpus(
            tf.data.Dataset.from_tensor_slices(tf.constant([], tf.string))
        ),
        ValueError,
        "empty corpus",
    ),
    "corpus_of_blank_texts": (
        lambda: SequenceTokenizer.from_corpus(["", "  "]),
        ValueError,
        r"every text is empty or blank. Received: texts\[:3\]=\['', '  '\]$",
    ),
    "corpus_of_blank_texts_character": (
        lambda: SequenceTokenizer.from_corpus([""], mode="character"),
        ValueError,
        "every text is empty or blank",
    ),
    "corpus_none": (
        lambda: SequenceTokenizer.from_corpus(None),
        TypeError,
        "Received: texts=None$",
    ),
    "corpus_int": (lambda: SequenceTokenizer.from_corpus(5), TypeError, "Received: texts=5$"),
    "corpus_non_string_item": (
        lambda: SequenceTokenizer.from_corpus(["the cat", None]),
        TypeError,
        r"Received: texts items \[None\]$",
    ),
    "corpus_dataset_of_ints": (
        lambda: SequenceTokenizer.from_corpus(tf.data.Dataset.from_tensor_slices([1, 2])),
        TypeError,
        "corpus of strings",
    ),
    "sentence_piece_without_proto": (
        lambda: SequenceTokenizer(mode="sentence_piece"),
        ValueError,
        "Received: proto=None$",
    ),
    "call_none": (lambda: _tokenizer()(None), TypeError, "Received: inputs.dtype=NoneType"),
    "call_int": (lambda: _tokenizer()(5), TypeError, "Received: inputs.dtype=int"),
    "call_non_string_item": (lambda: _tokenizer()([None]), TypeError, "Expected a string"),
    # Not UTF-8, in every form a text comes in: the exported SavedModel refuses the
    # same texts, naming the row and the byte (tests/export/test_odd_inputs_export.py).
    "call_bytes_not_utf8": (
        lambda: _tokenizer()([b"the", b"the \xff cat"]),
        ValueError,
        r"text 1 is not UTF-8 from byte 4 \(0xff, invalid start byte\)",
    ),
    "call_numpy_bytes_not_utf8": (
        lambda: _tokenizer()(np.array([b"the", b"cat", b"a\xe2\x82"])),
        ValueError,
        r"text 2 is not UTF-8 from byte 1 \(0xe2, unexpected end of data\)",
    ),
    "call_tensor_not_utf8": (
        lambda: _tokenizer()(tf.constant([b"the", b"\xed\xa0\x80"])),
        ValueError,
        r"text 1 is not UTF-8 from byte 0 \(0xed, invalid continuation byte\)",
    ),
    "call_scalar_tensor_not_utf8": (
        lambda: _tokenizer()(tf.constant(b"\xc0\x80")),
        ValueError,
        r"text 0 is not UTF-8 from byte 0 \(0xc0",
    ),
    "call_lone_surrogate": (
        lambda: _tokenizer()(["the \ud800"]),
        ValueError,
        r"text 0 is not UTF-8 from byte 4 \('\\ud800' at character 4, a lone surrogate\)",
    ),
    "call_surrogateescape": (  # how Python decodes a command-line argument 'the \xff'
        lambda: _tokenizer()(os.fsdecode(b"the \xff")),
        ValueError,
        r"text 0 is not UTF-8 from byte 4 \(0xff: '\\udcff' at character 4, a byte that",
    ),
    "corpus_bytes_not_utf8": (
        lambda: SequenceTokenizer.from_corpus([b"the cat", b"\xff"]),
        ValueError,
        r"text 1 is not UTF-8 from byte 0",
    ),
    "call_2d": (
        lambda: _tokenizer()([["the"]]),
        ValueError,
        r"Received: inputs.shape=\(1, 1\)",
    ),
    "call_sequence_length_too_short": (
        lambda: _tokenizer()(["the"], add_start=True, add_stop=True, sequence_length=1),
        ValueError,
        r"int >= 2 \(room for the \[START\]/\[STOP\] asked for\). Received: sequence_length=1",
    ),
    "detokenize_floats": (
        lambda: _tokenizer().detokenize(np.array([[4.0]])),
        ValueError,
        "Received: ids.shape=\\(1, 1\\), ids.dtype=float64$",
    ),
    "detokenize_3d": (
        lambda: _tokenizer().detokenize(np.zeros((1, 1, 1), "int32")),
        ValueError,
        "Received: ids.shape=\\(1, 1, 1\\)",
    ),
    "detokenize_out_of_vocabulary": (
        lambda: _tokenizer().detokenize([[4, 99]]),
        ValueError,
        r"Ids must lie in \[0, 6\). Received: min=4, max=99$",
    ),
    "id_to_token_negative": (
        lambda: _tokenizer().id_to_token([[-1]]),
        ValueError,
        "Received: min=-1, max=-1$",
    ),
    "token_to_id_unknown": (
        lambda: _tokenizer().token_to_id("dog"),
        ValueError,
        "Received: token='dog'$",
    ),
}


@pytest.mark.parametrize(
    "call, error, message", [pytest.param(*case, id=name) for name, case in CASES.items()]
)
def test_bad_input_raises_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_documented_handling():
    """Unknown words -> [UNK]; "" -> [START] [STOP]; too long -> truncated, [STOP] kept."""
    tokenizer = _tokenizer()
    ids = np.asarray(tokenizer(["the dog", "", "the cat the cat"], add_start=True, add_stop=True))
    np.testing.assert_array_equal(ids, [[2, 4, 1, 3, 0, 0], [2, 3, 0, 0, 0, 0], [2, 4, 5, 4, 5, 3]])
    short = np.asarray(tokenizer(["the cat the cat"], add_stop=True, sequence_length=3))
    np.testing.assert_array_equal(short, [[4, 5, 3]])
    assert tokenizer.detokenize([[4, 1, 3]]) == ["the [UNK]"]
    assert np.asarray(tokenizer([])).shape == (0, 0)  # an empty batch stays empty
