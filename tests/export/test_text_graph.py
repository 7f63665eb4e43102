"""The exported graphs' tokenisers against `SequenceTokenizer`, on every mode.

`SourceTokenizer` uses core TensorFlow ops only; `SequenceTokenizer` runs
keras-hub and `tensorflow_text`'s custom ops (`FastWordpieceTokenizer`,
`SentencepieceOp`): an independent implementation to compare with, id for id.
"""

import json
import unicodedata

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keras_seqattn import datasets
from keras_seqattn.export import _text_graph
from keras_seqattn.export._client_tokenizer import source_tokenizer_files
from keras_seqattn.export._sentence_piece_graph import SentencePieceGraph
from keras_seqattn.text import SequenceTokenizer
from tests.export.export_checks import litert_client

pytestmark = pytest.mark.only_backend(
    "tensorflow", reason="exported graphs are built on the TensorFlow backend"
)

MODES = [
    ("word_piece", True),
    ("word_piece", False),
    ("sentence_piece", True),
    ("sentence_piece", False),
    ("character", True),
]
TRICKY = [
    "",
    "   ",
    "Hello, World!",
    "Straße  ÜBER\tdie\nBrücke",
    "ｆｕｌｌ ｗｉｄｔｈ",
    "日本語のテキスト",
    "a\u00a0b",
    "x" * 120,  # a word over FastWordpieceTokenizer's 100 bytes
    "ß" * 60,  # 60 characters, 120 bytes
    "zweiundvierzig!!",
    "émoji 😀 ok",
    "a--b",
    "\u00ad soft hyphen",
    "ǅungla İstanbul ﬁne ΣΑΣ ς",
    "nul\x00 after",
    "▁lower one▁",
    "quatre-vingt-dix-neuf",
]


@pytest.fixture(scope="module")
def corpus():
    pairs = datasets.load("number_words/en_to_de", split="train[:300]")
    texts = []
    for example in pairs.as_numpy_iterator():
        texts += [example["source"].decode(), example["target"].decode()]
    return texts


@pytest.fixture(scope="module")
def word_pieces(corpus):
    """The corpus's word-piece vocabulary, learned once (33 s: keras-hub's learner).

    Both word-piece cases tokenise with it, `lowercase=False` on the vocabulary
    learned lowercased (accents stripped): the graph and Keras see one
    tokenizer either way, and mixed case and accents in `TRICKY` then meet
    pieces that do not match them, the `[UNK]` path.
    """
    return SequenceTokenizer.from_corpus(corpus, vocabulary_size=150).get_vocabulary()


@pytest.fixture(scope="module", params=MODES, ids=lambda mode: f"{mode[0]}-lower{mode[1]}")
def tokenizers(request, corpus):
    mode, lowercase = request.param
    if mode == "word_piece":  # learned only when a word-piece case runs
        vocabulary = request.getfixturevalue("word_pieces")
        keras_tokenizer = SequenceTokenizer(vocabulary, mode=mode, lowercase=lowercase)
    else:
        keras_tokenizer = SequenceTokenizer.from_corpus(
            corpus, mode=mode, vocabulary_size=150, lowercase=lowercase
        )
    graph = _text_graph.SourceTokenizer(keras_tokenizer, max_length=100_000)
    function = tf.function(graph, input_signature=[tf.TensorSpec([None], tf.string)])
    return keras_tokenizer, function


def _rows(ids):
    """Padded ids -> lists without padding."""
    return [[int(i) for i in row if i] for row in np.asarray(ids)]


def _assert_same(tokenizers, texts):
    keras_tokenizer, graph = tokenizers
    expected = _rows(keras_tokenizer(texts, add_stop=True))
    got = _rows(graph(tf.constant(texts, tf.string)))
    mismatches = [(text, g, e) for text, g, e in zip(texts, got, expected) if g != e]
    assert not mismatches, f"{len(mismatches)} of {len(texts)} differ, e.g. {mismatches[:3]}"


def test_corpus_and_tricky_text_tokenise_as_in_keras(tokenizers, corpus):
    _assert_same(tokenizers, corpus + TRICKY)


def _without_composition(char):
    """Characters a per-character normalisation table handles exactly (see _unicode_maps)."""
    code = ord(char)
    jamo = 0x1100 <= code <= 0x11FF or 0x3130 <= code <= 0x318F or 0xA960 <= code <= 0xA97F
    jamo = jamo or 0xD7B0 <= code <= 0xD7FF or 0xFFA0 <= code <= 0xFFDC
    # A character that decomposes to a combining mark first could compose or
    # reorder with the character before it.
    return not jamo and not unicodedata.combining(unicodedata.normalize("NFKD", char)[0])


WORDS = st.sampled_from(["forty", "two", "Zweiundvierzig", "Straße", "hundert", "und", "vingt"])
ANY_CHARACTERS = st.text(
    st.characters(codec="utf-8", exclude_categories=("Mn", "Mc", "Me")).filter(
        _without_composition
    ),
    max_size=6,
)
SEPARATORS = st.sampled_from([" ", "  ", "\t", "-", ", ", "", "\u3000", "!"])
TEXTS = st.lists(
    st.lists(st.one_of(WORDS, ANY_CHARACTERS, SEPARATORS), max_size=8).map("".join),
    min_size=1,
    max_size=8,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(texts=TEXTS)
def test_any_composed_text_tokenises_as_in_keras(tokenizers, texts):
    _assert_same(tokenizers, texts)


def _long_words(corpus):
    """Text of one long word among short ones, and words long enough for each loop."""
    joined = "".join(corpus).replace(" ", "")
    return [
        " ".join(corpus[:60]) + " " + joined[:3000] + " " + " ".join(corpus[60:120]),
        joined[:65],  # just past the short-word loop of BPE merges
        joined[:100],  # word pieces: the longest word walked, not too long
        "ab" * 700 + " " + "x" * 1500,  # runs of one pair
    ]


def test_long_words_tokenise_as_in_keras(tokenizers, corpus):
    _assert_same(tokenizers, _long_words(corpus))


def test_bpe_merges_with_shuffled_scores_match_sentence_piece(corpus):
    """Any order of piece scores, ties included, merges as SentencePiece does.

    A trained model's scores follow its training order; shuffled, a merge often
    makes a pair of higher score than itself, which the many-merges-per-step
    loop has to see (`_bpe_merges`).
    """
    import random

    import sentencepiece
    from sentencepiece import sentencepiece_model_pb2

    keras_tokenizer = SequenceTokenizer.from_corpus(corpus, mode="sentence_piece", lowercase=False)
    model = sentencepiece_model_pb2.ModelProto()
    model.ParseFromString(keras_tokenizer._proto_bytes)
    normal = [piece for piece in model.pieces if piece.type == piece.NORMAL]
    scores = [piece.score for piece in normal]
    random.Random(0).shuffle(scores)
    for i, (piece, score) in enumerate(zip(normal, scores)):
        piece.score = round(score / 20) if i % 5 == 0 else score  # ties
    proto = model.SerializeToString()
    graph = tf.function(
        SentencePieceGraph(proto), input_signature=[tf.TensorSpec([None], tf.string)]
    )
    texts = corpus[:300] + _long_words(corpus)
    expected = sentencepiece.SentencePieceProcessor(model_proto=proto).encode(texts)
    got = graph(tf.constant(texts)).to_list()
    mismatches = [(text, g, e) for text, g, e in zip(texts, got, expected) if g != e]
    assert not mismatches, f"{len(mismatches)} of {len(texts)} differ, e.g. {mismatches[:2]}"


def _client_folder(tokenizer, max_length, folder):
    """The files the export writes for a LiteRT client, of a model with this tokenizer."""
    folder.mkdir()
    files = source_tokenizer_files(tokenizer, max_length)
    files["source_vocabulary.json"] = files["vocabulary.json"] = tokenizer.vocabulary
    files["export.json"] = {"stop_id": tokenizer.stop_id, "target_mode": tokenizer.mode}
    for name, value in files.items():
        if isinstance(value, bytes):
            (folder / name).write_bytes(value)
        else:
            (folder / name).write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")
    return folder


def test_documented_litert_client_tokenises_as_keras(tokenizers, corpus, tmp_path):
    """serving.md's pure-Python client gives the Keras tokenizer's ids and text."""
    keras_tokenizer, _ = tokenizers
    for max_length, texts in [(4096, corpus + TRICKY + _long_words(corpus)), (6, TRICKY)]:
        client = litert_client(
            _client_folder(keras_tokenizer, max_length, tmp_path / f"{max_length}")
        )
        expected = np.asarray(keras_tokenizer(texts, add_stop=True, sequence_length=max_length))
        got = np.concatenate([client["source_ids"](text) for text in texts])
        mismatches = [(t, g, e) for t, g, e in zip(texts, got, expected) if list(g) != list(e)]
        assert not mismatches, f"{len(mismatches)} of {len(texts)} differ, e.g. {mismatches[:2]}"
    # Its detokenisation, of the ids of the corpus and of the tricky text.
    ids = np.asarray(keras_tokenizer(corpus + TRICKY, add_stop=True))
    assert [client["detokenized"](row) for row in ids] == keras_tokenizer.detokenize(ids)


def test_truncation_keeps_stop_last(corpus):
    keras_tokenizer = SequenceTokenizer.from_corpus(corpus, mode="sentence_piece")
    graph = _text_graph.SourceTokenizer(keras_tokenizer, max_length=5)
    texts = ["one hundred and forty two thousand", "one", ""]
    ids = np.asarray(graph(tf.constant(texts)))
    expected = np.asarray(keras_tokenizer(texts, add_stop=True, sequence_length=5))
    np.testing.assert_array_equal(ids, expected)  # padded to the longest row: 5


def test_unsupported_sentence_piece_model_is_refused_by_name():
    import io

    import sentencepiece

    writer = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(["one two three four five six seven"] * 20),
        model_writer=writer,
        vocab_size=30,
        model_type="unigram",
        hard_vocab_limit=False,
        minloglevel=2,
    )
    with pytest.raises(ValueError, match="BPE models only. Received: kind='UNIGRAM'"):
        SentencePieceGraph(writer.getvalue())
