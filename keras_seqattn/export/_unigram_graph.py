"""A SentencePiece unigram model's encoder (Viterbi segmentation) in core TensorFlow ops.

Marian / OPUS-MT models tokenise with SentencePiece unigram models (Kudo,
2018), whose encoder `tensorflow_text` runs as a custom op that TensorFlow
Serving does not load. The encoder is written here with core ops, after
`unigram_model.cc` (`EncodeOptimized`):

1. Normalise as `_sentence_piece_graph` does (the model's per-character map,
   whitespace collapsed, a `▁` before every word) and split into words at
   each `▁`: no piece holds a `▁` past its first character, so no piece
   crosses a word and the best segmentation of the text is that of its words.
2. For every start and every length up to the longest piece, look the
   substring up in a table of piece scores. A start at which no
   one-character piece matches gets SentencePiece's unknown node there, at
   `min_score - 10`.
3. Viterbi over the end positions (`tf.while_loop`): the best score of a
   prefix is the best of `best[start] + score(piece)` over the pieces that end
   there; on a tie the earliest start wins, as SentencePiece keeps the first
   of equal scores it meets going forward.
4. Backtrack the best pieces, and fold each run of unknown pieces into one
   (its surface, the characters joined), as SentencePiece does.

It returns the pieces as strings; `MarianGraphTokenizer` looks them up in the
model's `vocab.json`. Models with user-defined pieces or byte fallback are
refused.
"""

import tensorflow as tf
from sentencepiece import sentencepiece_model_pb2

from keras_seqattn.export._lookup import lookup_table
from keras_seqattn.export._ragged import row_ids
from keras_seqattn.export._sentence_piece_graph import _parse, normalized_words
from keras_seqattn.export._unicode_maps import CharacterMap, sentence_piece_map

_UNK_PENALTY = 10.0  # kUnkPenalty in unigram_model.cc
_MISS = -1e30  # the score of a substring that is no piece


class UnigramGraph(tf.Module):
    """Strings `(batch,)` -> ragged piece strings `(batch, None)`, as SentencePiece encodes.

    Args:
        proto: bytes, the serialized SentencePiece unigram model.
    """

    def __init__(self, proto, name=None):
        super().__init__(name=name)
        model = _parse(proto)
        kind = sentencepiece_model_pb2.TrainerSpec.ModelType.Name(model.trainer_spec.model_type)
        if kind != "UNIGRAM":
            raise ValueError(f"UnigramGraph encodes unigram models only. Received: {kind=}")
        if model.trainer_spec.byte_fallback:
            raise ValueError("UnigramGraph has no byte fallback. Received: byte_fallback=True")
        types = sentencepiece_model_pb2.ModelProto.SentencePiece.Type
        normal = {}
        for piece in model.pieces:
            if piece.type == types.USER_DEFINED:
                raise ValueError(
                    "UnigramGraph supports models without user-defined pieces. "
                    f"Received: piece {piece.piece!r} of type USER_DEFINED"
                )
            if piece.type == types.NORMAL:
                normal[piece.piece] = piece.score
        self.longest = max(len(piece) for piece in normal)
        self.unknown_score = min(normal.values()) - _UNK_PENALTY
        self.scores = lookup_table(
            list(normal), list(normal.values()), tf.string, tf.float32, _MISS
        )
        self.normalize = CharacterMap(sentence_piece_map(proto))

    def __call__(self, texts):
        words = tf.strings.split(self._normalized(texts), sep=" ")  # ragged (batch, None)
        words = tf.ragged.boolean_mask(words, tf.not_equal(words, ""))
        pieces = self.encode_words(words.flat_values)  # ragged (words, None)
        return words.with_flat_values(pieces).merge_dims(1, 2)  # ragged (batch, None)

    def _normalized(self, texts):
        return normalized_words(texts, self.normalize)

    def encode_words(self, words):
        """`(words,)` strings -> ragged `(words, None)` pieces (Viterbi, unknowns folded)."""
        chars = tf.strings.unicode_split(words, "UTF-8")  # ragged (words, None)
        lengths = tf.cast(chars.row_lengths(), tf.int32)  # (words,)
        grid = chars.to_tensor("")  # (words, M)
        width = tf.shape(grid)[1]
        padded = tf.pad(grid, [[0, 0], [0, self.longest]])  # (words, M + longest)
        starts = tf.range(width)[None, :]  # (1, M)
        substrings, scores = [], []
        for length in range(1, self.longest + 1):
            text = tf.strings.join([padded[:, k : k + width] for k in range(length)])  # (words, M)
            score = self.scores.lookup(text)
            inside = starts + length <= lengths[:, None]  # (words, M)
            if length == 1:
                # No one-character piece at a start: SentencePiece's unknown node.
                score = tf.where(tf.equal(score, _MISS), self.unknown_score, score)
            substrings.append(text)
            scores.append(tf.where(inside, score, _MISS))
        # By end position: ending[l - 1][:, j] scores the piece of length l ending at j.
        ending = tf.stack(
            [
                tf.pad(s, [[0, 0], [length, 0]])[:, : width + 1]
                for length, s in enumerate(scores, 1)
            ],
            axis=1,
        )  # (words, longest, M + 1)
        back = self._viterbi(ending, width)  # (words, M + 1) the best last piece's length
        spans = self._backtrack(back, lengths)  # ragged (words, None) of (start, length)
        return self._fold_unknowns(spans, tf.stack(substrings, axis=1))

    def _viterbi(self, ending, width):
        words = tf.shape(ending)[0]
        # Longest first, so that `argmax` (the first maximum) takes the earliest start.
        order = tf.range(self.longest, 0, -1)  # (longest,)
        ending = tf.gather(ending, order - 1, axis=1)

        def step(end, best, back):
            previous = end - order  # (longest,)
            prefix = tf.gather(best, tf.maximum(previous, 0), axis=1)  # (words, longest)
            prefix = tf.where(previous[None, :] >= 0, prefix, _MISS)
            total = prefix + ending[:, :, end]  # (words, longest)
            choice = tf.argmax(total, axis=1, output_type=tf.int32)  # (words,)
            at_end = tf.equal(tf.range(width + 1), end)[None, :]  # (1, M + 1)
            best = tf.where(at_end, tf.reduce_max(total, axis=1)[:, None], best)
            back = tf.where(at_end, tf.gather(order, choice)[:, None], back)
            return end + 1, best, back

        best = tf.concat([tf.zeros((words, 1)), tf.fill((words, width), _MISS)], axis=1)
        back = tf.zeros((words, width + 1), tf.int32)
        _, _, back = tf.while_loop(lambda end, *_: end <= width, step, (tf.constant(1), best, back))
        return back

    def _backtrack(self, back, lengths):
        """From each word's end, the chosen pieces back to its start, in text order."""
        steps = tf.reduce_max(tf.concat([lengths, [0]], axis=0))

        def step(t, position, starts, sizes, active):
            size = tf.gather(back, position, axis=1, batch_dims=1)  # (words,)
            live = position > 0
            size = tf.where(live, size, 0)
            starts = starts.write(t, position - size)
            sizes = sizes.write(t, size)
            active = active.write(t, live)
            return t + 1, position - size, starts, sizes, active

        arrays = [tf.TensorArray(dtype, size=steps) for dtype in (tf.int32, tf.int32, tf.bool)]
        _, _, starts, sizes, active = tf.while_loop(
            lambda t, *_: t < steps, step, (tf.constant(0), lengths, *arrays)
        )
        counts = tf.reduce_sum(tf.cast(tf.transpose(active.stack()), tf.int32), axis=1)
        # Collected end first: reversing each row's live prefix puts them in text order.
        starts = tf.reverse_sequence(tf.transpose(starts.stack()), counts, seq_axis=1)
        sizes = tf.reverse_sequence(tf.transpose(sizes.stack()), counts, seq_axis=1)
        spans = tf.stack([starts, sizes], axis=-1)  # (words, steps, 2)
        return tf.RaggedTensor.from_tensor(spans, lengths=counts)

    def _fold_unknowns(self, spans, substrings):
        """Span pieces as strings; each run of unknown pieces becomes one piece."""
        flat = spans.flat_values  # (pieces, 2)
        word = row_ids(spans)
        index = tf.stack([tf.cast(word, tf.int32), flat[:, 1] - 1, flat[:, 0]], axis=1)
        pieces = tf.gather_nd(substrings, index)  # (pieces,)
        unknown = tf.equal(self.scores.lookup(pieces), _MISS)
        first = tf.equal(tf.range(tf.shape(flat)[0], dtype=spans.row_splits.dtype),
                         tf.gather(spans.row_starts(), word))  # fmt: skip
        after_unknown = tf.logical_and(tf.pad(unknown[:-1], [[1, 0]]), tf.logical_not(first))
        new_piece = tf.logical_not(tf.logical_and(unknown, after_unknown))
        segment = tf.cumsum(tf.cast(new_piece, tf.int32)) - 1  # (pieces,)
        count = tf.reduce_sum(tf.cast(new_piece, tf.int32))
        joined = tf.strings.unsorted_segment_join(pieces, segment, num_segments=count)
        per_word = tf.math.unsorted_segment_sum(tf.cast(new_piece, tf.int64), word, spans.nrows())
        return tf.RaggedTensor.from_row_lengths(joined, per_word)
