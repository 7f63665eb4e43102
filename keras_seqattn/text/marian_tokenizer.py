"""A MarianMT (OPUS-MT) tokenizer: SentencePiece pieces looked up in `vocab.json`."""

import functools
import re

import keras
import keras_hub
import tensorflow as tf
from keras import ops

from keras_seqattn.text import _sentence_piece
from keras_seqattn.text._arguments import as_string_tensor, check_length, id_rows

# A target-language code that multilingual OPUS-MT models take in front of the text.
LANGUAGE_CODE = r"(?s)^(>>.*?<<)?(.*)$"


def split_pieces(texts, special_tokens, encode):
    """`(batch,)` strings -> ragged `(batch, None)` pieces, as Hugging Face's `MarianTokenizer`.

    It cuts the text at each literal special token (`</s>`, `<unk>`, `<pad>`:
    its tokens trie), which stays one piece; each chunk between them is a
    leading `>>xx<<` code as one piece, then `encode(rest)`'s SentencePiece
    pieces (`encode`: ragged `(chunks, None)` of `(chunks,)`). Core TensorFlow
    ops, so that the export's string graph cuts the same way.
    """
    tokens = sorted(set(special_tokens), key=len, reverse=True)  # the longest match first
    pattern = "(" + "|".join(re.escape(token) for token in tokens) + ")"
    # NUL separates the chunks, so the text's own NULs (and the escape character)
    # are escaped first and restored after the split: a NUL is a character as any
    # other, which SentencePiece reads as unknown, as MarianTokenizer does.
    escaped = tf.strings.regex_replace(texts, r"\x01", "\x01\x02")
    escaped = tf.strings.regex_replace(escaped, r"\x00", "\x01\x03")
    marked = tf.strings.regex_replace(escaped, pattern, "\x00\\1\x00")
    chunks = tf.strings.split(marked, sep="\x00")  # ragged (batch, chunks)
    flat = tf.strings.regex_replace(chunks.flat_values, r"\x01\x03", "\x00")  # (chunks,)
    flat = tf.strings.regex_replace(flat, r"\x01\x02", "\x01")
    special = tf.reduce_any(tf.equal(flat[:, None], tf.constant(tokens)[None, :]), axis=1)
    text = tf.where(special, "", flat)
    code = tf.strings.regex_replace(text, LANGUAGE_CODE, r"\1")  # (chunks,)
    rest = tf.strings.regex_replace(text, LANGUAGE_CODE, r"\2")  # (chunks,)
    whole = tf.ragged.boolean_mask(flat[:, None], special[:, None])  # (chunks, 0 or 1)
    code = tf.ragged.boolean_mask(code[:, None], tf.not_equal(code, "")[:, None])
    pieces = tf.concat([whole, code, encode(rest)], axis=1)  # ragged (chunks, None)
    return chunks.with_flat_values(pieces).merge_dims(1, 2)  # ragged (batch, None)


@keras.saving.register_keras_serializable(package="keras_seqattn")
class MarianTokenizer(keras.layers.Layer):
    """Tokenises text as Hugging Face's `MarianTokenizer`, for one side of a model.

    A Marian model has one SentencePiece model per language (`source.spm`,
    `target.spm`) but one vocabulary of pieces for both (`vocab.json`, piece
    -> id), so a piece's id is not its SentencePiece id. Per string it:

    1. Cuts the text at each literal `eos_token`, `unk_token` or
       `pad_token`, kept as that special id (as Hugging Face's tokenizer
       splits on its special tokens); in each chunk between, takes a leading
       target-language code `>>xx<<` (multilingual models) as one token, as
       `MarianTokenizer.remove_language_code` does.
    2. Splits the rest into pieces with the SentencePiece model (a unigram
       model, Viterbi segmentation) and looks each piece up in `vocabulary`;
       unknown pieces become `unk_token`.
    3. Appends `eos_token` (`add_stop=True`) and pads with `pad_token`,
       Marian's special ids: `</s>` is 0, `<unk>` 1 and `<pad>` the last id
       in the OPUS-MT vocabularies, where the paper's models put `[PAD]` at 0.

    The decoder of a Marian model starts from `pad_token` (its
    `decoder_start_token_id`), so `start_id` is `pad_id`. `detokenize()`
    drops the special tokens and joins the pieces as
    `MarianTokenizer.decode(ids, skip_special_tokens=True)` does.

    The call runs TensorFlow ops (the `tensorflow_text` SentencePiece op, as
    `SequenceTokenizer`'s `"sentence_piece"` mode), inside `tf.data` or eagerly.

    Args:
        proto: the side's SentencePiece model, bytes or the base64 string that
            `get_config()` stores.
        vocabulary: list of str, the piece of each id (`vocab.json` inverted).
        eos_token: str. Defaults to `"</s>"`.
        unk_token: str. Defaults to `"<unk>"`.
        pad_token: str. Defaults to `"<pad>"`.
        **kwargs: other keyword arguments of `keras.layers.Layer`.

    Call arguments:
        inputs: a str, a list or 1-D array of str, or a `tf.string` tensor.
        add_start: bool, prepend the decoder start token. Defaults to `False`.
        add_stop: bool, append `eos_token`. Defaults to `False`.
        sequence_length: int or `None`, the padded length (truncation keeps
            `eos_token` last); `None` pads to the longest row.

    Returns:
        int32 ids `(batch, sequence_length)`, or `(sequence_length,)` for a
        scalar string.

    Reference:
        Junczys-Dowmunt et al. (2018), Marian: Fast Neural Machine Translation
        in C++; Tiedemann & Thottingal (2020), OPUS-MT; Kudo (2018), Subword
        Regularization (the unigram model).
    """

    mode = "marian"
    lowercase = False

    def __init__(
        self, proto, vocabulary, eos_token="</s>", unk_token="<unk>", pad_token="<pad>", **kwargs
    ):
        super().__init__(**kwargs)
        self.proto = proto if isinstance(proto, str) else _sentence_piece.encode_proto(proto)
        self._proto_bytes = _sentence_piece.decode_proto(proto)
        self._pieces = _sentence_piece.processor(self._proto_bytes)
        if not isinstance(vocabulary, (list, tuple)) or not all(
            isinstance(piece, str) for piece in vocabulary
        ):
            raise ValueError(
                "`vocabulary` must be a list of str, the piece of each id. "
                f"Received: vocabulary={vocabulary!r:.80}"
            )
        self.vocabulary = list(vocabulary)
        self._token_ids = {token: i for i, token in enumerate(self.vocabulary)}
        if len(self._token_ids) != len(self.vocabulary):
            raise ValueError("`vocabulary` must not repeat a piece. Received: repeated pieces")
        for key, token in (
            ("eos_token", eos_token),
            ("unk_token", unk_token),
            ("pad_token", pad_token),
        ):
            if token not in self._token_ids:
                raise ValueError(f"`{key}` must be in the vocabulary. Received: {key}={token!r}")
        self.eos_token, self.unk_token, self.pad_token = eos_token, unk_token, pad_token
        self.stop_id = self._token_ids[eos_token]
        self.oov_id = self._token_ids[unk_token]
        self.pad_id = self._token_ids[pad_token]
        self.start_id = self.pad_id  # Marian's decoder_start_token_id
        self.special_ids = sorted({self.stop_id, self.oov_id, self.pad_id})
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.built = True
        self._table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                self.vocabulary, tf.range(len(self.vocabulary), dtype=tf.int32)
            ),
            default_value=self.oov_id,
        )
        self._packer = keras_hub.layers.StartEndPacker(
            sequence_length=None,
            start_value=self.start_id,
            end_value=self.stop_id,
            pad_value=self.pad_id,
        )
        self._packer.built = True
        self._graph_fns = {}

    def call(self, inputs, add_start=False, add_stop=False, sequence_length=None):
        inputs = as_string_tensor(inputs)
        sequence_length = check_length(sequence_length, int(add_start) + int(add_stop))
        if not tf.executing_eagerly():
            return self._tokenize(inputs, add_start, add_stop, sequence_length)
        key = (bool(add_start), bool(add_stop), sequence_length)
        if key not in self._graph_fns:
            self._graph_fns[key] = tf.function(
                functools.partial(self._tokenize_texts, key=key),
                input_signature=[tf.TensorSpec([None], tf.string)],
                autograph=False,
            )
        texts = tf.reshape(inputs, (-1,))  # (batch,)
        try:
            ids = self._graph_fns[key](texts).numpy()
        except tf.errors.NotFoundError:
            # `keras.backend.clear_session()` freed the SentencePiece resource.
            self._graph_fns = {}
            return self.call(inputs, add_start, add_stop, sequence_length)
        return ops.convert_to_tensor(ids[0] if inputs.shape.rank == 0 else ids)

    def _tokenize_texts(self, texts, key):
        return self._tokenize(texts, *key)

    def tokenize_pieces(self, texts):
        """`(batch,)` strings -> ragged `(batch, None)` piece strings (`split_pieces`)."""
        tokenizer = keras_hub.tokenizers.SentencePieceTokenizer(
            proto=self._proto_bytes, dtype="string"
        )
        return split_pieces(texts, self.special_tokens, tokenizer.tokenize)

    @property
    def special_tokens(self):
        """The literal tokens that `MarianTokenizer` keeps whole in a text."""
        return [self.eos_token, self.unk_token, self.pad_token]

    def _tokenize(self, inputs, add_start, add_stop, sequence_length):
        texts = tf.reshape(inputs, (-1,))  # (batch,)
        tokens = tf.ragged.map_flat_values(self._table.lookup, self.tokenize_pieces(texts))
        if sequence_length is not None:
            ids = self._packer(
                tokens,
                sequence_length=sequence_length,
                add_start_value=add_start,
                add_end_value=add_stop,
            )
        else:
            lengths = tokens.row_lengths()
            ids = tokens.to_tensor(default_value=self.pad_id)
            ids = tf.pad(ids, [[0, 0], [0, int(add_stop)]], constant_values=self.pad_id)
            if add_stop:
                at_end = tf.one_hot(lengths, tf.shape(ids)[1], dtype=tf.int32)
                ids += (self.stop_id - self.pad_id) * at_end
            if add_start:
                ids = tf.pad(ids, [[0, 0], [1, 0]], constant_values=self.start_id)
        return ids[0] if inputs.shape.rank == 0 else ids

    def detokenize(self, ids):
        """Ids `(batch, T)` or `(T,)` -> a list of str, as Hugging Face's
        `decode(ids, skip_special_tokens=True)`: cut at the first `eos_token`,
        special tokens dropped, pieces joined with `▁` as spaces."""
        special = set(self.special_ids)
        texts = []
        for row in self._rows(ids):
            pieces = [self.vocabulary[i] for i in row if i not in special]
            text = self._pieces.DecodePieces(pieces) if pieces else ""
            texts.append(text.replace("\u2581", " ").strip())
        return texts

    def id_to_token(self, ids):
        """Ids -> piece strings per row, up to and with `eos_token`, padding dropped."""
        rows = self._rows(ids, keep_stop=True)
        return [[self.vocabulary[i] for i in row if i != self.pad_id] for row in rows]

    def token_to_id(self, token):
        if token not in self._token_ids:
            raise ValueError(f"The token is not in the vocabulary. Received: {token=}")
        return self._token_ids[token]

    def _rows(self, ids, keep_stop=False):
        """Ids as lists of python ints, one per row, cut at the first stop token."""
        return id_rows(ids, self.vocabulary_size, self.stop_id, keep_stop)

    @property
    def vocabulary_size(self):
        return len(self.vocabulary)

    def get_vocabulary(self):
        return list(self.vocabulary)

    def get_config(self):
        config = super().get_config()
        config.update(
            proto=self.proto,
            vocabulary=list(self.vocabulary),
            eos_token=self.eos_token,
            unk_token=self.unk_token,
            pad_token=self.pad_token,
        )
        return config
