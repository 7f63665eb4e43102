"""Pieces shared by greedy and beam search: checks, the seam, buffers, scores."""

import math
import numbers
from collections.abc import Mapping

import keras
from keras import ops

from keras_seqattn.generation.generation_output import GenerationOutput

# Finite rather than -inf, so that sums and differences of scores never give NaN.
NEG_INF = -1e9


def validate_arguments(start_id, stop_id, max_length, beam_width, length_penalty, pad_id):
    """Raises `ValueError` for arguments the search loops cannot use."""
    for name, value in (
        ("start_id", start_id),
        ("stop_id", stop_id),
        ("pad_id", pad_id),
    ):
        if not is_int(value):
            raise ValueError(f"`{name}` must be an int token id. Received: {name}={value!r}")
    check_max_length(max_length)
    check_beam_width(beam_width)
    check_length_penalty(length_penalty)


# One check per rule; `name` lets a caller name where the value came from
# (`generation_defaults['beam_width']`).
def check_max_length(max_length, name="max_length"):
    if not is_int(max_length) or max_length < 1:
        raise ValueError(f"`{name}` must be an int >= 1. Received: {name}={max_length!r}")


def check_beam_width(beam_width, name="beam_width"):
    if not is_int(beam_width) or beam_width < 1:
        raise ValueError(f"`{name}` must be an int >= 1. Received: {name}={beam_width!r}")


def check_length_penalty(length_penalty, name="length_penalty"):
    if (
        not isinstance(length_penalty, numbers.Real)
        or isinstance(length_penalty, bool)
        or not 0 <= length_penalty < math.inf  # also rejects NaN
    ):
        raise ValueError(
            f"`{name}` must be a finite number >= 0. Received: {name}={length_penalty!r}"
        )


def is_int(value):
    """A Python or NumPy int, not a bool (which `numbers.Integral` also holds)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def encode(model, inputs):
    """Calls `model.encode` and checks that it kept to the seam."""
    outputs = model.encode(inputs)
    if not isinstance(outputs, (tuple, list)) or len(outputs) != 2:
        raise TypeError(
            "`model.encode(inputs)` must return `(memory, state)`. "
            f"Received: {type(outputs).__name__}"
        )
    memory, state = outputs
    for name, value in (("memory", memory), ("state", state)):
        if not isinstance(value, (tuple, list)):
            raise TypeError(
                f"`model.encode` must return `{name}` as a tuple of tensors. "
                f"Received: {name} of type {type(value).__name__}"
            )
    return tuple(memory), tuple(state)


def decode(model, token_ids, state, memory, index):
    """One `model.decode_step`: float32 logits, the new state and the step's outputs.

    The step's third value is its attention (a tensor), or a mapping of named
    per-step outputs (`{"attention": ..., "beta": ...}`); either way it comes
    back as a dict of float32 tensors, `{"attention": attention}` for a tensor.
    """
    logits, new_state, outputs = model.decode_step(token_ids, state, memory, index)
    logits = ops.cast(logits, "float32")  # (batch, vocab)
    return logits, tuple(new_state), step_outputs(outputs)


def step_outputs(outputs):
    """`decode_step`'s third value as a dict of float32 tensors, name -> `(batch, ...)`."""
    if not isinstance(outputs, Mapping):
        return {"attention": ops.cast(outputs, "float32")}
    bad = [name for name in outputs if not isinstance(name, str) or not name.isidentifier()]
    if bad or not outputs:
        raise ValueError(
            "`decode_step` must return its per-step outputs as a tensor (the attention) "
            "or a non-empty mapping from names (Python identifiers) to tensors. "
            f"Received names: {list(outputs)}"
        )
    return {name: ops.cast(value, "float32") for name, value in outputs.items()}


def empty_buffers(outputs, max_length):
    """Zeros `(batch, max_length, *shape)` for each named output of one step."""
    return {name: empty_attention_buffer(value, max_length) for name, value in outputs.items()}


def write_steps(buffers, index, outputs, done=None):
    """Each named output of the step into its buffer at `index`; zeros for `done` rows."""
    if done is not None:
        outputs = {name: mask_rows(value, done) for name, value in outputs.items()}
    return {name: write_step(buffers[name], index, value) for name, value in outputs.items()}


def take_rows(buffers, rows):
    """Rows `rows` (a `(n,)` int32 tensor) of every buffer."""
    return {name: ops.take(buffer, rows, axis=0) for name, buffer in buffers.items()}


def output(ids, lengths, scores, buffers):
    """The `GenerationOutput`: `attention` is the buffer named so, else `(batch, max_length, 0)`."""
    attention = buffers.get("attention")
    if attention is None:
        attention = ops.zeros_like(ops.expand_dims(ops.cast(ids, "float32"), -1))[..., :0]
    return GenerationOutput(
        ids=ids, lengths=lengths, scores=scores, attention=attention, steps=dict(buffers)
    )


def batch_size(inputs, memory, state):
    """The batch size: a Python int, or a scalar tensor in a graph of unknown batch."""
    tensors = keras.tree.flatten((memory, state, inputs))
    if not tensors:
        raise ValueError(
            "Cannot find the batch size: `inputs`, `memory` and `state` hold no tensor."
        )
    return ops.shape(tensors[0])[0]


def vocabulary_size(logits):
    size = logits.shape[-1]
    return ops.shape(logits)[-1] if size is None else size


def empty_attention_buffer(attention, max_length):
    """Zeros `(batch, max_length, *attention_shape)` for `attention` of one step."""
    shape = tuple(ops.shape(attention))
    return ops.zeros(shape[:1] + (max_length,) + shape[1:], dtype="float32")


def write_step(buffer, index, values):
    """`buffer[:, index] = values`, as a `where` over a one-hot position mask.

    Elementwise ops only, so the update is a TFLite builtin on every backend.

    Args:
        buffer: `(batch, max_length, *rest)`.
        index: int32 scalar tensor, the position to write.
        values: `(batch, *rest)`, same dtype as `buffer`.
    """
    max_length = buffer.shape[1]
    at_index = ops.equal(ops.arange(max_length, dtype="int32"), index)  # (max_length,)
    at_index = ops.reshape(
        at_index, (1, max_length) + (1,) * (len(buffer.shape) - 2)
    )  # (1, max_length, 1, ...)
    return ops.where(at_index, ops.expand_dims(values, 1), buffer)


def mask_rows(x, row_mask):
    """Zeros the rows of `x` (batch, ...) where `row_mask` (batch,) is `True`."""
    row_mask = ops.reshape(row_mask, (-1,) + (1,) * (len(x.shape) - 1))  # (batch, 1, ...)
    return ops.where(row_mask, ops.zeros_like(x), x)


def alive_every(size, period):
    """float32 `(size,)` scores: `0` at multiples of `period`, `NEG_INF` elsewhere."""
    first = ops.equal(ops.arange(size, dtype="int32") % period, 0)  # (size,)
    return ops.cast(ops.where(first, 0.0, NEG_INF), "float32")


def keep_going(index, done, max_length):
    """The loop condition: a position is left and some row is not done."""
    return ops.logical_and(ops.less(index, max_length), ops.any(ops.logical_not(done)))


def length_normalize(scores, lengths, length_penalty, form="gnmt"):
    """`scores / lp(lengths)`: Google NMT's `lp = ((5 + length) / 6) ** alpha`, or
    `lp = length ** alpha` with `form="power"` (Hugging Face's `BeamSearchScorer`).

    Reference:
        Wu et al. (2016), Google's Neural Machine Translation System, section 7.
    """
    if length_penalty == 0:
        return scores  # lp = 1 exactly: raw log-probabilities.
    lengths = ops.cast(lengths, "float32")
    if form == "power":
        return scores / ops.power(lengths, float(length_penalty))
    return scores / ops.power((5.0 + lengths) / 6.0, float(length_penalty))


# The options of `generate()` beyond the lecture's search, with the defaults that
# keep it: see `generate()` for each.
DEFAULT_OPTIONS = dict(
    suppressed_ids=(),
    force_stop_at_end=False,
    length_penalty_form="gnmt",
    finished_beams="in_beam",
    early_stopping=False,
    repetition_penalty=1.0,
    no_repeat_ngram_size=0,
    bad_words=(),
    min_new_tokens=0,
    renormalize=False,
)


def check_options(options):
    """`options` with the defaults filled in; `ValueError` for unknown or bad ones."""
    unknown = sorted(set(options) - set(DEFAULT_OPTIONS))
    if unknown:
        raise ValueError(
            f"Unknown generation options {unknown}; expected some of "
            f"{sorted(DEFAULT_OPTIONS)}. Received: {options!r}"
        )
    options = {**DEFAULT_OPTIONS, **options}
    suppressed = options["suppressed_ids"]
    if not isinstance(suppressed, (tuple, list)) or not all(is_int(i) for i in suppressed):
        raise ValueError(
            "`suppressed_ids` must be a tuple of int token ids. "
            f"Received: suppressed_ids={suppressed!r}"
        )
    options["suppressed_ids"] = tuple(int(i) for i in suppressed)
    words = options["bad_words"]
    if not isinstance(words, (tuple, list)) or not all(
        isinstance(w, (tuple, list)) and len(w) >= 2 and all(is_int(i) for i in w) for w in words
    ):
        raise ValueError(
            "`bad_words` must be a tuple of tuples of 2 or more int token ids (one-id "
            f"words are `suppressed_ids`). Received: bad_words={words!r}"
        )
    options["bad_words"] = tuple(tuple(int(i) for i in w) for w in words)
    penalty = options["repetition_penalty"]
    if not isinstance(penalty, numbers.Real) or isinstance(penalty, bool) or not penalty > 0:
        raise ValueError(
            f"`repetition_penalty` must be a number > 0. Received: repetition_penalty={penalty!r}"
        )
    options["repetition_penalty"] = float(penalty)
    for key in ("no_repeat_ngram_size", "min_new_tokens"):
        if not is_int(options[key]) or options[key] < 0:
            raise ValueError(f"`{key}` must be an int >= 0. Received: {key}={options[key]!r}")
    for key, allowed in (
        ("force_stop_at_end", (True, False)),
        ("length_penalty_form", ("gnmt", "power")),
        ("finished_beams", ("in_beam", "apart")),
        ("early_stopping", (False, True, "never")),
        ("renormalize", (True, False)),
    ):
        value = options[key]
        if not any(value is a or (isinstance(a, str) and value == a) for a in allowed):
            raise ValueError(f"`{key}` must be one of {allowed}. Received: {key}={value!r}")
    return options
