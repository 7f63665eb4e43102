"""Bad constructor arguments generated from a signature: the layers' and applications'.

Each argument gets the bad values of its kind (a size, a rate, a flag, a choice,
a number), read from its name and default by `argument_kind`; `signature_cases`
lists them for a table of classes and the smallest good arguments of each, and
`assert_clear_refusal` checks the error: a `ValueError` that says what the
argument must be and ends `Received: name=value`. What a signature cannot say
is left to each test's hand-written table.
"""

import inspect
import math
import re

import pytest

# Bad values by kind. `None` is bad too, except where it is the default.
BAD_VALUES = {
    "size": (0, -1, 2.5, True, "4", None),
    "rate": (1.0, -0.1, math.nan, "0.1", True, None),
    "positive_number": (0, -1.0, math.nan, math.inf, "1", True, None),
    "non_negative_number": (-1.0, math.nan, math.inf, "1", True, None),
    "flag": ("False", 1, None),  # "False" would be truthy
    "choice": ("no_such_choice", 3, None),
}
# Arguments whose kind their name says, whatever their default.
KIND_BY_NAME = {
    "dropout": "rate",
    "max_wavelength": "positive_number",
    "layer_norm_epsilon": "positive_number",
    "penalty_weight": "non_negative_number",
    "activation": "choice",
}
# Where `None` is a documented value though the default is not `None`.
NONE_IS_GOOD = {
    "activation",  # Keras's linear activation
    "feature_dim",  # the captioners: the CNN's own width, no projection
}
SIZE_NAME = re.compile(r"(_dim|_size|units|_length)$|^num_")
# Keras's own arguments, which `keras.Model`/`keras.layers.Layer` check.
KERAS_ARGUMENTS = {"self", "kwargs", "name"}


def arguments(cls):
    """`{name: inspect.Parameter}` of `cls`'s own constructor arguments."""
    parameters = inspect.signature(cls.__init__).parameters
    return {n: p for n, p in parameters.items() if n not in KERAS_ARGUMENTS}


def argument_kind(name, parameter):
    """The kind of a constructor argument, from its name and default, or `None`."""
    default = parameter.default
    if name in KIND_BY_NAME:
        return KIND_BY_NAME[name]
    if isinstance(default, bool):
        return "flag"
    if isinstance(default, str):
        return "choice"
    required_or_int = default is inspect.Parameter.empty or default is None
    if SIZE_NAME.search(name) and (required_or_int or isinstance(default, int)):
        return "size"
    return None


def signature_cases(required):
    """`[pytest.param(cls, name, value)]`: each bad value of each argument of each class.

    Args:
        required: dict of class -> the smallest good arguments it constructs with.
    """
    cases = []
    for cls in required:
        for name, parameter in arguments(cls).items():
            kind = argument_kind(name, parameter)
            for value in BAD_VALUES.get(kind, ()):
                if value is None and (parameter.default is None or name in NONE_IS_GOOD):
                    continue
                cases.append(pytest.param(cls, name, value, id=f"{cls.__name__}/{name}={value!r}"))
    return cases


def unclassified(required):
    """`[(class name, argument)]` that `argument_kind` cannot classify."""
    return [
        (cls.__name__, name)
        for cls in required
        for name, parameter in arguments(cls).items()
        if argument_kind(name, parameter) is None
    ]


def assert_clear_refusal(error, name, value):
    """`error` says what `name` must be and ends with the value it received."""
    message = str(error)
    assert isinstance(error, ValueError), (type(error), message)
    assert f"`{name}` must be" in message, message
    # A string is shown by its repr: `size='4'` says it is no number, `size=4` hides it.
    forms = {repr(value)} if isinstance(value, str) else {str(value), repr(value)}
    shown = "|".join(re.escape(f"{name}={v}") for v in forms)
    assert re.search(rf"Received: (.*, )?({shown})", message), message
