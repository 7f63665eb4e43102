"""`policy_scope`: build an application's layers under the dtype policy it was given."""

import contextlib
import functools

import keras


@contextlib.contextmanager
def policy_scope(dtype):
    """Makes `dtype` (a policy name or `keras.DTypePolicy`) the global policy meanwhile.

    An application builds its layers in `__init__`, before `keras.Model.__init__`
    sees its `dtype`: layers created without a `dtype` take the global policy, so
    setting it around the whole constructor gives every layer, and the model, the
    policy asked for. `None` changes nothing.
    """
    if dtype is None:
        yield
        return
    if isinstance(dtype, dict):  # a serialized `DTypePolicy`
        dtype = keras.dtype_policies.deserialize(dtype)
    check_dtype(dtype)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(dtype)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def check_dtype(dtype):
    """Refuses a `dtype` that is no float policy, before any layer draws weights in it.

    Keras takes any dtype as a policy, so `dtype="int32"` would fail only when an
    initializer draws integer weights (TensorFlow's "Need minval < maxval").
    """
    expected = (
        "`dtype` must be a float dtype or policy name, such as 'float32', 'bfloat16', "
        "'mixed_float16' or 'mixed_bfloat16', or a keras.DTypePolicy of floats"
    )
    try:
        policy = keras.dtype_policies.get(dtype)
    except (ValueError, TypeError):
        raise ValueError(f"{expected}. Received: dtype={dtype!r}") from None
    dtypes = {policy.compute_dtype, policy.variable_dtype}
    if not all(keras.backend.is_float_dtype(d) for d in dtypes):
        raise ValueError(
            f"{expected}: the weights are trained in it. Received: dtype={dtype!r} "
            f"(computing in {policy.compute_dtype}, weights in {policy.variable_dtype})"
        )


def with_dtype_argument(init):
    """Wraps an application's `__init__` so that `dtype=` builds it under that policy."""

    @functools.wraps(init)
    def init_with_dtype(self, *args, dtype=None, **kwargs):
        with policy_scope(dtype):
            init(self, *args, **kwargs)

    return init_with_dtype
