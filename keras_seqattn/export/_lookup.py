"""The one way the exported graphs build their lookup tables."""

import tensorflow as tf


def lookup_table(keys, values, key_dtype, value_dtype, default):
    """A `tf.lookup.StaticHashTable` of `keys` -> `values`, `default` for other keys.

    Args:
        keys, values: lists of the same length.
        key_dtype, value_dtype: their TensorFlow dtypes.
        default: what a missing key looks up to.
    """
    initializer = tf.lookup.KeyValueTensorInitializer(
        tf.constant(keys, key_dtype), tf.constant(values, value_dtype)
    )
    return tf.lookup.StaticHashTable(initializer, default_value=default)
