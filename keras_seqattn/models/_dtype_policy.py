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
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(dtype)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def with_dtype_argument(init):
    """Wraps an application's `__init__` so that `dtype=` builds it under that policy."""

    @functools.wraps(init)
    def init_with_dtype(self, *args, dtype=None, **kwargs):
        with policy_scope(dtype):
            init(self, *args, **kwargs)

    return init_with_dtype
