"""Unicode normalisation as a per-character table, for graphs of core TensorFlow ops.

Core TensorFlow has no Unicode normalisation: no NFKC, no case folding. The
tokenizers that the exported graphs imitate use two (`tensorflow_text`'s
`case_fold_utf8`, ICU's NFKC_Casefold, for word pieces; SentencePiece's
`nmt_nfkc` rules for sentence pieces). Both are computed here, at export time,
by the very libraries the Keras tokenizer runs, one character at a time, and
kept where they change the character: about 10,000 and 5,000 entries.

A table maps characters one by one. Normalisation also composes sequences
("e" + U+0301 becomes "é", conjoining Hangul jamo become a syllable), which no
per-character table can; such text (decomposed, NFD) tokenises differently in
the graph. Text typed on a keyboard or read from most corpora is composed
(NFC), and tokenises exactly as in Keras; the export tests check that on random
text without combining marks or jamo.
"""

import functools

import tensorflow as tf

from keras_seqattn.export._lookup import lookup_table
from keras_seqattn.export._ragged import join_rows

# Planes 4-13 are unassigned and planes 15-16 private use: normalisation leaves
# them alone. Plane 14 holds tags and variation selectors, which it removes.
CODE_POINTS = [*range(0xD800), *range(0xE000, 0x40000), *range(0xE0000, 0xF0000)]
# A lookup default no table value can be: a lone NUL byte maps to itself.
_MISSING = "\x00<missing>"


@functools.lru_cache(maxsize=1)
def case_fold_map():
    """`{character: tensorflow_text.case_fold_utf8(character)}` where they differ."""
    import tensorflow_text  # Present with keras-hub; only the exporting process needs it.

    characters = [chr(c) for c in CODE_POINTS]
    folded = tensorflow_text.case_fold_utf8(tf.constant(characters)).numpy()
    return _changed(characters, (text.decode("utf-8") for text in folded))


@functools.lru_cache(maxsize=8)
def sentence_piece_map(proto):
    """`{character: normalised}` of a SentencePiece model's normaliser, where they differ.

    Whitespace handling (collapsing, the leading `▁`) is left out: it spans
    characters, and `SentencePieceGraph` does it with regular expressions.
    """
    import sentencepiece

    normalizer = sentencepiece.SentencePieceNormalizer(
        model_proto=proto,
        add_dummy_prefix=False,
        escape_whitespaces=False,
        remove_extra_whitespaces=False,
    )
    characters = [chr(c) for c in CODE_POINTS]
    return _changed(characters, map(normalizer.normalize, characters))


def _changed(characters, mapped):
    return {char: new for char, new in zip(characters, mapped) if new != char}


class CharacterMap(tf.Module):
    """Strings -> strings with each character replaced by its table entry, if any.

    Args:
        mapping: dict of single character -> replacement string (possibly empty).
    """

    def __init__(self, mapping, name=None):
        super().__init__(name=name)
        keys, values = list(mapping), list(mapping.values())
        self.table = lookup_table(keys, values, tf.string, tf.string, _MISSING)

    def __call__(self, texts):
        chars = tf.strings.unicode_split(texts, "UTF-8")  # ragged (..., None)
        flat = chars.flat_values
        mapped = self.table.lookup(flat)
        mapped = tf.where(tf.equal(mapped, _MISSING), flat, mapped)
        return join_rows(chars.with_flat_values(mapped))
