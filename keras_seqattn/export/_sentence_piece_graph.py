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

import numpy as np
import tensorflow as tf
from sentencepiece import sentencepiece_model_pb2

from keras_seqattn.export._lookup import lookup_table
from keras_seqattn.export._unicode_maps import CharacterMap, sentence_piece_map

# SentencePiece writes a space as this character.
SPACE = "\u2581"


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
        # Symbols are codes: 0 padding, 1 a character that is in no piece (it
        # never merges), and 2 + id for a piece, or for a character that is no
        # piece but occurs inside one, 2 + an id past the vocabulary.
        self.vocabulary_size = size = len(model.pieces)
        code = {piece: 2 + i for piece, i in normal.items()}
        for piece in normal:
            for char in piece:
                code.setdefault(char, 2 + size + len(code) - len(normal))
        characters = [char for char in code if len(char) == 1]
        self.characters = lookup_table(
            characters, [code[c] for c in characters], tf.string, tf.int32, 1
        )
        # (left, right) -> the code of the piece they join into, keyed left * base
        # + right; a key with a 0 or a 1 in it is in no table.
        self.key_base = 2 + size + len(code) - len(normal)
        keys, joined = [], []
        for piece in normal:
            for cut in range(1, len(piece)):
                left, right = piece[:cut], piece[cut:]
                if left in code and right in code:
                    keys.append(code[left] * self.key_base + code[right])
                    joined.append(code[piece])
        self.merges = lookup_table(keys, joined, tf.int64, tf.int32, 0)
        lowest = [float(np.finfo(np.float32).min)]
        scores = lowest * 2 + [piece.score for piece in model.pieces]
        self.scores = tf.constant(scores + lowest * (self.key_base - len(scores)), tf.float32)
        self.normalize = CharacterMap(sentence_piece_map(proto))

    def __call__(self, texts):
        words = tf.strings.split(self._normalized(texts), sep=" ")  # ragged (batch, None)
        words = tf.ragged.boolean_mask(words, tf.not_equal(words, ""))
        chars = tf.strings.unicode_split(words.flat_values, "UTF-8")  # ragged (words, None)
        codes = self._merge(tf.ragged.map_flat_values(self.characters.lookup, chars).to_tensor())
        codes = words.with_flat_values(codes).merge_dims(1, 2).to_tensor()  # (batch, T), 0 pads
        # A character outside the vocabulary is `[UNK]`, and an `[UNK]` right
        # after an `[UNK]` is folded into it.
        unknown = tf.logical_or(tf.equal(codes, 1), codes >= 2 + self.vocabulary_size)
        after_unknown = tf.pad(unknown[:, :-1], [[0, 0], [1, 0]])
        keep = (codes > 0) & tf.logical_not(unknown & after_unknown)
        return tf.ragged.boolean_mask(tf.where(unknown, self.unknown_id, codes - 2), keep)

    def _normalized(self, texts):
        """Normalised text with a space before every word, `▁` not yet written."""
        texts = self.normalize(texts)
        texts = tf.strings.regex_replace(texts, " +", " ")
        texts = tf.strings.regex_replace(texts, "^ | $", "")
        texts = tf.where(tf.equal(texts, ""), "", tf.strings.join([" ", texts]))
        # Words start at spaces, and at `▁`s the text brought with it.
        return tf.strings.regex_replace(texts, f" |{SPACE}", f" {SPACE}")

    def _merge(self, codes):
        """Symbol codes `(N, L)`, 0-padded -> ragged codes `(N, None)` after every BPE merge."""
        width = tf.shape(codes)[1]
        columns = tf.range(width)[tf.newaxis, :]  # (1, L)

        def merge_once(codes, rows):
            # Only the words that merged last time can merge again.
            words = tf.gather(codes, rows)  # (A, L)
            keys = tf.cast(words[:, :-1], tf.int64) * self.key_base
            keys += tf.cast(words[:, 1:], tf.int64)  # (A, L - 1)
            joined = tf.pad(self.merges.lookup(keys), [[0, 0], [0, 1]])  # (A, L), 0: none
            scores = tf.gather(self.scores, joined)  # (A, L), lowest where none
            best = tf.argmax(scores, axis=1, output_type=tf.int32)  # (A,)
            merges = tf.gather(joined, best[:, tf.newaxis], batch_dims=1)  # (A, 1), 0: none
            # Without a merge, `best` moves past the end and the row stays as it is.
            best = tf.where(merges[:, 0] > 0, best, width)[:, tf.newaxis]  # (A, 1)
            following = tf.pad(words[:, 1:], [[0, 0], [0, 1]])  # (A, L): column j + 1
            words = tf.where(columns < best, words, tf.where(columns == best, merges, following))
            codes = tf.tensor_scatter_nd_update(codes, rows[:, tf.newaxis], words)
            return codes, tf.boolean_mask(rows, merges[:, 0] > 0)

        codes, _ = tf.while_loop(
            lambda codes, rows: tf.size(rows) > 0,
            merge_once,
            (codes, tf.range(tf.shape(codes)[0])),
            shape_invariants=(tf.TensorShape([None, None]), tf.TensorShape([None])),
        )
        return tf.RaggedTensor.from_tensor(codes, padding=0)  # ragged (N, None)


def _parse(proto):
    model = sentencepiece_model_pb2.ModelProto()
    try:
        model.ParseFromString(proto)
    except Exception as error:  # protobuf's DecodeError, whatever its module
        raise ValueError(f"`proto` is not a SentencePiece model: {error}") from error
    return model
