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
   score (the leftmost on a tie), until no join is a piece
   (`_bpe_merges.BpeMerges`: integer codes, a table of code pairs, loops whose
   cost grows linearly with the text, however long its words).
4. Characters outside the vocabulary become `[UNK]` and, as SentencePiece
   does, a run of `[UNK]`s is folded into one.

Only BPE models without user-defined or unused pieces (what `from_corpus`
trains) are supported: `SentencePieceGraph` checks.
"""

import tensorflow as tf
from sentencepiece import sentencepiece_model_pb2

from keras_seqattn.export._bpe_merges import BpeMerges
from keras_seqattn.export._lookup import lookup_table
from keras_seqattn.export._ragged import first_of_rows
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
        self.merges = BpeMerges(code, {p: model.pieces[i].score for p, i in normal.items()})
        self.normalize = CharacterMap(sentence_piece_map(proto))

    def __call__(self, texts):
        words = tf.strings.split(self._normalized(texts), sep=" ")  # ragged (batch, None)
        words = tf.ragged.boolean_mask(words, tf.not_equal(words, ""))
        chars = tf.strings.unicode_split(words.flat_values, "UTF-8")  # ragged (words, None)
        codes = tf.ragged.map_flat_values(self.characters.lookup, chars)
        symbols = self.merges(codes)  # ragged (words, None)
        return self._ids(words.with_flat_values(symbols).merge_dims(1, 2))

    def _normalized(self, texts):
        return normalized_words(texts, self.normalize)

    def _ids(self, codes):
        """Ragged codes `(batch, None)` -> ids; a run of `[UNK]`s is folded into one."""
        values = codes.flat_values
        # A character outside the vocabulary is `[UNK]`.
        unknown = tf.logical_or(tf.equal(values, 1), values >= 2 + self.vocabulary_size)
        after_unknown = tf.logical_and(
            tf.pad(unknown[:-1], [[1, 0]]), tf.logical_not(first_of_rows(codes))
        )
        keep = tf.logical_not(tf.logical_and(unknown, after_unknown))
        ids = codes.with_flat_values(tf.where(unknown, self.unknown_id, values - 2))
        return tf.ragged.boolean_mask(ids, codes.with_flat_values(keep))


def normalized_words(texts, normalize):
    """`normalize`d text with ` ▁` before every word, as SentencePiece's
    normaliser writes it (runs of spaces collapsed, the ends trimmed, a dummy
    prefix), split at the spaces by the callers."""
    texts = normalize(texts)
    texts = tf.strings.regex_replace(texts, " +", " ")
    texts = tf.strings.regex_replace(texts, "^ | $", "")
    texts = tf.where(tf.equal(texts, ""), "", tf.strings.join([" ", texts]))
    # Words start at spaces, and at `▁`s the text brought with it.
    return tf.strings.regex_replace(texts, f" |{SPACE}", f" {SPACE}")


def _parse(proto):
    model = sentencepiece_model_pb2.ModelProto()
    try:
        model.ParseFromString(proto)
    except Exception as error:  # protobuf's DecodeError, whatever its module
        raise ValueError(f"`proto` is not a SentencePiece model: {error}") from error
    return model
