"""A BPE SentencePiece model's encoder, as a graph of core TensorFlow ops.

`SequenceTokenizer`'s `"sentence_piece"` mode runs `tensorflow_text`'s
`SentencepieceOp`, a custom op that TensorFlow Serving and TensorFlow-only
processes do not load. SentencePiece's BPE encoder (Kudo & Richardson, 2018;
`bpe_model.cc`) is small enough to write with core ops:

1. Normalise: each character through the model's normaliser
   (`_unicode_maps.sentence_piece_map`: NFKC and the `nmt` rules, computed by
   `sentencepiece` itself at export time), runs of spaces collapsed, the ends
   trimmed, a space put in front, and every space written `▁`.
2. Split into words before each `▁` (no piece has `▁` after its first
   character, so merges never cross a word boundary) and words into characters.
3. Merge: repeatedly join the adjacent pair whose join is the piece of highest
   score (the leftmost on a tie), until no join is a piece. Symbols are integer
   ids and the joins a table of id pairs, computed from the pieces at export
   time, so the loop does no string work; one merge per word per
   `tf.while_loop` iteration, all words at once.
4. Characters outside the vocabulary become `[UNK]` and, as SentencePiece
   does, a run of `[UNK]`s is folded into one.

Only BPE models without user-defined or unused pieces (what `from_corpus`
trains) are supported: `SentencePieceGraph` checks.
"""

import tensorflow as tf
from sentencepiece import sentencepiece_model_pb2

from keras_seqattn.export._unicode_maps import CharacterMap, sentence_piece_map

_SPACE = "\u2581"


class SentencePieceGraph(tf.Module):
    """Strings `(batch,)` -> ragged int32 ids `(batch, None)`, as SentencePiece encodes.

    Args:
        proto: bytes, the serialized SentencePiece model.
    """

    def __init__(self, proto, name=None):
        super().__init__(name=name)
        model = _parse(proto)
        kind = sentencepiece_model_pb2.TrainerSpec.ModelType.Name(model.trainer_spec.model_type)
        if kind != "BPE":
            raise ValueError(
                f"In-graph SentencePiece encoding supports BPE models only. Received: {kind=}"
            )
        types = sentencepiece_model_pb2.ModelProto.SentencePiece.Type
        normal = {}  # piece -> id, the pieces symbols merge into
        for i, piece in enumerate(model.pieces):
            if piece.type not in (types.NORMAL, types.UNKNOWN, types.CONTROL):
                raise ValueError(
                    "In-graph SentencePiece encoding supports models of normal, control "
                    f"and unknown pieces only. Received: piece {piece.piece!r} of type "
                    f"{types.Name(piece.type)}"
                )
            if piece.type == types.UNKNOWN:
                self.unknown_id = i
            elif piece.type == types.NORMAL:
                normal[piece.piece] = i
        # Symbols are ids: a piece's id, or for a character that is no piece but
        # occurs inside one, an id past the vocabulary; any other character is -1
        # and never merges.
        size = len(model.pieces)
        symbol = dict(normal)
        for piece in normal:
            for char in piece:
                symbol.setdefault(char, size + len(symbol) - len(normal))
        characters = [char for char in symbol if len(char) == 1]
        self.vocabulary_size = size
        self.characters = _table(characters, [symbol[c] for c in characters], tf.string)
        # (left symbol, right symbol) -> the piece they join into, keyed left * M + right.
        self.key_base = size + len(symbol) - len(normal)
        keys, merged = [], []
        for piece, i in normal.items():
            for cut in range(1, len(piece)):
                left, right = piece[:cut], piece[cut:]
                if left in symbol and right in symbol:
                    keys.append(symbol[left] * self.key_base + symbol[right])
                    merged.append(i)
        self.merges = _table(keys, merged, tf.int64)
        scores = [piece.score for piece in model.pieces]
        self.scores = tf.constant(scores, tf.float32)  # (vocabulary,)
        self.normalize = CharacterMap(sentence_piece_map(proto))

    def __call__(self, texts):
        words = tf.strings.split(self._normalized(texts), sep=" ")  # ragged (batch, None)
        words = tf.ragged.boolean_mask(words, tf.not_equal(words, ""))
        chars = tf.strings.unicode_split(words.flat_values, "UTF-8")  # ragged (words, None)
        symbols = self._merge(tf.ragged.map_flat_values(self.characters.lookup, chars))
        ids = words.with_flat_values(symbols).merge_dims(1, 2).to_tensor(-2)  # (batch, T)
        # A character outside the vocabulary is `[UNK]`, and an `[UNK]` right
        # after an `[UNK]` is folded into it.
        unknown = tf.logical_or(tf.equal(ids, -1), ids >= self.vocabulary_size)
        after_unknown = tf.pad(unknown[:, :-1], [[0, 0], [1, 0]])
        keep = tf.not_equal(ids, -2) & tf.logical_not(unknown & after_unknown)
        return tf.ragged.boolean_mask(tf.where(unknown, self.unknown_id, ids), keep)

    def _normalized(self, texts):
        """Normalised text with a space before every word, `▁` not yet written."""
        texts = self.normalize(texts)
        texts = tf.strings.regex_replace(texts, " +", " ")
        texts = tf.strings.regex_replace(texts, "^ | $", "")
        texts = tf.where(tf.equal(texts, ""), "", tf.strings.join([" ", texts]))
        # Words start at spaces, and at `▁`s the text brought with it.
        return tf.strings.regex_replace(texts, f" |{_SPACE}", f" {_SPACE}")

    def _merge(self, chars):
        """Ragged symbol ids `(words, None)` -> ragged symbol ids after every BPE merge."""
        symbols = chars.to_tensor(-1)  # (N, L)
        lengths = tf.cast(chars.row_lengths(), tf.int32)  # (N,)
        columns = tf.range(tf.shape(symbols)[1])[tf.newaxis, :]  # (1, L)
        lowest = tf.float32.min

        def merge_once(symbols, lengths, merged_any):
            left, right = symbols[:, :-1], symbols[:, 1:]  # (N, L - 1)
            real = (columns[:, 1:] < lengths[:, tf.newaxis]) & (left >= 0) & (right >= 0)
            keys = tf.cast(left, tf.int64) * self.key_base + tf.cast(right, tf.int64)
            joined = self.merges.lookup(tf.where(real, keys, -1))  # (N, L - 1), -1: none
            scores = tf.where(joined >= 0, tf.gather(self.scores, tf.maximum(joined, 0)), lowest)
            scores = tf.pad(scores, [[0, 0], [0, 1]], constant_values=lowest)  # (N, L)
            best = tf.argmax(scores, axis=1, output_type=tf.int32)[:, tf.newaxis]  # (N, 1)
            merges = tf.reduce_max(scores, axis=1) > lowest  # (N,)
            piece = tf.gather(tf.pad(joined, [[0, 0], [0, 1]]), best, batch_dims=1)  # (N, 1)
            # Column j takes column j + 1 after the merged pair; the pair's column
            # takes the joined piece.
            merging = merges[:, tf.newaxis]  # (N, 1)
            source = columns + tf.cast((columns > best) & merging, tf.int32)  # (N, L)
            shifted = tf.gather(tf.pad(symbols, [[0, 0], [0, 1]]), source, batch_dims=1)
            symbols = tf.where((columns == best) & merging, piece, shifted)
            return symbols, lengths - tf.cast(merges, tf.int32), tf.reduce_any(merges)

        symbols, lengths, _ = tf.while_loop(
            lambda symbols, lengths, merged_any: merged_any,
            merge_once,
            (symbols, lengths, tf.constant(True)),
            shape_invariants=(tf.TensorShape([None, None]), lengths.shape, tf.TensorShape([])),
        )
        return tf.RaggedTensor.from_tensor(symbols, lengths=lengths)  # ragged (N, None)


def _table(keys, values, key_dtype):
    """A `StaticHashTable` of keys -> int32 values, -1 for a missing key."""
    initializer = tf.lookup.KeyValueTensorInitializer(
        tf.constant(keys, key_dtype), tf.constant(values, tf.int32)
    )
    return tf.lookup.StaticHashTable(initializer, default_value=-1)


def _parse(proto):
    model = sentencepiece_model_pb2.ModelProto()
    try:
        model.ParseFromString(proto)
    except Exception as error:  # protobuf's DecodeError, whatever its module
        raise ValueError(f"`proto` is not a SentencePiece model: {error}") from error
    return model
