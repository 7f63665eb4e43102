"""Argument checks and input conversion of `SequenceTokenizer`."""

import collections

import numpy as np
import tensorflow as tf
from keras import ops

from keras_seqattn.text import _sentence_piece

PAD, UNK, START, STOP = "[PAD]", "[UNK]", "[START]", "[STOP]"
SPECIAL_TOKENS = (PAD, UNK, START, STOP)
MODES = ("word_piece", "character", "sentence_piece")


def check_mode(mode):
    if mode not in MODES:
        raise ValueError(f"`mode` must be one of {MODES}. Received: mode={mode!r}")


def resolve_vocabulary(vocabulary, mode, proto):
    """The vocabulary: given, or read from `proto` in sentence_piece mode."""
    if mode != "sentence_piece":
        if proto is not None:
            raise ValueError(
                f"`proto` is only for mode='sentence_piece'. Received: mode={mode!r} and a proto"
            )
        if vocabulary is None:
            raise ValueError(f"Mode {mode!r} needs a `vocabulary`. Received: vocabulary=None")
        return vocabulary
    if proto is None:
        raise ValueError(
            "Mode 'sentence_piece' needs a SentencePiece `proto` (see `from_corpus`). "
            "Received: proto=None"
        )
    pieces = _sentence_piece.pieces(_sentence_piece.decode_proto(proto))
    if vocabulary is not None and list(vocabulary) != pieces:
        raise ValueError(
            "`vocabulary` must be None or the proto's own pieces in sentence_piece mode. "
            f"Received: vocabulary[:8]={list(vocabulary)[:8]}, proto pieces[:8]={pieces[:8]}"
        )
    return pieces


def check_vocabulary(vocabulary, mode):
    is_sequence = isinstance(vocabulary, (list, tuple, np.ndarray))
    if not is_sequence or not all(isinstance(t, str) for t in vocabulary):
        raise ValueError(
            f"`vocabulary` must be a list of str. Received: vocabulary={vocabulary!r:.80}"
        )
    vocabulary = list(vocabulary)
    repeated = [token for token, n in collections.Counter(vocabulary).items() if n > 1]
    if tuple(vocabulary[:4]) != SPECIAL_TOKENS or repeated:
        raise ValueError(
            f"`vocabulary` must start with {list(SPECIAL_TOKENS)} and repeat no token. "
            f"Received: vocabulary[:4]={vocabulary[:4]}, repeated={repeated}"
        )
    long_tokens = [token for token in vocabulary[4:] if len(token) != 1]
    if mode == "character" and long_tokens:
        raise ValueError(
            "In character mode every token but the specials is one character. "
            f"Received: {long_tokens[:5]}"
        )


def check_lowercase(lowercase):
    if not isinstance(lowercase, (bool, np.bool_)):
        raise ValueError(f"`lowercase` must be a bool. Received: lowercase={lowercase!r}")


def check_vocabulary_size(vocabulary_size):
    is_int = isinstance(vocabulary_size, (int, np.integer)) and not isinstance(
        vocabulary_size, bool
    )
    if not is_int or vocabulary_size <= len(SPECIAL_TOKENS):
        raise ValueError(
            f"`vocabulary_size` must be an int > {len(SPECIAL_TOKENS)}, room for the "
            f"special tokens {list(SPECIAL_TOKENS)} and at least one more. "
            f"Received: vocabulary_size={vocabulary_size!r}"
        )
    return int(vocabulary_size)


def check_length(value, specials=0):
    """`value` as an int with room for the specials asked for, or `None`."""
    if value is None:
        return None
    minimum = max(specials, 1)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(
            f"`sequence_length` must be None or an int >= {minimum} (room for the "
            f"[START]/[STOP] asked for). Received: sequence_length={value}"
        )
    return int(value)


def as_string_tensor(inputs):
    """Text input -> `tf.string` tensor of shape `()` or `(batch,)`; UTF-8 checked."""
    is_text_array = isinstance(inputs, np.ndarray) and inputs.dtype.kind in "USO"
    if isinstance(inputs, (str, bytes, list, tuple)) or is_text_array:
        check_encodable(inputs)
        try:
            inputs = tf.constant(inputs, dtype=tf.string)
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"Expected a string tensor or strings. Received: inputs={inputs!r:.80}"
            ) from error
    elif isinstance(inputs, tf.Tensor) and inputs.dtype == tf.string and tf.executing_eagerly():
        check_encodable(np.asarray(inputs.numpy(), dtype=object))
    if not (isinstance(inputs, tf.Tensor) and inputs.dtype == tf.string):
        dtype = getattr(inputs, "dtype", type(inputs).__name__)
        raise TypeError(f"Expected a string tensor. Received: inputs.dtype={dtype}")
    if inputs.shape.rank not in (0, 1):
        raise ValueError(
            f"Expected a scalar or (batch,) string tensor. Received: inputs.shape={inputs.shape}"
        )
    return inputs


def check_encodable(texts):
    """Raises a `ValueError` naming the first text of `texts` that is not UTF-8.

    Bytes must decode as UTF-8 (`b"\\xff"` does not). A str must encode as UTF-8,
    which a lone surrogate does not: `"\\ud800"` comes from a bad decode upstream,
    and `"\\udcff"` is how Python reads the byte 0xff of a command-line argument or
    a file name that is not UTF-8 (`surrogateescape`). The tokenizers would read
    such text as `[UNK]`s; the exported SavedModel refuses it too, naming the rows
    and byte positions (`keras_seqattn.export._plan.checked`). Here the message
    names the text's index and the byte where UTF-8 stops, as the SavedModel does.
    """
    items = [texts] if isinstance(texts, (str, bytes)) else texts
    if isinstance(items, np.ndarray):
        items = items.ravel().tolist()
    for index, text in enumerate(items if isinstance(items, (list, tuple)) else []):
        where = _not_utf8(text)
        if where is not None:
            raise ValueError(
                f"Expected UTF-8 text; text {index} is not UTF-8 from byte {where}. "
                f"Received: {text!r:.80}"
            )


def _not_utf8(text):
    """Where `text` (bytes or str) stops being UTF-8, in words, or `None` if it is."""
    if isinstance(text, bytes):
        try:
            text.decode("utf-8")
        except UnicodeDecodeError as error:
            return f"{error.start} (0x{text[error.start]:02x}, {error.reason})"
    elif isinstance(text, str):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:
            # The text before the first surrogate is UTF-8: its length is the byte offset.
            at, char = len(text[: error.start].encode("utf-8")), text[error.start]
            if 0xDC80 <= ord(char) <= 0xDCFF:  # `surrogateescape` of one undecodable byte
                return (
                    f"{at} (0x{ord(char) - 0xDC00:02x}: {char!r} at character {error.start}, "
                    "a byte that is not UTF-8, as Python reads it from a command line or "
                    "a file name)"
                )
            return f"{at} ({char!r} at character {error.start}, a lone surrogate)"
    return None


def as_text_list(texts):
    """A corpus (iterable, numpy array or `tf.data.Dataset`) -> list of str."""
    if isinstance(texts, tf.data.Dataset):
        texts = texts.as_numpy_iterator()
    elif isinstance(texts, (str, bytes)):
        texts = [texts]
    elif isinstance(texts, np.ndarray):
        texts = texts.ravel().tolist()
    elif texts is None or not hasattr(texts, "__iter__"):
        raise TypeError(
            f"Expected a corpus: an iterable or dataset of strings. Received: texts={texts!r:.80}"
        )
    texts = list(texts)
    check_encodable(texts)
    texts = [text.decode("utf-8") if isinstance(text, bytes) else text for text in texts]
    if not texts:
        raise ValueError("Expected at least one text. Received: texts=[] (an empty corpus)")
    if not all(isinstance(text, str) for text in texts):
        bad = [text for text in texts if not isinstance(text, str)][:3]
        raise TypeError(f"Expected a corpus of strings. Received: texts items {bad!r}")
    if not any(text.strip() for text in texts):
        raise ValueError(
            "Expected a corpus with some text; every text is empty or blank. "
            f"Received: texts[:3]={texts[:3]!r}"
        )
    return texts


def id_rows(ids, vocabulary_size, stop_id, keep_stop=False):
    """Ids `(batch, T)` or `(T,)` of any backend -> lists of ints, cut at the first
    `stop_id` (kept with `keep_stop`); `ValueError` for other shapes, dtypes or ids."""
    ids = np.asarray(ops.convert_to_numpy(ids) if ops.is_tensor(ids) else ids)
    if ids.ndim not in (1, 2) or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(
            "Expected integer ids of shape (batch, T) or (T,). "
            f"Received: ids.shape={ids.shape}, ids.dtype={ids.dtype}"
        )
    if ids.size and (ids.min() < 0 or ids.max() >= vocabulary_size):
        raise ValueError(
            f"Ids must lie in [0, {vocabulary_size}). Received: min={ids.min()}, max={ids.max()}"
        )
    rows = np.atleast_2d(ids).tolist()
    return [row[: row.index(stop_id) + keep_stop] if stop_id in row else row for row in rows]
