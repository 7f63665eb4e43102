"""A `keras.layers.Conv2D` whose kernel gradient on JAX's CPU is one matmul over patches.

Why: XLA:CPU computes the kernel gradient of a 3x3 convolution very slowly at
the small CNN's shapes. Measured on 2 cores (jax 0.10.2), batch 64, 32x32x32 in,
64 out: the forward convolution takes 18 ms, its kernel gradient 830 ms, and
the same gradient as `patches^T @ dy` 160 ms; no XLA flag tried
(`xla_cpu_use_onednn`, `xla_cpu_experimental_onednn_custom_call`,
`xla_cpu_use_xnnpack`, `xla_cpu_use_thunk_runtime=false`) changed it. With it
the captioners' CNN trained 4-5x slower on JAX than on TensorFlow.

So on JAX with a CPU device, for what the small CNN uses (stride 1, no
dilation, one group, channels last, `"same"` or `"valid"`), the convolution
runs as `jax.custom_vjp`: the forward pass and the input gradient are XLA's own
(`lax.conv_general_dilated` and its transpose, as Keras calls them); only the
kernel gradient is `sum_{b,h,w} patch(x)_{b,h,w} dy_{b,h,w}^T`. Everything else
(TensorFlow, torch, a GPU, other strides) is `keras.layers.Conv2D` unchanged;
`tests/layers/test_image_feature_encoder.py` checks both give the same outputs and
gradients. The variables are the same as `Conv2D`'s, so saved weights load
either way.
"""

import functools

import keras

_DIMENSIONS = ("NHWC", "HWIO", "NHWC")


@keras.saving.register_keras_serializable(package="keras_seqattn")
class Conv2D(keras.layers.Conv2D):
    """`keras.layers.Conv2D`, with the kernel gradient of the module docstring on JAX's CPU.

    Named `Conv2D`: a `.keras` file finds a functional model's weights by the
    snake-cased class names of its layers (`layers/conv2d`), so the small CNN's
    files load with this class and with Keras's alike.
    """

    def convolution_op(self, inputs, kernel):
        if _fast_path_applies(self):
            kernel = keras.ops.convert_to_tensor(kernel)  # the Variable's array
            return _conv(keras.ops.convert_to_tensor(inputs), kernel, self.padding.upper())
        return super().convolution_op(inputs, kernel)


def _fast_path_applies(layer):
    if keras.backend.backend() != "jax":
        return False
    import jax

    return (
        jax.default_backend() == "cpu"
        and tuple(layer.strides) == (1, 1)
        and tuple(layer.dilation_rate) == (1, 1)
        and layer.groups == 1
        and layer.data_format == "channels_last"
        and layer.padding in ("same", "valid")
    )


def _plain_conv(x, kernel, padding):
    from jax import lax

    return lax.conv_general_dilated(x, kernel, (1, 1), padding, dimension_numbers=_DIMENSIONS)


@functools.cache
def _custom_conv():
    import jax

    @functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
    def conv(x, kernel, padding):
        return _plain_conv(x, kernel, padding)

    def forward(x, kernel, padding):
        return _plain_conv(x, kernel, padding), (x, kernel)

    def backward(padding, residuals, dy):
        x, kernel = residuals
        _, input_vjp = jax.vjp(lambda x: _plain_conv(x, kernel, padding), x)
        (dx,) = input_vjp(dy)
        patches = _patches(x, kernel.shape[:2], padding)  # (B, H', W', kh * kw, C)
        dkernel = jax.numpy.einsum("bhwkc,bhwo->kco", patches, dy)  # (kh * kw, C, O)
        return dx, dkernel.reshape(kernel.shape).astype(kernel.dtype)

    conv.defvjp(forward, backward)
    return conv


def _conv(x, kernel, padding):
    return _custom_conv()(x, kernel, padding)


def _patches(x, kernel_size, padding):
    """`(B, H', W', kh * kw, C)`: the input window under every output position."""
    import jax.numpy as jnp

    kh, kw = kernel_size
    if padding == "SAME":  # XLA's "SAME" at stride 1: (k - 1) // 2 before, k // 2 after.
        x = jnp.pad(x, ((0, 0), ((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2), (0, 0)))
    height, width = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    windows = [x[:, i : i + height, j : j + width] for i in range(kh) for j in range(kw)]
    return jnp.stack(windows, axis=3)  # (B, H', W', kh * kw, C)
