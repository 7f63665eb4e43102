"""Argument and input checks the layers share; each error ends `Received: name=value`.

Input checks read static shapes and dtypes only, so they run once per trace
and cost nothing in a compiled step.
"""

import math
import numbers

import keras

# Imported here so that the function is registered before any saved block loads.
from keras_seqattn.layers.gelu_tanh import gelu_tanh


def check_positive_int(name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"`{name}` must be a positive int. Received: {name}={value!r}")


def check_int_at_least(name, value, minimum):
    """An int (NumPy's too) >= `minimum`; a string of digits is refused by its repr."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"`{name}` must be an int >= {minimum}. Received: {name}={value!r}")


def check_dropout(dropout):
    if not is_real(dropout) or not 0.0 <= dropout < 1.0:
        raise ValueError(f"`dropout` must be a number in [0, 1). Received: dropout={dropout!r}")


def check_positive_number(name, value):
    if not is_real(value) or not 0 < value < math.inf:
        raise ValueError(f"`{name}` must be a finite number > 0. Received: {name}={value!r}")


def check_non_negative(name, value):
    if not is_real(value) or not 0 <= value < math.inf:
        raise ValueError(f"`{name}` must be a finite number >= 0. Received: {name}={value!r}")


def as_bool(name, value):
    """`value` as a Python bool, refusing what only looks like one.

    A flag is where a wrong type answers wrongly rather than failing: the string
    `"False"` and the number 2 are truthy. NumPy's bool is taken (as a Python
    bool, so that configs stay JSON).
    """
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return bool(value)
    raise ValueError(f"`{name}` must be True or False. Received: {name}={value!r}")


def is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def get_activation(activation):
    """`keras.activations.get`, with `"gelu_tanh"` too and the argument's name in the error."""
    if activation == "gelu_tanh":
        return gelu_tanh
    try:
        return keras.activations.get(activation)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"`activation` must be a Keras activation name or a callable ({error}). "
            f"Received: activation={activation!r}"
        ) from None


def check_rank(name, tensor, rank, layout):
    """`tensor` has `rank` axes; `layout` is the expected shape, e.g. `"(batch, T)"`."""
    if len(tensor.shape) != rank:
        raise ValueError(
            f"`{name}` must have shape {layout}. Received: {name}.shape={tuple(tensor.shape)}"
        )


def check_dim(name, tensor, axis, expected, what):
    """`tensor.shape[axis]` equals `expected` when both are known (`what` names it)."""
    got = tensor.shape[axis]
    if got is not None and expected is not None and got != expected:
        raise ValueError(
            f"`{name}` must have {what} {expected}, as when the layer was built. "
            f"Received: {name}.shape={tuple(tensor.shape)}"
        )


def check_same_batch(first_name, first, name, tensor):
    """`tensor` has the batch size of `first` when both are known."""
    a, b = first.shape[0], tensor.shape[0]
    if a is not None and b is not None and a != b:
        raise ValueError(
            f"`{name}` must have the same batch size as `{first_name}` ({a}). "
            f"Received: {name}.shape={tuple(tensor.shape)}"
        )


def check_floating(name, tensor):
    """Attention layers take embeddings: int inputs are token ids passed by mistake."""
    dtype = keras.backend.standardize_dtype(tensor.dtype)
    if not keras.backend.is_float_dtype(dtype):
        raise TypeError(
            f"`{name}` must be a floating-point tensor (embeddings, not token ids). "
            f"Received: {name}.dtype={dtype}"
        )


def check_integer(name, tensor):
    """Token ids must be ints: an embedding would silently truncate floats."""
    dtype = keras.backend.standardize_dtype(tensor.dtype)
    if not keras.backend.is_int_dtype(dtype):
        raise TypeError(
            f"`{name}` must be an integer tensor of token ids. Received: {name}.dtype={dtype}"
        )
