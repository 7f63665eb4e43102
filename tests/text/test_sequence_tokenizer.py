"""SequenceTokenizer: hand-computed ids, round trips, tf.data, config and saving."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops
from num2words import num2words

from keras_seqattn.text import SPECIAL_TOKENS, SequenceTokenizer

SPECIALS = list(SPECIAL_TOKENS)
# Vocabulary building and argument checks never reach a Keras backend.
independent = pytest.mark.backend_independent(reason="no Keras tensors involved")
#                   4      5      6      7     8     9      10   11
WORDS = SPECIALS + ["the", "cat", "sat", "##s", "on", "mat", "a", "."]
#                   4    5    6    7    8    9    10   11   12   13
CHARS = SPECIALS + ["0", "1", "2", "3", "5", "7", "-", "a", "b", " "]


def ids_of(x):
    return np.asarray(ops.convert_to_numpy(x))


@pytest.fixture(scope="module")
def words():
    return SequenceTokenizer(WORDS)


@pytest.fixture(scope="module")
def chars():
    return SequenceTokenizer(CHARS, mode="character")


@pytest.fixture(scope="module")
def pieces():
    corpus = ["the cat sat on the mat", "a mat", "2023-05-17", "the cats sat"] * 20
    return SequenceTokenizer.from_corpus(corpus, mode="sentence_piece", vocabulary_size=40)


def pick(mode, words, chars, pieces):
    return {"word_piece": words, "character": chars, "sentence_piece": pieces}[mode]


def test_word_piece_ids_by_hand(words):
    ids = words(["The cats sat.", "a dog"], add_start=True, add_stop=True)
    assert ops.is_tensor(ids)  # a tensor of the Keras backend, eagerly
    assert ids_of(ids).dtype == np.int32
    np.testing.assert_array_equal(ids_of(ids), [[2, 4, 5, 7, 6, 11, 3], [2, 10, 1, 3, 0, 0, 0]])
    np.testing.assert_array_equal(ids_of(words("the cat")), [4, 5])  # scalar in


def test_character_ids_by_hand(chars):
    ids = chars(["2023-05-17", "Ab z"], add_stop=True)
    np.testing.assert_array_equal(
        ids_of(ids),
        [[6, 4, 6, 7, 10, 4, 8, 10, 5, 9, 3], [11, 12, 13, 1, 3, 0, 0, 0, 0, 0, 0]],
    )


def test_round_trip_word_piece(words):
    texts = ["The cats sat on a mat", "a cat sat."]
    ids = words(texts, add_start=True, add_stop=True, sequence_length=12)
    # Normalised: lowercased, punctuation split off as its own word.
    assert words.detokenize(ids) == ["the cats sat on a mat", "a cat sat ."]


def test_round_trip_character_is_exact(chars):
    ids = chars(["2023-05-17", "AB 17"], add_start=True, add_stop=True)
    assert chars.detokenize(ids) == ["2023-05-17", "ab 17"]
    dates = ["2023-05-17", "1999-12-31", "1970-01-01"]
    learned = SequenceTokenizer.from_corpus(dates, mode="character")
    assert learned.detokenize(learned(dates, add_stop=True)) == dates


def test_german_number_word_splits_into_word_pieces():
    corpus = [num2words(n, lang="de") for n in range(1, 200)]
    tokenizer = SequenceTokenizer.from_corpus(corpus, vocabulary_size=200)
    ids = ids_of(tokenizer("zweiundvierzig"))
    pieces = tokenizer.id_to_token(ids)[0]
    assert len(pieces) > 1 and 1 not in ids, pieces
    assert not pieces[0].startswith("##")
    assert all(p.startswith("##") for p in pieces[1:])
    assert tokenizer.detokenize(ids) == ["zweiundvierzig"]


def test_sentence_piece_splits_german_compounds_and_round_trips():
    corpus = [num2words(n, lang="de") for n in range(1, 1000)]
    tokenizer = SequenceTokenizer.from_corpus(corpus, "sentence_piece", vocabulary_size=150)
    assert tokenizer.vocabulary[:4] == SPECIALS
    ids = ids_of(tokenizer(["zweiundvierzig", "Dreißig"], add_start=True, add_stop=True))
    tokens = tokenizer.id_to_token(ids)
    assert 1 not in ids and all(len(row) > 3 for row in tokens), tokens
    # The pieces spell the word; lowercasing keeps the "ß" that case folding drops.
    assert "".join(tokens[0][1:-1]).lstrip("\u2581") == "zweiundvierzig"
    assert tokenizer.detokenize(ids) == ["zweiundvierzig", "dreißig"]
    assert tokenizer.token_to_id(tokens[0][1]) == ids[0, 1]


def test_out_of_vocabulary_is_unk(words, chars):
    np.testing.assert_array_equal(ids_of(words(["dog cat"])), [[1, 5]])
    np.testing.assert_array_equal(ids_of(chars(["x2é"])), [[1, 6, 1]])
    assert words.detokenize([[1, 5]]) == ["[UNK] cat"]


def test_empty_string(words, chars):
    np.testing.assert_array_equal(
        ids_of(words(["", "a"], add_start=True, add_stop=True)), [[2, 3, 0], [2, 10, 3]]
    )
    np.testing.assert_array_equal(ids_of(chars([""], add_stop=True)), [[3]])
    assert ids_of(chars([""])).shape == (1, 0)
    assert words.detokenize([[2, 3, 0]]) == [""]


@pytest.mark.parametrize(
    "add_start, add_stop, expected",
    [
        (False, False, [4, 5]),
        (True, False, [2, 4, 5]),
        (False, True, [4, 5, 3]),
        (True, True, [2, 4, 5, 3]),
    ],
)
def test_start_and_stop_placement(words, add_start, add_stop, expected):
    ids = words(["the cat"], add_start=add_start, add_stop=add_stop)
    np.testing.assert_array_equal(ids_of(ids), [expected])


def test_truncation_keeps_start_and_stop(words):
    text = ["the cat sat on the mat"]
    np.testing.assert_array_equal(
        ids_of(words(text, add_start=True, add_stop=True, sequence_length=4)), [[2, 4, 5, 3]]
    )
    np.testing.assert_array_equal(ids_of(words(text, sequence_length=3)), [[4, 5, 6]])
    np.testing.assert_array_equal(ids_of(words(text, add_stop=True, sequence_length=2)), [[4, 3]])


def test_padding_to_sequence_length():
    tokenizer = SequenceTokenizer(WORDS, sequence_length=6)
    np.testing.assert_array_equal(
        ids_of(tokenizer(["the cat"], add_start=True, add_stop=True)), [[2, 4, 5, 3, 0, 0]]
    )
    # The call argument overrides the layer's default.
    np.testing.assert_array_equal(
        ids_of(tokenizer(["the cat"], add_stop=True, sequence_length=4)), [[4, 5, 3, 0]]
    )


def test_batch_of_different_lengths_pads_to_longest(words):
    texts = np.array(["the cat", "a cat sat on the mat", ""])
    ids = ids_of(words(texts, add_start=True, add_stop=True))
    assert ids.shape == (3, 8)
    np.testing.assert_array_equal(ids[:, 0], [2, 2, 2])
    np.testing.assert_array_equal(np.count_nonzero(ids, axis=1), [4, 8, 2])
    fixed = ids_of(words(texts, add_start=True, add_stop=True, sequence_length=8))
    np.testing.assert_array_equal(ids, fixed)


@pytest.mark.parametrize("mode", ["word_piece", "character", "sentence_piece"])
def test_tf_data_map_matches_eager(mode, words, chars, pieces):
    tokenizer = pick(mode, words, chars, pieces)
    texts = ["the cat sat", "a mat", "2023-05-17"]
    eager = ids_of(tokenizer(texts, add_start=True, add_stop=True))
    ds = tf.data.Dataset.from_tensor_slices(texts)
    per_example = ds.map(lambda s: tokenizer(s, add_start=True, add_stop=True))
    (padded,) = per_example.padded_batch(3).as_numpy_iterator()
    np.testing.assert_array_equal(padded, eager)
    batched = ds.batch(3).map(lambda s: tokenizer(s, add_start=True, add_stop=True))
    np.testing.assert_array_equal(next(batched.as_numpy_iterator()), eager)
    fixed = ds.map(lambda s: tokenizer(s, add_stop=True, sequence_length=5)).batch(3)
    np.testing.assert_array_equal(
        next(fixed.as_numpy_iterator()),
        ids_of(tokenizer(texts, add_stop=True, sequence_length=5)),
    )


def test_detokenize_and_id_to_token_stop_at_stop(words):
    ids = np.array([[2, 4, 5, 3, 6, 0], [4, 11, 0, 0, 0, 0]], dtype="int32")
    assert words.detokenize(ids) == ["the cat", "the ."]
    assert words.detokenize(ids[0]) == ["the cat"]
    assert words.id_to_token(ops.convert_to_tensor(ids)) == [
        ["[START]", "the", "cat", "[STOP]"],
        ["the", "."],
    ]
    backend_ids = words(["the cat sat"], add_start=True, add_stop=True)
    assert words.detokenize(backend_ids) == ["the cat sat"]


@independent
def test_vocabulary_accessors(words):
    assert words.vocabulary_size == len(WORDS)
    assert (words.pad_id, words.oov_id, words.start_id, words.stop_id) == (0, 1, 2, 3)
    assert words.token_to_id("mat") == 9 and words.token_to_id("[STOP]") == 3
    assert words.get_vocabulary() == WORDS
    with pytest.raises(ValueError, match="Received: token='dog'"):
        words.token_to_id("dog")


@independent
def test_character_vocabulary_from_corpus_is_ranked():
    expected = SPECIALS + ["a", "b", "c"]
    for texts in (
        ["ABba", "cab"],
        np.array([b"abba", b"cab"]),
        tf.data.Dataset.from_tensor_slices(["abba", "cab"]),
    ):
        assert SequenceTokenizer.from_corpus(texts, mode="character").vocabulary == expected
    capped = SequenceTokenizer.from_corpus(["abba", "cab"], "character", vocabulary_size=6)
    assert capped.vocabulary == SPECIALS + ["a", "b"]


@pytest.mark.parametrize("mode", ["word_piece", "character", "sentence_piece"])
def test_config_json_round_trip(mode, words, chars, pieces):
    tokenizer = pick(mode, words, chars, pieces)
    config = tokenizer.get_config()
    expected = {"word_piece": WORDS, "character": CHARS, "sentence_piece": None}[mode]
    assert config["vocabulary"] == expected
    assert (config["proto"] is None) == (mode != "sentence_piece")
    assert (config["mode"], config["lowercase"], config["sequence_length"]) == (mode, True, None)
    revived = SequenceTokenizer.from_config(json.loads(json.dumps(config)))
    texts = ["the cats sat", "2023-05-17 ab"]
    np.testing.assert_array_equal(
        ids_of(revived(texts, add_stop=True)), ids_of(tokenizer(texts, add_stop=True))
    )


@keras.saving.register_keras_serializable(package="keras_seqattn_tests")
class TokenizerHolder(keras.Model):
    """A model that carries its tokenizer in its config, like the applications."""

    def __init__(self, tokenizer, **kwargs):
        super().__init__(**kwargs)
        self.tokenizer = tokenizer
        self.embedding = keras.layers.Embedding(tokenizer.vocabulary_size, 3)

    def call(self, ids):
        return self.embedding(ids)

    def get_config(self):
        return {
            **super().get_config(),
            "tokenizer": keras.saving.serialize_keras_object(self.tokenizer),
        }

    @classmethod
    def from_config(cls, config):
        config["tokenizer"] = keras.saving.deserialize_keras_object(config["tokenizer"])
        return cls(**config)


@pytest.mark.parametrize("mode", ["word_piece", "character", "sentence_piece"])
def test_keras_save_and_load_in_safe_mode(mode, tmp_path):
    corpus = ["the cat sat on the mat", "2023-05-17", "a cat, a mat"]
    tokenizer = SequenceTokenizer.from_corpus(corpus, mode=mode, sequence_length=12)
    model = TokenizerHolder(tokenizer)
    ids = tokenizer(corpus, add_start=True, add_stop=True)
    expected = ids_of(model(ids))
    model.save(tmp_path / "holder.keras")
    revived = keras.saving.load_model(tmp_path / "holder.keras", safe_mode=True)
    assert revived.tokenizer.get_vocabulary() == tokenizer.get_vocabulary()
    revived_ids = revived.tokenizer(corpus, add_start=True, add_stop=True)
    np.testing.assert_array_equal(ids_of(revived_ids), ids_of(ids))
    assert revived.tokenizer.detokenize(revived_ids) == tokenizer.detokenize(ids)
    np.testing.assert_allclose(ids_of(revived(revived_ids)), expected)


@independent
def test_bad_vocabulary_head():
    with pytest.raises(ValueError, match=r"must start with .*\[PAD\].*Received: vocabulary"):
        SequenceTokenizer(["[UNK]", "[PAD]", "[START]", "[STOP]", "a"])
    with pytest.raises(ValueError, match="one character"):
        SequenceTokenizer(SPECIALS + ["ab"], mode="character")
    with pytest.raises(ValueError, match=r"repeated=\['a'\]"):
        SequenceTokenizer(SPECIALS + ["a", "b", "a"])
    with pytest.raises(ValueError, match="Received: vocabulary_size=4"):
        SequenceTokenizer.from_corpus(["a b"], vocabulary_size=4)


@independent
def test_unknown_mode():
    with pytest.raises(ValueError, match="Received: mode='bytes'"):
        SequenceTokenizer(WORDS, mode="bytes")


@independent
@pytest.mark.parametrize(
    "texts",
    [[], np.array([], dtype=str), tf.data.Dataset.from_tensor_slices(tf.constant([], tf.string))],
)
def test_empty_corpus(texts):
    with pytest.raises(ValueError, match="empty corpus"):
        SequenceTokenizer.from_corpus(texts)


@pytest.mark.parametrize("bad", [[1, 2], np.array([0.5, 1.5]), 3])
def test_non_string_input(words, bad):
    with pytest.raises(TypeError, match="Expected a string"):
        words(bad)
    with pytest.raises(TypeError, match="Expected a string tensor"):
        words(ops.convert_to_tensor(np.array([1, 2], dtype="int32")))


def test_sequence_length_too_short_for_the_specials(words):
    with pytest.raises(ValueError, match="Received: sequence_length=1"):
        words(["the cat"], add_start=True, add_stop=True, sequence_length=1)


def test_bad_shapes_and_ids(words):
    with pytest.raises(ValueError, match=r"Received: inputs.shape=\(1, 2\)"):
        words(np.array([["the", "cat"]]))
    with pytest.raises(ValueError, match="Received: min=4, max=99"):
        words.detokenize([[4, 99]])


@independent
def test_sentence_piece_arguments(pieces):
    with pytest.raises(ValueError, match="Received: proto=None"):
        SequenceTokenizer(mode="sentence_piece")
    with pytest.raises(ValueError, match="only for mode='sentence_piece'"):
        SequenceTokenizer(WORDS, proto=pieces.proto)
    with pytest.raises(ValueError, match="needs a `vocabulary`"):
        SequenceTokenizer(mode="character")
    with pytest.raises(ValueError, match="not a base64 string"):
        SequenceTokenizer(mode="sentence_piece", proto="not a proto!")
    with pytest.raises(ValueError, match="not a SentencePiece model"):
        SequenceTokenizer(mode="sentence_piece", proto=b"junk bytes")
    with pytest.raises(ValueError, match="the proto's own pieces"):
        SequenceTokenizer(WORDS, mode="sentence_piece", proto=pieces.proto)
    same = SequenceTokenizer(pieces.vocabulary, mode="sentence_piece", proto=pieces.proto)
    assert same.vocabulary == pieces.vocabulary
    with pytest.raises(ValueError, match="could not learn a vocabulary"):
        SequenceTokenizer.from_corpus(["abcdefghij"], "sentence_piece", vocabulary_size=6)


def test_sentence_piece_survives_clear_session(pieces):
    texts = ["the cat sat", "a mat"]
    before = ids_of(pieces(texts, add_stop=True))
    keras.backend.clear_session()
    np.testing.assert_array_equal(ids_of(pieces(texts, add_stop=True)), before)
    keras.backend.clear_session()
    mapped = (
        tf.data.Dataset.from_tensor_slices(texts).batch(2).map(lambda s: pieces(s, add_stop=True))
    )
    np.testing.assert_array_equal(next(mapped.as_numpy_iterator()), before)


def test_many_tokenizers_give_no_false_retracing_warning():
    """Each eager function traces once; TensorFlow must not count them as retracing."""
    import logging

    class Records(logging.Handler):
        def __init__(self):
            super().__init__(logging.WARNING)
            self.messages = []

        def emit(self, record):
            self.messages.append(record.getMessage())

    records = Records()
    logging.getLogger("tensorflow").addHandler(records)
    try:
        for index in range(4):
            tokenizer = SequenceTokenizer.from_corpus([f"text {index}", "more"], mode="character")
            for length in (None, 8):
                tokenizer(["a text"], add_stop=True, sequence_length=length)
                tokenizer(["a text"], add_start=True, sequence_length=length)
    finally:
        logging.getLogger("tensorflow").removeHandler(records)
    assert not [m for m in records.messages if "retracing" in m]
