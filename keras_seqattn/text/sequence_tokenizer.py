"""Text to padded ids and back, with [PAD] [UNK] [START] [STOP] at ids 0-3."""

import collections
import functools

import keras
import keras_hub
import tensorflow as tf
from keras import ops

from keras_seqattn.text import _sentence_piece
from keras_seqattn.text._arguments import (
    SPECIAL_TOKENS,
    as_string_tensor,
    as_text_list,
    check_length,
    check_lowercase,
    check_mode,
    check_vocabulary,
    check_vocabulary_size,
    id_rows,
    resolve_vocabulary,
)


@keras.saving.register_keras_serializable(package="keras_seqattn")
class SequenceTokenizer(keras.layers.Layer):
    """Tokenises text into padded int32 ids framed by `[START]` and `[STOP]`.

    The one text preprocessing of the package (translation sources and targets,
    captions). Per string it:

    1. Lowercases, when `lowercase=True`.
    2. Splits into tokens and looks them up; unknown ones become `[UNK]` (id 1).
    3. Truncates to `sequence_length` minus the specials asked for, prepends
       `[START]` (id 2), appends `[STOP]` (id 3) and pads with `[PAD]` (id 0)
       (`keras_hub.layers.StartEndPacker`). So truncation keeps `[START]`, and
       `[STOP]` is still the last token when `add_stop=True`.

    Modes:
    - `"word_piece"`: `keras_hub.tokenizers.WordPieceTokenizer`. Lowercasing is
      Unicode case folding ("ß" becomes "ss") and punctuation becomes separate
      words, so detokenisation, which joins words with spaces, turns
      "2023-05-17" into "2023 - 05 - 17".
    - `"character"`: each Unicode character is a token (`tf.strings.unicode_split`
      and a lookup table; lowercasing is `tf.strings.lower`); detokenisation
      joins with no separator and inverts tokenisation exactly. Use it for
      dates and other text whose spacing matters.
    - `"sentence_piece"`: a BPE SentencePiece model
      (`keras_hub.tokenizers.SentencePieceTokenizer`), learned by `from_corpus`.
      Subwords need no spaces between words, so German compounds split into
      pieces ("zwei", "undvierzig") where word pieces keep whole words;
      lowercasing is `tf.strings.lower`, which leaves "ß" alone.

    The layer runs TensorFlow ops: inside `tf.data` (on any Keras backend) it
    returns `tf.Tensor`s; called eagerly it returns a tensor of the backend.

    Args:
        vocabulary: list of str, the token of each id; it must start with
            `["[PAD]", "[UNK]", "[START]", "[STOP]"]`. In `"character"` mode the
            other tokens are single characters. `None` in `"sentence_piece"`
            mode, where the pieces come from `proto`.
        mode: `"word_piece"`, `"character"` or `"sentence_piece"`. Defaults to
            `"word_piece"`.
        lowercase: bool, lowercase the text first. Defaults to `True`.
        sequence_length: int or `None`, the padded length of calls that give
            none; `None` pads to the longest sequence of the batch. Defaults to
            `None`.
        proto: the SentencePiece model of `"sentence_piece"` mode, as bytes or
            as the base64 string that `get_config()` stores. Defaults to `None`.
        **kwargs: other keyword arguments of `keras.layers.Layer`.

    Call arguments:
        inputs: a str, a list or 1-D numpy array of str, or a `tf.string` tensor
            of shape `()` or `(batch,)`.
        add_start: bool, prepend `[START]`. Defaults to `False`.
        add_stop: bool, append `[STOP]`. Defaults to `False`.
        sequence_length: int, overrides the layer's `sequence_length`.

    Returns:
        int32 ids `(batch, sequence_length)`, or `(sequence_length,)` for a
        scalar string.

    Example:

    >>> tokenizer = SequenceTokenizer.from_corpus(["2023-05-17"], mode="character")
    >>> ids = tokenizer(["2023-05-17"], add_start=True, add_stop=True)
    >>> tokenizer.detokenize(ids)
    ['2023-05-17']
    """

    PAD, UNK, START, STOP = SPECIAL_TOKENS
    pad_id, oov_id, start_id, stop_id = 0, 1, 2, 3

    def __init__(
        self,
        vocabulary=None,
        mode="word_piece",
        lowercase=True,
        sequence_length=None,
        proto=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_mode(mode)
        check_lowercase(lowercase)
        vocabulary = resolve_vocabulary(vocabulary, mode, proto)
        check_vocabulary(vocabulary, mode)
        check_length(sequence_length)
        self.vocabulary = list(vocabulary)
        self.proto = proto
        self.mode = mode
        self.lowercase = lowercase
        self.sequence_length = sequence_length
        # Like keras-hub's preprocessing layers: take raw strings, no weights.
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.built = True
        self._token_ids = {token: i for i, token in enumerate(self.vocabulary)}
        # The length is given on every packer call.
        self._packer = keras_hub.layers.StartEndPacker(
            sequence_length=None, start_value=2, end_value=3, pad_value=0
        )
        # keras-hub leaves these weightless layers unbuilt, and one unbuilt layer
        # in a model makes Keras's JAX `predict_on_batch` run the whole model
        # eagerly before the compiled call: every `translate()` ran its
        # generation loop twice (3 s instead of 8 ms for a tiny model).
        self._packer.built = True
        if mode == "word_piece":
            self._word_piece = keras_hub.tokenizers.WordPieceTokenizer(
                self.vocabulary, lowercase=lowercase, strip_accents=False, dtype="int32"
            )
            self._word_piece.built = True
        elif mode == "sentence_piece":
            self._proto_bytes = _sentence_piece.decode_proto(proto)
            self._pieces = _sentence_piece.processor(self._proto_bytes)
        else:
            ids = tf.range(len(self.vocabulary), dtype=tf.int32)
            initializer = tf.lookup.KeyValueTensorInitializer(self.vocabulary, ids)
            self._table = tf.lookup.StaticHashTable(initializer, default_value=1)
        # Eager calls run the graph that tf.data runs, traced once per call options,
        # rather than keras-hub's pure-Python eager path.
        self._graph_fns = {}

    @classmethod
    def from_corpus(
        cls,
        texts,
        mode="word_piece",
        vocabulary_size=1000,
        lowercase=True,
        sequence_length=None,
        **kwargs,
    ):
        """Builds the vocabulary from `texts`, then the tokenizer.

        Args:
            texts: an iterable or numpy array of str/bytes, or a
                `tf.data.Dataset` of scalar strings.
            mode: `"word_piece"` (`keras_hub.tokenizers.compute_word_piece_vocabulary`),
                `"character"` (every character seen, most frequent first, ties in
                character order) or `"sentence_piece"` (a BPE SentencePiece model;
                a corpus too small for `vocabulary_size` gives fewer pieces).
                Defaults to `"word_piece"`.
            vocabulary_size: int, most tokens, the four specials included.
                Defaults to `1000`.
            lowercase, sequence_length, **kwargs: as in `SequenceTokenizer`.
        """
        check_mode(mode)
        check_lowercase(lowercase)
        vocabulary_size = check_vocabulary_size(vocabulary_size)
        texts = as_text_list(texts)
        if mode == "word_piece":
            # keras-hub reads a list as file names, so pass a dataset.
            vocabulary = keras_hub.tokenizers.compute_word_piece_vocabulary(
                tf.data.Dataset.from_tensor_slices(texts),
                vocabulary_size,
                lowercase=lowercase,
                strip_accents=False,
                reserved_tokens=list(SPECIAL_TOKENS),
            )
        elif mode == "sentence_piece":
            lowered = [text.lower() if lowercase else text for text in texts]
            proto = _sentence_piece.train_proto(lowered, vocabulary_size, SPECIAL_TOKENS)
            proto = _sentence_piece.encode_proto(proto)
            return cls(None, mode, lowercase, sequence_length, proto=proto, **kwargs)
        else:
            counts = collections.Counter()
            for start in range(0, len(texts), 4096):
                batch = _lower(tf.constant(texts[start : start + 4096]), lowercase)
                chars = tf.strings.unicode_split(batch, "UTF-8").flat_values.numpy()
                counts.update(char.decode("utf-8") for char in chars)
            ranked = sorted(counts, key=lambda char: (-counts[char], char))
            vocabulary = list(SPECIAL_TOKENS) + ranked[: vocabulary_size - 4]
        return cls(vocabulary, mode, lowercase, sequence_length, **kwargs)

    def call(self, inputs, add_start=False, add_stop=False, sequence_length=None):
        inputs = as_string_tensor(inputs)
        if sequence_length is None:
            sequence_length = self.sequence_length
        sequence_length = check_length(sequence_length, int(add_start) + int(add_stop))
        if not tf.executing_eagerly():
            return self._tokenize(inputs, add_start, add_stop, sequence_length)
        key = (bool(add_start), bool(add_stop), sequence_length)
        texts = tf.reshape(inputs, (-1,))  # (batch,)
        try:
            ids = self._graph_function(key)(texts).numpy()
        except tf.errors.NotFoundError:
            if self.mode != "sentence_piece":
                raise
            # `keras.backend.clear_session()` frees the SentencePiece op's resource
            # that a traced function holds; trace again, once.
            self._graph_fns = {}
            ids = self._graph_function(key)(texts).numpy()
        return ops.convert_to_tensor(ids[0] if inputs.shape.rank == 0 else ids)

    def _graph_function(self, key):
        if key not in self._graph_fns:
            # A `partial`, not a lambda: TensorFlow counts traces per code object, so
            # the first (and only) trace of every tokenizer's functions would add up
            # to a false "excessive retracing" warning during `prepare` and `fit`.
            self._graph_fns[key] = tf.function(
                functools.partial(self._tokenize_texts, key=key),
                input_signature=[tf.TensorSpec([None], tf.string)],
                autograph=False,
            )
        return self._graph_fns[key]

    def _tokenize_texts(self, texts, key):
        return self._tokenize(texts, *key)

    def _tokenize(self, inputs, add_start, add_stop, sequence_length):
        texts = tf.reshape(inputs, (-1,))  # (batch,)
        if self.mode == "word_piece":
            tokens = self._word_piece.tokenize(texts)  # ragged (batch, None)
        elif self.mode == "sentence_piece":
            # A tokenizer per trace: its resource then lives as long as the traced
            # graph, which `keras.backend.clear_session()` cannot pull from under it.
            tokenizer = keras_hub.tokenizers.SentencePieceTokenizer(
                proto=self._proto_bytes, dtype="int32"
            )
            tokens = tokenizer.tokenize(_lower(texts, self.lowercase))  # ragged (batch, None)
        else:
            chars = tf.strings.unicode_split(_lower(texts, self.lowercase), "UTF-8")
            tokens = tf.ragged.map_flat_values(self._table.lookup, chars)
        tokens = tf.cast(tokens, tf.int32)
        if sequence_length is not None:
            ids = self._packer(
                tokens,
                sequence_length=sequence_length,
                add_start_value=add_start,
                add_end_value=add_stop,
            )
        else:
            # Pad to the longest row, which StartEndPacker cannot (it needs a Python
            # int): one spare column, then [STOP] written at each row's length.
            ids = tf.pad(tokens.to_tensor(), [[0, 0], [0, int(add_stop)]])
            if add_stop:
                ids += 3 * tf.one_hot(tokens.row_lengths(), tf.shape(ids)[1], dtype=tf.int32)
            if add_start:
                ids = tf.pad(ids, [[0, 0], [1, 0]], constant_values=2)
        return ids[0] if inputs.shape.rank == 0 else ids

    def detokenize(self, ids):
        """Ids `(batch, T)` or `(T,)` of any backend -> a list of str, one per row.

        Drops `[PAD]` and `[START]` and stops at the first `[STOP]`; word pieces
        are joined by `WordPieceTokenizer.detokenize`, characters with nothing.
        """
        rows = [[i for i in row if i == 1 or i > 3] for row in self._rows(ids)]
        if self.mode == "character":
            return ["".join(self.vocabulary[i] for i in row) for row in rows]
        if self.mode == "sentence_piece":
            return [self._pieces.DecodeIds(row) for row in rows]
        return [self._word_piece.detokenize(row) if row else "" for row in rows]

    def id_to_token(self, ids):
        """Ids -> token strings per row, up to and with `[STOP]`, `[PAD]` dropped."""
        rows = self._rows(ids, keep_stop=True)
        return [[self.vocabulary[i] for i in row if i != 0] for row in rows]

    def token_to_id(self, token):
        if token not in self._token_ids:
            raise ValueError(f"The token is not in the vocabulary. Received: {token=}")
        return self._token_ids[token]

    def _rows(self, ids, keep_stop=False):
        """Ids as lists of python ints, one per row, cut at the first stop token."""
        return id_rows(ids, self.vocabulary_size, 3, keep_stop)

    @property
    def vocabulary_size(self):
        return len(self.vocabulary)

    def get_vocabulary(self):
        return list(self.vocabulary)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                # In sentence_piece mode the proto holds the vocabulary.
                "vocabulary": None if self.proto is not None else list(self.vocabulary),
                "mode": self.mode,
                "lowercase": self.lowercase,
                "sequence_length": self.sequence_length,
                "proto": self.proto,
            }
        )
        return config


def _lower(texts, lowercase):
    return tf.strings.lower(texts, encoding="utf-8") if lowercase else texts
