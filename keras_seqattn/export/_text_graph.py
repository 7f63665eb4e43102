"""Tokenisation and detokenisation as core TensorFlow ops, for exported graphs.

A SavedModel that uses keras-hub's tokenizers needs the `tensorflow_text` custom
ops (`FastWordpieceTokenizeWithOffsets`, `SentencepieceOp`, ...), which a server
that imports only TensorFlow does not have. These use core ops only: a
vocabulary constant, `tf.gather`, string joins and `tf.strings.regex_replace`
for detokenisation; lookup tables, regular expressions and `tf.while_loop`s for
tokenisation (`_word_piece_graph`, `_sentence_piece_graph`).
"""

import tensorflow as tf

from keras_seqattn.export._lookup import lookup_table
from keras_seqattn.export._sentence_piece_graph import SPACE, SentencePieceGraph
from keras_seqattn.export._word_piece_graph import WordPieceGraph
from keras_seqattn.text import SequenceTokenizer, _sentence_piece

# What SentencePiece's DecodeIds writes for its unknown piece.
_SENTENCE_PIECE_UNKNOWN = " \u2047 "


def graph_vocabulary(tokenizer):
    """The token of each id as `SequenceTokenizer.detokenize` shows it."""
    vocabulary = list(tokenizer.vocabulary)
    if tokenizer.mode == "sentence_piece":
        vocabulary[SequenceTokenizer.oov_id] = _SENTENCE_PIECE_UNKNOWN
    return vocabulary


def detokenize(ids, vocabulary, mode):
    """int32 ids `(batch, T)` -> `(batch,)` strings, as `SequenceTokenizer.detokenize`.

    Drops `[PAD]` and `[START]`, stops at the first `[STOP]`, keeps `[UNK]`;
    joins characters with nothing, word pieces with spaces (a `##` suffix piece
    joins the word before it) and SentencePiece pieces with nothing (`▁` becomes
    a space, the leading one dropped).

    Args:
        ids: int32 tensor `(batch, T)`.
        vocabulary: `tf.string` constant `(vocab,)`, from `graph_vocabulary`.
        mode: the tokenizer's mode.
    """
    ids = tf.cast(ids, tf.int32)
    before_stop = tf.equal(tf.cumsum(tf.cast(tf.equal(ids, 3), tf.int32), axis=1), 0)
    real = tf.logical_or(tf.equal(ids, 1), tf.greater(ids, 3))
    keep = tf.logical_and(before_stop, real)  # (batch, T)
    tokens = tf.ragged.boolean_mask(tf.gather(vocabulary, ids), keep)  # ragged (batch, None)
    if mode == "word_piece":
        text = tf.strings.reduce_join(tokens, axis=1, separator=" ")
        return tf.strings.regex_replace(text, r" ##(\S)", r"\1")
    text = tf.strings.reduce_join(tokens, axis=1, separator="")
    if mode == "sentence_piece":
        text = tf.strings.regex_replace(text, SPACE, " ")
        text = tf.strings.regex_replace(text, "^ ", "")
    return text


class SourceTokenizer(tf.Module):
    """Strings -> source ids with `[STOP]`, as `Seq2SeqModel.tokenize_sources`.

    Every mode of `SequenceTokenizer`, with core TensorFlow ops only: characters
    through a lookup table, word pieces through `WordPieceGraph`, sentence pieces
    through `SentencePieceGraph`. Rows are padded to the longest row of the batch
    and truncated to `max_length` tokens, `[STOP]` kept last.

    Args:
        tokenizer: the model's source `SequenceTokenizer`.
        max_length: int, the model's `max_source_length`.
    """

    def __init__(self, tokenizer, max_length):
        super().__init__()
        self.mode = tokenizer.mode
        self.lowercase = tokenizer.lowercase
        self.max_length = max_length
        if self.mode == "word_piece":
            # keras-hub case folds each word after splitting: WordPieceGraph does.
            self.pieces = WordPieceGraph(tokenizer.vocabulary, tokenizer.lowercase)
        elif self.mode == "sentence_piece":
            self.pieces = SentencePieceGraph(_sentence_piece.decode_proto(tokenizer.proto))
        else:
            ids = list(range(tokenizer.vocabulary_size))
            self.table = lookup_table(tokenizer.vocabulary, ids, tf.string, tf.int32, 1)

    def __call__(self, texts):
        if self.mode == "word_piece":
            tokens = self.pieces(texts)  # ragged (batch, None)
        else:
            # Both lowercase the whole text first, as `SequenceTokenizer` does.
            if self.lowercase:
                texts = tf.strings.lower(texts, encoding="utf-8")
            if self.mode == "sentence_piece":
                tokens = self.pieces(texts)  # ragged (batch, None)
            else:
                chars = tf.strings.unicode_split(texts, "UTF-8")  # ragged (batch, None)
                tokens = tf.ragged.map_flat_values(self.table.lookup, chars)
        tokens = tokens[:, : self.max_length - 1]
        stop = tf.fill([tf.shape(texts)[0], 1], 3)  # (batch, 1)
        return tf.concat([tokens, stop], axis=1).to_tensor(0)  # (batch, longest + 1)
