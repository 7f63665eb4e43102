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
   takes the longest hit. Each step works on those words only and writes their
   pieces to a `tf.TensorArray`, so the cost grows linearly with the text.
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
MAX_BYTES_PER_WORD = 100


class WordPieceGraph(tf.Module):
    """Strings `(batch,)` -> ragged int32 ids `(batch, None)`, as keras-hub tokenises.

    Args:
        vocabulary: list of str, the piece of each id (`[UNK]` at id 1).
        lowercase: bool, case fold the words.
    """

    def __init__(self, vocabulary, lowercase, name=None):
        super().__init__(name=name)
        self.case_fold = CharacterMap(case_fold_map()) if lowercase else None
        # A word's first piece, and the pieces after it (`##` dropped).
        first = {p: i for i, p in enumerate(vocabulary) if not p.startswith(_SUFFIX)}
        rest = {p[len(_SUFFIX) :]: i for i, p in enumerate(vocabulary) if p.startswith(_SUFFIX)}
        self.first = lookup_table(list(first), list(first.values()), tf.string, tf.int32, -1)
        self.rest = lookup_table(list(rest), list(rest.values()), tf.string, tf.int32, -1)
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
        count = tf.size(words)
        too_long = tf.strings.length(words) > MAX_BYTES_PER_WORD  # bytes
        chars = tf.strings.unicode_split(words, "UTF-8")  # ragged (N, None)
        lengths, starts = (
            tf.cast(chars.row_lengths(), tf.int32),
            tf.cast(chars.row_starts(), tf.int32),
        )
        # Where each character starts, in bytes from the first word's start (one
        # more: where the last ends), so that each candidate is a byte substring.
        sizes = tf.strings.length(chars.flat_values)
        offsets = tf.concat([[0], tf.cumsum(sizes)], axis=0)  # (characters + 1,)
        # A too-long word is `[UNK]` whatever its characters: walk none of them.
        walked = tf.where(tf.logical_and(lengths > 0, tf.logical_not(too_long)))[:, 0]

        def walk(rows, position, found, table):
            # Only the words still being walked, each at its position: after a
            # step or two, few are.
            left = tf.gather(lengths, rows) - position  # (A,)
            # The candidates at each word's position: 1 to `longest` characters,
            # no more than the longest rest of a word (none for no word).
            most = tf.clip_by_value(tf.reduce_max(left), 0, self.longest)
            sizes = tf.range(1, most + 1)[tf.newaxis]  # (1, K)
            at = tf.gather(starts, rows) + position  # (A,): the position's character
            begin = tf.gather(offsets, at)[:, tf.newaxis]  # (A, 1)
            end = tf.gather(offsets, at[:, tf.newaxis] + tf.minimum(sizes, left[:, tf.newaxis]))
            word_begin = tf.gather(offsets, tf.gather(starts, rows))[:, tf.newaxis]
            candidates = tf.strings.substr(
                tf.gather(words, rows)[:, tf.newaxis],  # broadcast to (A, K)
                tf.broadcast_to(begin - word_begin, tf.shape(end)),
                end - begin,
            )  # (A, K)
            ids = tf.where(sizes <= left[:, tf.newaxis], table.lookup(candidates), -1)  # (A, K)
            size = tf.reduce_max(tf.where(ids >= 0, sizes, 0), axis=1)  # longest, 0: none
            piece = tf.gather(ids, tf.maximum(size - 1, 0), batch_dims=1)  # (A,), -1: none
            found = found.write(found.size(), tf.stack([tf.cast(rows, tf.int32), piece], 1))
            # A word goes on while it matched and has characters left.
            position += size
            going = tf.logical_and(size > 0, position < tf.gather(lengths, rows))
            return tf.boolean_mask(rows, going), tf.boolean_mask(position, going), found

        found = tf.TensorArray(
            tf.int32, size=0, dynamic_size=True, infer_shape=False, element_shape=[None, 2]
        )
        found = found.write(0, tf.zeros([0, 2], tf.int32))  # concat() needs one element
        # The first pieces of all words, then a step per piece after them.
        state = walk(walked, tf.zeros_like(walked, tf.int32), found, self.first)
        _, _, found = tf.while_loop(
            lambda rows, position, found: tf.size(rows) > 0,
            lambda rows, position, found: walk(rows, position, found, self.rest),
            state,
        )
        found = found.concat()  # (pieces, 2): (word, piece id or -1), in walking order
        rows, pieces = found[:, 0], found[:, 1]
        # A word with a position no piece matched, or too long, is one `[UNK]`.
        failed = tf.math.unsorted_segment_max(tf.cast(pieces < 0, tf.int32), rows, count) > 0
        unknown = tf.cast(tf.where(tf.logical_or(failed, too_long))[:, 0], tf.int32)
        kept = tf.logical_not(tf.gather(failed, rows))
        rows = tf.concat([tf.boolean_mask(rows, kept), unknown], axis=0)
        pieces = tf.concat([tf.boolean_mask(pieces, kept), tf.ones_like(unknown)], axis=0)
        order = tf.argsort(rows, stable=True)  # each word's pieces stay in walking order
        rows = tf.cast(tf.gather(rows, order), tf.int64)
        return tf.RaggedTensor.from_value_rowids(
            tf.gather(pieces, order), rows, tf.cast(count, tf.int64)
        )


def split_words(texts):
    """Strings `(batch,)` -> ragged words `(batch, None)`, as keras-hub's `regex_split`."""
    # `tensorflow_text.regex_split` reads a string up to its first NUL byte.
    texts = tf.strings.regex_replace(texts, r"\x00(?s:.*)", "")
    texts = tf.strings.regex_replace(texts, _CJK, r" \0 ")
    texts = tf.strings.regex_replace(texts, _WHITESPACE, " ")
    texts = tf.strings.regex_replace(texts, f"{_PUNCTUATION}|{_CJK}", r" \0 ")
    words = tf.strings.split(texts, sep=" ")  # ragged (batch, None), "" between spaces
    return tf.ragged.boolean_mask(words, tf.not_equal(words, ""))
