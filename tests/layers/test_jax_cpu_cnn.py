"""The small CNN's layers: JAX's CPU fast paths against Keras's own and NumPy."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_seqattn.layers._jax_cpu_cnn import Conv2D as PatchGradientConv2D
from keras_seqattn.layers._jax_cpu_cnn import MaxPooling2D as ArgmaxGradientMaxPooling2D
from keras_seqattn.layers._jax_cpu_cnn import _fast_path_applies, _pooling_fast_path_applies

RNG = np.random.default_rng(3)
# (kernel size, padding): the small CNN's 3x3 "same", an even kernel whose "same"
# padding is lopsided, and "valid".
CASES = [((3, 3), "same"), ((2, 4), "same"), ((3, 3), "valid")]


def _pair(kernel_size, padding, channels=3, filters=5):
    fast = PatchGradientConv2D(filters, kernel_size, padding=padding, activation="relu")
    plain = keras.layers.Conv2D(filters, kernel_size, padding=padding, activation="relu")
    for layer in (fast, plain):
        layer.build((None, 7, 6, channels))
    plain.set_weights(fast.get_weights())
    return fast, plain


def _numpy_kernel_gradient(x, upstream, kernel_size, padding):
    """d sum(upstream * conv(x)) / d kernel, from the definition of the convolution."""
    kh, kw = kernel_size
    if padding == "same":
        x = np.pad(x, ((0, 0), ((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2), (0, 0)))
    height, width = upstream.shape[1:3]
    gradient = np.zeros((kh, kw, x.shape[-1], upstream.shape[-1]))
    for i in range(kh):
        for j in range(kw):
            window = x[:, i : i + height, j : j + width]  # (B, H', W', C)
            gradient[i, j] = np.einsum("bhwc,bhwo->co", window, upstream)
    return gradient


@pytest.mark.parametrize("kernel_size,padding", CASES)
def test_outputs_equal_keras_conv2d(kernel_size, padding):
    fast, plain = _pair(kernel_size, padding)
    x = RNG.normal(size=(2, 7, 6, 3)).astype("float32")
    np.testing.assert_allclose(
        ops.convert_to_numpy(fast(x)), ops.convert_to_numpy(plain(x)), rtol=1e-5, atol=1e-6
    )


@pytest.mark.only_backend("jax", reason="the fast path exists on JAX's CPU only")
@pytest.mark.parametrize("kernel_size,padding", CASES)
def test_jax_gradients_equal_keras_conv2d_and_numpy(kernel_size, padding):
    import jax

    fast, plain = _pair(kernel_size, padding)
    assert _fast_path_applies(fast)
    x = RNG.normal(size=(4, 7, 6, 3)).astype("float32")
    upstream = RNG.normal(size=ops.convert_to_numpy(plain(x)).shape).astype("float32")

    def loss(layer):
        def f(trainable, x):
            y, _ = layer.stateless_call(trainable, [], x)
            return (y * upstream).sum()

        return jax.grad(f, argnums=(0, 1))

    weights = [v.value for v in plain.trainable_variables]
    (fast_kernel, fast_bias), fast_x = loss(fast)(weights, x)
    (kernel, bias), dx = loss(plain)(weights, x)
    for got, want in [(fast_kernel, kernel), (fast_bias, bias), (fast_x, dx)]:
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-4, atol=1e-4)
    # Against the definition: the ReLU's gate folded into the upstream gradient.
    active = ops.convert_to_numpy(plain(x)) > 0
    expected = _numpy_kernel_gradient(x, upstream * active, kernel_size, padding)
    np.testing.assert_allclose(np.asarray(fast_kernel), expected, rtol=1e-4, atol=1e-4)


def test_other_settings_keep_keras_conv2d():
    strided = PatchGradientConv2D(4, 3, strides=2)
    strided.build((None, 8, 8, 1))
    assert not _fast_path_applies(strided)
    x = RNG.normal(size=(1, 8, 8, 1)).astype("float32")
    assert tuple(strided(x).shape) == (1, 3, 3, 4)


def _pooling_input():
    """Pixels with ties inside windows: equal rows, and a constant (ReLU-like) patch."""
    x = RNG.normal(size=(2, 6, 8, 3)).astype("float32")
    x[:, 1::2] = x[:, ::2]
    x[0, :2, :2, :] = 0.5
    return x


def test_pooling_outputs_equal_keras():
    x = _pooling_input()
    fast = ArgmaxGradientMaxPooling2D()
    np.testing.assert_array_equal(
        ops.convert_to_numpy(fast(x)), ops.convert_to_numpy(keras.layers.MaxPooling2D()(x))
    )


@pytest.mark.only_backend("jax", reason="the fast path exists on JAX's CPU only")
def test_jax_pooling_gradient_equals_keras_exactly_with_ties():
    import jax

    x = _pooling_input()
    fast = ArgmaxGradientMaxPooling2D()
    assert _pooling_fast_path_applies(fast, x.shape)
    assert not _pooling_fast_path_applies(fast, (2, 5, 8, 3))  # an odd side
    assert not _pooling_fast_path_applies(ArgmaxGradientMaxPooling2D(pool_size=3), x.shape)
    upstream = RNG.normal(size=(2, 3, 4, 3)).astype("float32")

    def gradient(layer):
        return np.asarray(jax.grad(lambda x: (layer(x) * upstream).sum())(x))

    got, want = gradient(fast), gradient(keras.layers.MaxPooling2D())
    np.testing.assert_array_equal(got, want)
    assert np.count_nonzero(got[0, :2, :2]) == 3  # one position per channel in the tie
