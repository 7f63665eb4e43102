"""What a LiteRT client needs to tokenise sources as `translate()` does, written by the export.

The `.tflite` model takes token ids; the client tokenises. `serving.md` has a
pure-Python client (the `sentencepiece` package for sentence pieces) that reads
`source_tokenizer.json`, `source_vocabulary.json` and, in `"sentence_piece"`
mode, `source_tokenizer.model`, and gives the ids of the Keras tokenizer in
every mode. What plain Python cannot know, the export computes with the
libraries the Keras tokenizer runs and writes down:

- `lowercase_exceptions` (`"character"` and `"sentence_piece"` modes with
  `lowercase`): the characters that `tf.strings.lower` maps otherwise than
  Python's `str.lower` (letters newer than TensorFlow's Unicode tables, about
  40 for Python 3.11). TensorFlow also stops at a NUL, as the client does.
- `word_piece` (`"word_piece"` mode): keras-hub's split as code point ranges,
  `spaces` (whitespace and control characters, which separate words) and
  `alone` (punctuation and CJK, a word each), computed by running the graph's
  regular expressions on every character; `case_fold` (with `lowercase`), the
  per-character table of `_unicode_maps.case_fold_map`; and the longest word
  that is not `[UNK]`, in bytes.
"""

import unicodedata

import tensorflow as tf

from keras_seqattn.export import _word_piece_graph
from keras_seqattn.export._unicode_maps import CODE_POINTS, case_fold_map
from keras_seqattn.text import _sentence_piece

MODEL_FILE = "source_tokenizer.model"


def source_tokenizer_files(tokenizer, max_length):
    """`{file name: JSON value or bytes}` for a translation model's source tokenizer.

    Args:
        tokenizer: the model's source `SequenceTokenizer`.
        max_length: int, the model's `max_source_length`.
    """
    spec = {
        "mode": tokenizer.mode,
        "lowercase": tokenizer.lowercase,
        "max_length": max_length,
        "unknown_id": tokenizer.oov_id,
        "stop_id": tokenizer.stop_id,
        # Python's own Unicode tables, against which the exceptions were taken.
        "unicode_version": unicodedata.unidata_version,
    }
    files = {}
    if tokenizer.mode == "word_piece":
        spec["word_piece"] = _word_piece_split()
        spec["word_piece"]["case_fold"] = case_fold_map() if tokenizer.lowercase else {}
    else:
        spec["lowercase_exceptions"] = _lowercase_exceptions() if tokenizer.lowercase else {}
    if tokenizer.mode == "sentence_piece":
        spec["sentence_piece_model"] = MODEL_FILE
        files[MODEL_FILE] = _sentence_piece.decode_proto(tokenizer.proto)
    files["source_tokenizer.json"] = spec
    return files


def _lowercase_exceptions():
    """`{character: tf.strings.lower(character)}` where Python's `str.lower` differs."""
    characters = [chr(c) for c in CODE_POINTS if c != 0]  # lower() stops at a NUL
    lowered = tf.strings.lower(tf.constant(characters), encoding="utf-8").numpy()
    return {
        char: low.decode("utf-8")
        for char, low in zip(characters, lowered)
        if low.decode("utf-8") != char.lower()
    }


def _word_piece_split():
    """keras-hub's split of every character, as code point ranges, from the graph's own."""
    characters = [chr(c) for c in CODE_POINTS if c != 0]  # a NUL ends the text
    # Between two letters: two words around a separator, three around a word of
    # its own, one word around any other character.
    words = _word_piece_graph.split_words(tf.constant([f"a{c}a" for c in characters]))
    counts = words.row_lengths().numpy()
    kinds = {"spaces": [], "alone": []}
    for char, count in zip(characters, counts):
        if count == 2:
            kinds["spaces"].append(ord(char))
        elif count == 3:
            kinds["alone"].append(ord(char))
    return {
        **{kind: _ranges(points) for kind, points in kinds.items()},
        "max_bytes_per_word": _word_piece_graph.MAX_BYTES_PER_WORD,
    }


def _ranges(points):
    """Sorted code points -> `[[first, last], ...]` of consecutive runs."""
    ranges = []
    for point in points:
        if ranges and ranges[-1][1] == point - 1:
            ranges[-1][1] = point
        else:
            ranges.append([point, point])
    return ranges
