"""The one check of the keyword arguments an application passes on to `keras.Model`."""

import difflib
import inspect

# What `keras.Model.__init__` takes from an application's `**kwargs`; the rest it
# would drop without a word, so a misspelt size (`hiden_dim=8`) would be ignored.
KERAS_MODEL_ARGUMENTS = ("inputs", "outputs", "name", "trainable", "dtype")


def check_model_kwargs(model_class, kwargs):
    """Raises a `TypeError` for a keyword argument neither `model_class` nor Keras takes."""
    unknown = [key for key in kwargs if key not in KERAS_MODEL_ARGUMENTS]
    if not unknown:
        return
    own = [
        name
        for name, parameter in inspect.signature(model_class.__init__).parameters.items()
        if name != "self" and parameter.kind is parameter.POSITIONAL_OR_KEYWORD
    ]
    close = difflib.get_close_matches(unknown[0], own, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise TypeError(
        f"{model_class.__name__}() got an unexpected keyword argument {unknown[0]!r}{hint}. "
        f"Its arguments: {', '.join(own)}. Received: {', '.join(unknown)}"
    )
