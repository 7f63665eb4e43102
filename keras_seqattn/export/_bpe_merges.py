"""SentencePiece's BPE merges as a graph of core TensorFlow ops, in time linear in the text.

SentencePiece's BPE encoder (`bpe_model.cc`) merges one pair at a time: the
adjacent pair whose join is the piece of highest score, the leftmost on a tie,
until no join is a piece. Symbols here are integer codes and the joins a table
of code pairs, so the loops do no string work. Two loops give the same symbols:

- Words of up to `SHORT_WORD` characters (nearly all), as a `(words, longest)`
  matrix: each `tf.while_loop` step merges the best pair of every word not yet
  done. Steps are the most merges of a word, at most `SHORT_WORD`.
- Longer words, laid end to end: one merge per step would be a step per merge
  (about 8,000 for a 10,000-character word), so each step merges, in every
  word,

  1. the best level: the pairs at the word's highest score, left to right,
     each but the one right after a merged one (it lost its symbol), up to and
     with the first merge whose new pairs score that high or higher (sequential
     BPE merges that new pair next). These are sequential BPE's next merges.
  2. quiet pairs: a pair of score `s` whose pairs within `D` characters to
     its left all score below `s`, whose pairs within `D` characters to its
     right score `s` at most, and whose join pairs with its two neighbours at
     `s` at most, `D` being the longest piece. Sequential BPE merges it later,
     with these two symbols: every merge before it scores `s` or more, so none
     falls within `D` characters of it (a symbol that takes in one from farther
     away is longer than any piece), and merging it early changes none of the
     choices in between (its new pairs score `s` at most, and lose every tie to
     those choices).

  A step costs time linear in the symbols, and a long word takes about as many
  steps as a short one (tens: the score levels of a stretch of `D` characters).

`tests/export/test_text_graph.py` checks both against SentencePiece itself on
a model whose scores are shuffled, so that joins do not score in training order.
"""

import numpy as np
import tensorflow as tf

from keras_seqattn.export._lookup import lookup_table
from keras_seqattn.export._ragged import row_ids

# The score of "no piece": below every piece's.
NONE = float(np.finfo(np.float32).min)
# Words of up to this many characters merge one pair per step (see above).
SHORT_WORD = 64


class BpeMerges(tf.Module):
    """Ragged symbol codes `(words, None)` -> the codes after every BPE merge.

    Args:
        code: dict of str -> int >= 2, the code of each piece, and of each
            character in a piece. Codes 0 and 1 (padding, a character in no
            piece) join nothing.
        scores: dict of piece -> float, the score of each piece merges make.
    """

    def __init__(self, code, scores, name=None):
        super().__init__(name=name)
        self.base = base = max(code.values(), default=1) + 1
        keys, joined = [], []
        for piece in scores:
            for cut in range(1, len(piece)):
                left, right = piece[:cut], piece[cut:]
                if left in code and right in code:
                    keys.append(code[left] * base + code[right])
                    joined.append(code[piece])
        # (left, right) -> the code of their piece, keyed left * base + right:
        # int32 keys, without casts in the loops, while they fit.
        self.key_dtype = tf.int32 if base**2 < 2**31 else tf.int64
        self.table = lookup_table(keys, joined, self.key_dtype, tf.int32, 0)
        score = np.full(base, NONE, np.float32)  # of each code's piece
        for text, i in code.items():
            score[i] = scores.get(text, NONE)
        self.scores = tf.constant(score)
        self.longest = max([len(piece) for piece in scores] + [1])  # characters

    def __call__(self, codes):
        lengths = codes.row_lengths()
        short = tf.where(lengths <= SHORT_WORD)[:, 0]  # (S,) word indices
        long = tf.where(lengths > SHORT_WORD)[:, 0]  # (L,)
        merged_short = self._merge_short(tf.gather(codes, short).to_tensor())
        merged_long = self._merge_long(tf.gather(codes, long))
        # Back in the order of the words.
        rows = tf.concat(
            [tf.gather(short, row_ids(merged_short)), tf.gather(long, row_ids(merged_long))],
            axis=0,
        )
        values = tf.concat([merged_short.flat_values, merged_long.flat_values], axis=0)
        order = tf.argsort(rows, stable=True)
        return tf.RaggedTensor.from_value_rowids(
            tf.gather(values, order), tf.gather(rows, order), nrows=codes.nrows()
        )

    def join(self, left, right):
        """Codes -> the codes of the pieces they join into, 0 where none."""
        keys = tf.cast(left, self.key_dtype) * self.base + tf.cast(right, self.key_dtype)
        return self.table.lookup(keys)

    def _merge_short(self, codes):
        """Codes `(N, L)`, 0-padded -> ragged `(N, None)`: one merge per word per step."""
        width = tf.shape(codes)[1]
        columns = tf.range(width)[tf.newaxis, :]  # (1, L)

        def merge_once(codes, rows):
            # Only the words that merged last time can merge again.
            words = tf.gather(codes, rows)  # (A, L)
            joined = tf.pad(self.join(words[:, :-1], words[:, 1:]), [[0, 0], [0, 1]])  # (A, L)
            scores = tf.gather(self.scores, joined)  # (A, L), NONE where no piece
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

    def _merge_long(self, codes):
        """Ragged codes `(N, None)` -> the same: many merges per step, words end to end."""
        total = tf.size(codes.flat_values)  # characters

        def step(codes, word, offset, merged):
            # Pair k joins symbols k and k + 1, unless they are of two words.
            apart = tf.not_equal(word[:-1], word[1:])  # (N - 1,)
            joined = tf.where(apart, 0, self.join(codes[:-1], codes[1:]))  # (N - 1,)
            score = tf.gather(self.scores, joined)
            level = tf.gather(tf.math.segment_max(score, word[:-1]), word[:-1])  # the word's best
            # The symbols beside each pair (0 past the ends of its word), and the
            # score of each pair's piece with the symbol after it.
            before = tf.where(_shifted(apart, 1, True), 0, _shifted(codes[:-1], 1, 0))
            after = tf.where(_shifted(apart, -1, True), 0, _shifted(codes[1:], -1, 0))
            then = tf.gather(self.scores, self.join(joined, after))
            ends = tf.concat([offset[1:], [total]], axis=0)  # (N,): where each symbol ends
            merge = tf.logical_or(
                self._best_level(joined, score, level, word[:-1], before, then),
                self._quiet(joined, score, level, before, then, offset, ends),
            )  # (N - 1,)
            # Symbol k becomes the piece of pair k, and symbol k + 1 goes.
            codes = tf.where(tf.pad(merge, [[0, 1]]), tf.pad(joined, [[0, 1]]), codes)  # (N,)
            kept = tf.where(tf.logical_not(tf.pad(merge, [[1, 0]])))[:, 0]  # (M,)
            merged = tf.reduce_any(merge)
            return tf.gather(codes, kept), tf.gather(word, kept), tf.gather(offset, kept), merged

        flat, word, _, _ = tf.while_loop(
            lambda codes, word, offset, merged: merged,
            step,
            (
                codes.flat_values,
                tf.cast(row_ids(codes), tf.int32),  # the word of each symbol, sorted
                tf.range(total),  # where each symbol starts, in characters
                total > 1,  # a single symbol has no pair
            ),
            shape_invariants=(*[tf.TensorShape([None])] * 3, tf.TensorShape([])),
        )
        return tf.RaggedTensor.from_value_rowids(flat, tf.cast(word, tf.int64), codes.nrows())

    def _best_level(self, joined, score, level, word, before, then):
        """Bool `(N - 1,)`: sequential BPE's next merges, all at the best score of the word."""
        at_level = tf.logical_and(joined > 0, tf.equal(score, level))
        # In a run of such pairs, merging the first takes the second's symbol:
        # every other one from the first of the run, by the count of such pairs.
        first = tf.logical_and(at_level, tf.logical_not(_shifted(at_level, 1, False)))
        count = tf.cumsum(tf.cast(at_level, tf.int32))
        run = tf.cumsum(tf.cast(first, tf.int32))  # sorted
        before_run = tf.gather(tf.math.segment_min(count, run), run) - 1
        chosen = tf.logical_and(at_level, tf.equal((count - before_run) % 2, 1))
        # By the time a chosen pair merges, the chosen pair two before it has.
        merged_before = tf.logical_and(_shifted(chosen, 2, False), before > 0)
        before = tf.where(merged_before, _shifted(joined, 2, 0), before)
        new = tf.maximum(tf.gather(self.scores, self.join(before, joined)), then)
        # Sequential BPE goes on at this level up to the first merge whose new
        # pairs score as high.
        index = tf.range(tf.size(joined))
        spoiler = tf.where(tf.logical_and(chosen, new >= level), index, tf.size(joined))
        first_spoiler = tf.gather(tf.math.segment_min(spoiler, word), word)
        return tf.logical_and(chosen, index <= first_spoiler)

    def _quiet(self, joined, score, level, before, then, starts, ends):
        """Bool `(N - 1,)`: pairs below the best level that nothing near them can disturb."""
        # The pairs whose symbols all lie within `longest` characters of pair k's:
        # from `first` to k - 1, and from k + 1 to `last`.
        first = tf.searchsorted(starts[:-1], starts[:-1] - self.longest, side="left")
        last = tf.searchsorted(ends, ends[1:] + self.longest, side="right") - 2
        left, right = _window_maxima(score, first, last, self.longest)
        new = tf.maximum(tf.gather(self.scores, self.join(before, joined)), then)
        quiet = tf.logical_and(joined > 0, score < level)
        quiet = tf.logical_and(quiet, tf.logical_and(left < score, right <= score))
        return tf.logical_and(quiet, new <= score)


def _window_maxima(values, first, last, most):
    """The max of `values[first[k] : k]` and of `values[k + 1 : last[k] + 1]`, at k.

    `(n,)` each, `NONE` for an empty range, ranges of `most` values at most: a
    sparse table (the maxima of 1, 2, 4, ... values from each position), two
    overlapping entries of it per range.
    """
    tables = [values]
    while 2 ** len(tables) < most:
        width = 2 ** (len(tables) - 1)
        tables.append(tf.maximum(tables[-1], _shifted(tables[-1], -width, NONE)))
    power = [0] + [min(int(np.log2(size)), len(tables) - 1) for size in range(1, most + 1)]
    tables = tf.stack(tables)  # (P, n): at (p, k), the max of values[k : k + 2**p]
    index = tf.range(tf.size(values))
    maxima = []
    for start, end in ((first, index - 1), (index + 1, last)):
        size = tf.clip_by_value(end - start + 1, 0, most)
        p = tf.gather(power, size)
        start = tf.minimum(start, tf.size(values) - 1)
        end = tf.maximum(end - tf.bitwise.left_shift(1, p) + 1, 0)
        found = tf.maximum(
            tf.gather_nd(tables, tf.stack([p, start], axis=1)),
            tf.gather_nd(tables, tf.stack([p, end], axis=1)),
        )
        maxima.append(tf.where(size > 0, found, NONE))
    return maxima


def _shifted(x, shift, fill):
    """`(n,)` -> `(n,)`: at k, `x[k - shift]`, or `fill` where that is out of range."""
    if shift > 0:
        return tf.pad(x, [[shift, 0]], constant_values=fill)[: tf.size(x)]
    return tf.pad(x, [[0, -shift]], constant_values=fill)[-shift:]
