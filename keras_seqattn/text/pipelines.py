"""tf.data pipelines that turn text pairs into teacher-forcing batches."""

import numbers

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
    drop_remainder=False,
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
        drop_remainder: bool, drop the last batch when it is short (so that
            every batch splits evenly over data-parallel replicas). Defaults
            to `False`.

    Returns:
        A batched, prefetched `tf.data.Dataset`.
    """
    if not isinstance(pairs, tf.data.Dataset):
        raise TypeError(
            "`pairs` must be a tf.data.Dataset of (source, target) strings. "
            f"Received: pairs={type(pairs).__name__}"
        )
    check_batch_size(batch_size)
    spec = pairs.element_spec
    if not (
        isinstance(spec, tuple)
        and len(spec) == 2
        and all(getattr(s, "dtype", None) == tf.string and s.shape.rank == 0 for s in spec)
    ):
        raise ValueError(
            "Expected a dataset of (source, target) scalar strings; a dataset of "
            "feature dicts comes from `keras_seqattn.datasets.load()`, pairs from "
            f"`load_translation_pairs()`. Received: element_spec={spec}"
        )

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
        pairs.batch(batch_size, drop_remainder=drop_remainder)
        .map(to_batch, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )


def check_batch_size(batch_size):
    """Raises `ValueError` unless `batch_size` is an int >= 1."""
    is_int = isinstance(batch_size, numbers.Integral) and not isinstance(batch_size, bool)
    if not is_int or batch_size < 1:
        raise ValueError(f"`batch_size` must be an int >= 1. Received: batch_size={batch_size!r}")
