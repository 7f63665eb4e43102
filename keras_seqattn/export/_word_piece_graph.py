"""keras-hub's `WordPieceTokenizer`, as a graph of core TensorFlow ops.

What `SequenceTokenizer` runs in `"word_piece"` mode is keras-hub's pre-tokeniser
(`tensorflow_text.regex_split` on whitespace, punctuation and CJK characters,
then `case_fold_utf8`) and `tensorflow_text.FastWordpieceTokenizer`: custom ops
that a TensorFlow Serving or TensorFlow-only process does not load. This is the
same algorithm with core ops:

1. Split: the text up to a NUL byte (as `regex_split` reads it), CJK
   characters get spaces around them, whitespace and control characters become
   a space, punctuation gets spaces around it (the RE2 patterns keras-hub
   uses), and the text is split on spaces.
2. Case fold each word (a per-character table, `_unicode_maps.case_fold_map`).
3. Greedy longest-match-first word pieces (Schuster & Nakajima, 2012; BERT's
   `WordpieceTokenizer`): at each position of a word, the longest vocabulary
   piece that matches (`##`-prefixed after the first); a word with a position
   no piece matches, or longer than 100 bytes, is one `[UNK]`. A
   `tf.while_loop` walks all words at once, one piece per step: it looks up the
   1 to `longest` characters at the position of each word not yet done and
   takes the longest hit.
"""

import tensorflow as tf

from keras_seqattn.export._lookup import lookup_table
from keras_seqattn.export._unicode_maps import CharacterMap, case_fold_map

# keras-hub's patterns (RE2: `\s` is ASCII whitespace only).
_WHITESPACE = r"\s|\p{Cc}|\p{Cf}"
_PUNCTUATION = r"[!-/]|[:-@]|[\[-`]|[{-~]|[\p{P}]"
_CJK = (
    r"[\x{4E00}-\x{9FFF}]|[\x{3400}-\x{4DBF}]|[\x{20000}-\x{2A6DF}]|[\x{2A700}-\x{2B73F}]"
    r"|[\x{2B740}-\x{2B81F}]|[\x{2B820}-\x{2CEAF}]|[\x{F900}-\x{FAFF}]|[\x{2F800}-\x{2FA1F}]"
)
_SUFFIX = "##"
# `FastWordpieceTokenizer`'s `max_bytes_per_word`: a longer word is `[UNK]`.
_MAX_BYTES_PER_WORD = 100


class WordPieceGraph(tf.Module):
    """Strings `(batch,)` -> ragged int32 ids `(batch, None)`, as keras-hub tokenises.

    Args:
        vocabulary: list of str, the piece of each id (`[UNK]` at id 1).
        lowercase: bool, case fold the words.
    """

    def __init__(self, vocabulary, lowercase, name=None):
        super().__init__(name=name)
        self.case_fold = CharacterMap(case_fold_map()) if lowercase else None
        ids = list(range(len(vocabulary)))
        self.table = lookup_table(vocabulary, ids, tf.string, tf.int32, -1)
        # The longest piece, in characters, bounds the candidates per position.
        self.longest = max(len(p.removeprefix(_SUFFIX)) for p in vocabulary)

    def __call__(self, texts):
        words = split_words(texts)  # ragged (batch, None)
        flat = words.flat_values  # (words,)
        if self.case_fold is not None:
            flat = self.case_fold(flat)
        pieces = self._word_pieces(flat)  # ragged (words, None)
        return words.with_flat_values(pieces).merge_dims(1, 2)  # ragged (batch, None)

    def _word_pieces(self, words):
        """Words `(N,)` -> ragged ids `(N, None)`: the greedy longest match of each."""
        too_long = tf.strings.length(words) > _MAX_BYTES_PER_WORD  # bytes
        lengths = tf.strings.length(words, unit="UTF8_CHAR")  # (N,)
        # A too-long word is `[UNK]` whatever its characters: walk none of them.
        lengths = tf.where(too_long, 0, lengths)
        count = tf.shape(words)[0]
        width = tf.reduce_max(tf.concat([lengths, [0]], axis=0))  # most pieces of a word
        columns = tf.range(width)[tf.newaxis, :]  # (1, L)

        def walk(step, position, failed, out):
            # Only the words still being walked: after a step or two, few are.
            active = tf.where(tf.logical_and(position < lengths, tf.logical_not(failed)))  # (A, 1)
            at, left = tf.gather_nd(position, active), tf.gather_nd(lengths - position, active)
            # The candidates at each word's position: 1 to `longest` characters,
            # no more than the longest rest of a word.
            sizes = tf.range(1, tf.minimum(self.longest, tf.reduce_max(left)) + 1)[tf.newaxis]
            shape = [tf.shape(at)[0], tf.shape(sizes)[1]]  # (A, K)
            text = tf.strings.substr(
                tf.broadcast_to(tf.gather_nd(words, active)[:, tf.newaxis], shape),
                tf.broadcast_to(at[:, tf.newaxis], shape),
                tf.broadcast_to(sizes, shape),
                unit="UTF8_CHAR",
            )  # (A, K)
            prefix = tf.broadcast_to(tf.where(at > 0, _SUFFIX, "")[:, tf.newaxis], shape)
            found = self.table.lookup(tf.strings.join([prefix, text]))  # (A, K)
            found = tf.where(sizes <= left[:, tf.newaxis], found, -1)
            size = tf.reduce_max(tf.where(found >= 0, sizes, 0), axis=1)  # longest, 0: none
            piece = tf.gather(found, tf.maximum(size - 1, 0), batch_dims=1)  # (A,)
            failed = tf.tensor_scatter_nd_update(failed, active, size == 0)
            position = tf.tensor_scatter_nd_add(position, active, size)
            # The step-th piece of each word goes to column `step`.
            # (A word that failed just now has -1, as nothing matched.)
            row = tf.tensor_scatter_nd_update(tf.fill([count], -1), active, piece)  # (N,)
            out = tf.where(columns == step, row[:, tf.newaxis], out)
            return step + 1, position, failed, out

        _, _, failed, out = tf.while_loop(
            # Until every word is walked or failed: as many steps as the most pieces.
            lambda step, position, failed, out: tf.reduce_any(
                tf.logical_and(position < lengths, tf.logical_not(failed))
            ),
            walk,
            (
                tf.constant(0),
                tf.zeros([count], tf.int32),
                tf.zeros([count], tf.bool),
                tf.fill([count, width], -1),  # (N, L): piece ids, -1 where none
            ),
        )
        # One more column, so that a word with no characters walked (too long)
        # has room for its `[UNK]`.
        out = tf.pad(out, [[0, 0], [0, 1]], constant_values=-1)  # (N, L + 1)
        unknown = tf.logical_or(too_long, failed)[:, tf.newaxis]  # (N, 1)
        first = tf.equal(tf.range(width + 1), 0)[tf.newaxis, :]  # (1, L + 1)
        out = tf.where(unknown, tf.where(first, 1, -1), out)  # (N, L + 1)
        return tf.ragged.boolean_mask(out, out >= 0)  # ragged (N, None)


def split_words(texts):
    """Strings `(batch,)` -> ragged words `(batch, None)`, as keras-hub's `regex_split`."""
    # `tensorflow_text.regex_split` reads a string up to its first NUL byte.
    texts = tf.strings.regex_replace(texts, r"\x00(?s:.*)", "")
    texts = tf.strings.regex_replace(texts, _CJK, r" \0 ")
    texts = tf.strings.regex_replace(texts, _WHITESPACE, " ")
    texts = tf.strings.regex_replace(texts, f"{_PUNCTUATION}|{_CJK}", r" \0 ")
    words = tf.strings.split(texts, sep=" ")  # ragged (batch, None), "" between spaces
    return tf.ragged.boolean_mask(words, tf.not_equal(words, ""))
