"""Attention's projections as one 2-D matmul on TensorFlow.

Why: Keras's TensorFlow `einsum` computes the equations of
`keras.layers.MultiHeadAttention`'s projections (`"abc,cde->abde"` for the
queries, keys and values, `"abcd,cde->abe"` for the output) as `tf.matmul` of a
3-D or 4-D tensor by a 2-D kernel: a broadcasting `BatchMatMulV2`, whose kernel
gradient TensorFlow computes one batch row at a time and then sums. Measured on
2 cores (TF 2.21, Keras 3.15), TransformerSeq2Seq at the CLI's default sizes,
batch 64 of 39 source and 11 target positions: the backward projections ran at
~10 GFLOP/s against ~46 for the MLP's `Dense` (a 2-D `MatMul`), and the training
step took 1.4-1.5 s against 0.8-0.9 s on JAX and torch; with the projections
flattened to 2-D it took 0.77-0.85 s.

`flatten_projections(attention)` gives the four `EinsumDense` sublayers of a
built `MultiHeadAttention` the `call` below: on TensorFlow, `(B, T, c) ->
(B * T, c) @ (c, d * e)` and back; the variables, the arithmetic and the results
on JAX and torch (whose `einsum` already is one matmul) are unchanged.
"""

import math

import keras
from keras import ops

# equation -> the number of kernel axes that are contracted.
_FLAT_EQUATIONS = {"abc,cde->abde": 1, "abcd,cde->abe": 2}


class EinsumDense(keras.layers.EinsumDense):
    """`keras.layers.EinsumDense` whose attention equations run as a 2-D matmul on TF.

    Named like Keras's class, which it only specialises; see the module docstring.
    """

    def call(self, inputs, training=None):
        contracted = _FLAT_EQUATIONS.get(self.equation)
        if (
            contracted is None
            or keras.backend.backend() != "tensorflow"
            or self.quantization_mode is not None
        ):
            return super().call(inputs, training=training)
        kernel = self.kernel  # (D, heads, head_dim) or (heads, head_dim, D); with LoRA, the sum
        size = math.prod(kernel.shape[:contracted])  # c, or c * d
        outer = kernel.shape[contracted:]
        leading = ops.shape(inputs)[:2]  # (B, T)
        x = ops.reshape(inputs, (-1, size))  # (B * T, c [* d])
        x = ops.matmul(x, ops.reshape(kernel, (size, -1)))  # (B * T, prod(outer))
        x = ops.reshape(x, (*leading, *outer))  # (B, T, *outer)
        if self.bias is not None:
            x = ops.add(x, self.bias)
        if self.activation is not None:
            x = self.activation(x)
        return x


def flatten_projections(attention):
    """Gives a built `MultiHeadAttention`'s projections the `call` of `EinsumDense` above."""
    for dense in (
        attention.query_dense,
        attention.key_dense,
        attention.value_dense,
        attention.output_dense,
    ):
        if type(dense) is keras.layers.EinsumDense:
            dense.__class__ = EinsumDense
    return attention
