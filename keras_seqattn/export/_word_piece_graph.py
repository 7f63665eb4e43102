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
   1 to `longest` characters at each word's position and takes the longest hit.
"""

import tensorflow as tf

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
        initializer = tf.lookup.KeyValueTensorInitializer(
            tf.constant(vocabulary, tf.string), tf.range(len(vocabulary), dtype=tf.int32)
        )
        self.table = tf.lookup.StaticHashTable(initializer, default_value=-1)
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
        sizes = tf.range(1, self.longest + 1)[tf.newaxis, :]  # (1, longest)
        columns = tf.range(width)[tf.newaxis, :]  # (1, L)
        shape = [count, self.longest]
        every = tf.broadcast_to(words[:, tf.newaxis], shape)  # (N, longest)
        every_size = tf.broadcast_to(sizes, shape)  # (N, longest)

        def walk(step, position, failed, out):
            active = tf.logical_and(position < lengths, tf.logical_not(failed))  # (N,)
            # The candidates at each word's position: 1 to `longest` characters.
            starts = tf.broadcast_to(position[:, tf.newaxis], shape)  # (N, longest)
            text = tf.strings.substr(every, starts, every_size, unit="UTF8_CHAR")
            prefix = tf.broadcast_to(tf.where(position > 0, _SUFFIX, "")[:, tf.newaxis], shape)
            found = self.table.lookup(tf.strings.join([prefix, text]))  # (N, longest)
            fits = position[:, tf.newaxis] + sizes <= lengths[:, tf.newaxis]  # (N, longest)
            found = tf.where(fits, found, -1)  # (N, longest)
            size = tf.reduce_max(tf.where(found >= 0, sizes, 0), axis=1)  # longest match, 0: none
            size = tf.where(active, size, 0)
            piece = tf.gather(found, tf.maximum(size - 1, 0), batch_dims=1)  # (N,)
            failed = tf.logical_or(failed, tf.logical_and(active, size == 0))
            # The step-th piece of each word goes to column `step`.
            write = tf.logical_and(columns == step, (size > 0)[:, tf.newaxis])  # (N, L)
            out = tf.where(write, piece[:, tf.newaxis], out)
            return step + 1, position + size, failed, out

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
