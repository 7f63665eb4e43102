"""tf.data pipelines that turn text pairs into teacher-forcing batches."""

import tensorflow as tf


def seq2seq_batches(
    pairs,
    source_tokenizer,
    target_tokenizer,
    source_length,
    target_length,
    batch_size=64,
    shuffle=False,
    seed=0,
):
    """`(source, target)` string pairs -> `({"source_ids", "target_ids"}, labels)`.

    Sources get a trailing `[STOP]`; the decoder input is `[START] y_1 .. y_n`
    and the labels are `y_1 .. y_n [STOP]`, both padded with 0 to
    `target_length`, so every batch has the same static shape (one compilation
    on JAX and TF). Runs in tf.data, so it serves every Keras backend.

    Args:
        pairs: `tf.data.Dataset` of `(source, target)` scalar strings.
        source_tokenizer: `SequenceTokenizer` of the source.
        target_tokenizer: `SequenceTokenizer` of the target.
        source_length: int, padded source length.
        target_length: int, padded target length.
        batch_size: int. Defaults to `64`.
        shuffle: bool, shuffle pairs before batching. Defaults to `False`.
        seed: int, shuffle seed. Defaults to `0`.

    Returns:
        A batched, prefetched `tf.data.Dataset`.
    """
    if not isinstance(pairs, tf.data.Dataset):
        raise TypeError(
            "`pairs` must be a tf.data.Dataset of (source, target) strings. "
            f"Received: pairs={type(pairs).__name__}"
        )
    if batch_size < 1:
        raise ValueError(f"`batch_size` must be >= 1. Received: batch_size={batch_size}")

    def to_batch(source, target):
        features = {
            "source_ids": source_tokenizer(source, add_stop=True, sequence_length=source_length),
            "target_ids": target_tokenizer(target, add_start=True, sequence_length=target_length),
        }
        labels = target_tokenizer(target, add_stop=True, sequence_length=target_length)
        return features, labels

    if shuffle:
        pairs = pairs.shuffle(10_000, seed=seed, reshuffle_each_iteration=True)
    return (
        pairs.batch(batch_size)
        .map(to_batch, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )
