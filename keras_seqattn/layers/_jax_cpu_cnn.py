"""The small CNN's `Conv2D` and `MaxPooling2D`, with faster gradients on JAX's CPU.

Why: XLA:CPU computes the gradients of the small CNN's layers very slowly.
Measured on 2 cores (jax 0.10.2), batch 64:

- a 3x3 convolution, 32x32x32 in, 64 out: the forward pass takes 18 ms, its
  kernel gradient 830 ms, and the same gradient as `patches^T @ dy` 160 ms; no
  XLA flag tried (`xla_cpu_use_onednn`, `xla_cpu_experimental_onednn_custom_call`,
  `xla_cpu_use_xnnpack`, `xla_cpu_use_thunk_runtime=false`) changed it;
- 2x2 max pooling of 64x64x32: the backward pass of `reduce_window`
  (`select_and_scatter`) takes 170 ms, the same gradient from the argmax of
  each window 63 ms.

With them the captioners trained 4-5x slower on JAX than on TensorFlow.

So on JAX with a CPU device, for what the small CNN uses, both layers run as
`jax.custom_vjp`s with the same forward pass and the same gradient:

- `Conv2D` (stride 1, no dilation, one group, channels last, `"same"` or
  `"valid"`): the forward pass and the input gradient are XLA's own
  (`lax.conv_general_dilated` and its transpose, as Keras calls them); only the
  kernel gradient is `sum_{b,h,w} patch(x)_{b,h,w} dy_{b,h,w}^T`.
- `MaxPooling2D` (2x2 windows, stride 2, `"valid"`, even sides): the maximum of
  each window, and the gradient sent to its first maximum in row-major order,
  as `select_and_scatter` does (ties included).

Everything else (TensorFlow, torch, a GPU, other settings) is Keras's layer
unchanged; `tests/layers/test_jax_cpu_cnn.py` checks both give the same outputs
and gradients. The classes carry Keras's names and variables, so saved weights
load either way.
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
            inputs = keras.ops.convert_to_tensor(inputs)
            return _custom_conv()(inputs, kernel, self.padding.upper())
        return super().convolution_op(inputs, kernel)


def _on_jax_cpu():
    if keras.backend.backend() != "jax":
        return False
    import jax

    return jax.default_backend() == "cpu"


def _fast_path_applies(layer):
    return (
        _on_jax_cpu()
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


def _patches(x, kernel_size, padding):
    """`(B, H', W', kh * kw, C)`: the input window under every output position."""
    import jax.numpy as jnp

    kh, kw = kernel_size
    if padding == "SAME":  # XLA's "SAME" at stride 1: (k - 1) // 2 before, k // 2 after.
        x = jnp.pad(x, ((0, 0), ((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2), (0, 0)))
    height, width = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    windows = [x[:, i : i + height, j : j + width] for i in range(kh) for j in range(kw)]
    return jnp.stack(windows, axis=3)  # (B, H', W', kh * kw, C)


@keras.saving.register_keras_serializable(package="keras_seqattn")
class MaxPooling2D(keras.layers.MaxPooling2D):
    """`keras.layers.MaxPooling2D`, with the gradient of the module docstring on JAX's CPU."""

    def call(self, inputs):
        if _pooling_fast_path_applies(self, inputs.shape):
            return _custom_pool()(keras.ops.convert_to_tensor(inputs))
        return super().call(inputs)


def _pooling_fast_path_applies(layer, shape):
    return (
        _on_jax_cpu()
        and tuple(layer.pool_size) == (2, 2)
        and tuple(layer.strides) == (2, 2)
        and layer.padding == "valid"
        and layer.data_format == "channels_last"
        and len(shape) == 4
        and None not in shape[1:3]
        and shape[1] % 2 == 0
        and shape[2] % 2 == 0
    )


def _windows(x):
    """`(B, H / 2, W / 2, 4, C)`: each 2x2 window's values in row-major order."""
    b, h, w, c = x.shape
    x = x.reshape(b, h // 2, 2, w // 2, 2, c)  # (B, H/2, 2, W/2, 2, C)
    return x.transpose(0, 1, 3, 2, 4, 5).reshape(b, h // 2, w // 2, 4, c)


@functools.cache
def _custom_pool():
    import jax
    import jax.numpy as jnp

    @jax.custom_vjp
    def pool(x):
        return _windows(x).max(axis=3)  # (B, H/2, W/2, C)

    def forward(x):
        windows = _windows(x)
        return windows.max(axis=3), (jnp.argmax(windows, axis=3), x.shape)

    def backward(residuals, dy):
        first_max, (b, h, w, c) = residuals  # first_max: (B, H/2, W/2, C)
        chosen = jnp.arange(4)[:, None] == first_max[:, :, :, None, :]  # (B, H/2, W/2, 4, C)
        dx = jnp.where(chosen, dy[:, :, :, None, :], jnp.zeros((), dy.dtype))
        dx = dx.reshape(b, h // 2, w // 2, 2, 2, c)  # (B, H/2, W/2, 2, 2, C)
        return (dx.transpose(0, 1, 3, 2, 4, 5).reshape(b, h, w, c),)

    pool.defvjp(forward, backward)
    return pool
