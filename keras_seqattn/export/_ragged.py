"""Ragged-tensor helpers whose cost is linear in the values, for the exported graphs.

TensorFlow's `RaggedTensor.value_rowids()`, and what calls it (`tf.strings.reduce_join`
over rows, among others), builds a `(rows, longest row)` mask: one 10,000-character
word among 2,000 short ones makes it 20 million entries. These search the row
splits instead.
"""

import tensorflow as tf


def row_ids(ragged):
    """int64 `(values,)`: the row of each value of a 2-D ragged tensor."""
    splits = ragged.row_splits
    values = tf.range(splits[-1], dtype=splits.dtype)
    # A value's row is the number of rows that end at or before it.
    return tf.searchsorted(splits[1:], values, side="right", out_type=splits.dtype)


def first_of_rows(ragged):
    """bool `(values,)`: `True` at the first value of each row of a 2-D ragged tensor."""
    positions = tf.range(ragged.row_splits[-1], dtype=ragged.row_splits.dtype)
    return tf.equal(positions, tf.gather(ragged.row_starts(), row_ids(ragged)))


def join_rows(strings):
    """Ragged strings `(rows, None)` -> `(rows,)`: each row's strings joined."""
    return tf.strings.unsorted_segment_join(
        strings.flat_values, row_ids(strings), num_segments=strings.nrows()
    )
