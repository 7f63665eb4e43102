"""`generation_options` and `generation_defaults` of a translation model: checks, config."""

from keras_seqattn.generation._decoding import (
    DEFAULT_OPTIONS,
    check_beam_width,
    check_length_penalty,
    check_max_length,
    check_options,
)

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
    # The engine's checks, one per rule, naming the entry; then this model's own limit.
    if defaults["max_length"] is not None:
        check_max_length(defaults["max_length"], "generation_defaults['max_length']")
        if defaults["max_length"] > max_target_length:
            raise ValueError(
                "`generation_defaults['max_length']` must be at most max_target_length="
                f"{max_target_length}. Received: generation_defaults['max_length']="
                f"{defaults['max_length']!r}"
            )
    check_beam_width(defaults["beam_width"], "generation_defaults['beam_width']")
    check_length_penalty(defaults["length_penalty"], "generation_defaults['length_penalty']")
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
