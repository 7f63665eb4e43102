"""Attention's projections flattened to one matmul: the same numbers as Keras's EinsumDense."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_seqattn.layers._flat_einsum_dense import EinsumDense, flatten_projections

RNG = np.random.default_rng(5)


def _attention():
    attention = keras.layers.MultiHeadAttention(num_heads=3, key_dim=4)
    attention.build((None, 5, 6), (None, 7, 6))
    return attention


def test_flattened_attention_gives_keras_outputs():
    query = RNG.normal(size=(2, 5, 6)).astype("float32")
    value = RNG.normal(size=(2, 7, 6)).astype("float32")
    mask = RNG.uniform(size=(2, 5, 7)) > 0.3
    plain = _attention()
    expected, expected_scores = plain(
        query, value, attention_mask=mask, return_attention_scores=True
    )
    flat = flatten_projections(plain)
    assert all(
        type(d) is EinsumDense
        for d in (flat.query_dense, flat.key_dense, flat.value_dense, flat.output_dense)
    )
    got, scores = flat(query, value, attention_mask=mask, return_attention_scores=True)
    np.testing.assert_allclose(ops.convert_to_numpy(got), ops.convert_to_numpy(expected), atol=1e-5)
    np.testing.assert_allclose(
        ops.convert_to_numpy(scores), ops.convert_to_numpy(expected_scores), atol=1e-6
    )


@pytest.mark.only_backend("tensorflow", reason="the 2-D matmul runs on TensorFlow only")
@pytest.mark.parametrize("equation,input_shape,output_shape,bias_axes", [
    ("abc,cde->abde", (2, 5, 6), (None, 3, 4), "de"),
    ("abcd,cde->abe", (2, 5, 3, 4), (None, 6), "e"),
])  # fmt: skip
def test_tensorflow_outputs_and_gradients_equal_einsum(
    equation, input_shape, output_shape, bias_axes
):
    import tensorflow as tf

    plain = keras.layers.EinsumDense(equation, output_shape, bias_axes=bias_axes)
    plain.build(input_shape)
    plain.bias.assign(RNG.normal(size=plain.bias.shape))
    flat = EinsumDense(equation, output_shape, bias_axes=bias_axes)
    flat.build(input_shape)
    flat.set_weights(plain.get_weights())
    x = tf.constant(RNG.normal(size=input_shape).astype("float32"))
    upstream = RNG.normal(size=plain(x).shape).astype("float32")
    results = []
    for layer in (flat, plain):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(y * upstream)
        results.append([y, *tape.gradient(loss, [x, *layer.trainable_variables])])
    for got, want in zip(*results):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-5)
