"""`generation_options` and `generation_defaults` of a translation model: checks, config."""

import numbers

from keras_seqattn.generation._decoding import DEFAULT_OPTIONS, check_options

# What `translate()` uses when a model has no defaults of its own (the lecture's).
TRANSLATE_DEFAULTS = dict(beam_width=1, length_penalty=0.0, max_length=None)


def check_generation_options(generation_options):
    """The options that differ from `generate()`'s defaults, checked; `None` for none."""
    if generation_options is None:
        return None
    if not isinstance(generation_options, dict):
        raise ValueError(
            "`generation_options` must be a dict of generation options or None. "
            f"Received: generation_options={generation_options!r}"
        )
    options = check_options(dict(generation_options))
    return {k: v for k, v in options.items() if DEFAULT_OPTIONS[k] != v}


def check_generation_defaults(generation_defaults, max_target_length):
    """`translate()`'s defaults (`beam_width`, `length_penalty`, `max_length`), checked."""
    if generation_defaults is None:
        return None
    if not isinstance(generation_defaults, dict) or set(generation_defaults) - set(
        TRANSLATE_DEFAULTS
    ):
        raise ValueError(
            f"`generation_defaults` must be a dict with some of {sorted(TRANSLATE_DEFAULTS)}. "
            f"Received: generation_defaults={generation_defaults!r}"
        )
    defaults = {**TRANSLATE_DEFAULTS, **generation_defaults}
    max_length = defaults["max_length"]
    if max_length is not None and (
        not _is_int(max_length) or not 1 <= max_length <= max_target_length
    ):
        raise ValueError(
            f"`generation_defaults['max_length']` must be an int in [1, max_target_length="
            f"{max_target_length}] or None. Received: max_length={max_length!r}"
        )
    if not _is_int(defaults["beam_width"]) or defaults["beam_width"] < 1:
        raise ValueError(
            "`generation_defaults['beam_width']` must be an int >= 1. "
            f"Received: beam_width={defaults['beam_width']!r}"
        )
    penalty = defaults["length_penalty"]
    if not isinstance(penalty, numbers.Real) or isinstance(penalty, bool) or not penalty >= 0:
        raise ValueError(
            "`generation_defaults['length_penalty']` must be a number >= 0. "
            f"Received: length_penalty={penalty!r}"
        )
    return dict(generation_defaults)


def resolve(defaults, max_length, beam_width, length_penalty):
    """`translate()`'s arguments, each `None` taken from `defaults`."""
    defaults = {**TRANSLATE_DEFAULTS, **(defaults or {})}
    return (
        defaults["max_length"] if max_length is None else max_length,
        defaults["beam_width"] if beam_width is None else beam_width,
        defaults["length_penalty"] if length_penalty is None else length_penalty,
    )


def config_entries(options, defaults):
    """The `get_config()` entries of both, JSON-ready (tuples as lists)."""
    config = {}
    if options:
        config["generation_options"] = {
            key: [list(v) if isinstance(v, tuple) else v for v in value]
            if isinstance(value, tuple)
            else value
            for key, value in options.items()
        }
    if defaults:
        config["generation_defaults"] = dict(defaults)
    return config


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
