"""`ExportPlan`: what one application contributes to an export, family by family."""

import dataclasses

import tensorflow as tf

from keras_seqattn import generation


@dataclasses.dataclass
class ExportPlan:
    """The signatures, TFLite functions and files of one exported model.

    Attributes:
        endpoints: list of `(signature name, fn, input_signature)`; the SavedModel
            gets each as a signature. One is named `"serving_default"`.
        tflite: list of `(file name, fn, static input_signature)`, converted
            with builtin ops only.
        files: dict of file name -> JSON-able value (or bytes, written as they
            are), written beside the models.
        trackables: TensorFlow resources the endpoints use besides the model
            (lookup tables).
        id_limits: dict of input name -> vocabulary size, for the token-id
            inputs the served signatures check (see `checked`).
        notes: messages for the user (what was left out, and why).
    """

    endpoints: list = dataclasses.field(default_factory=list)
    tflite: list = dataclasses.field(default_factory=list)
    files: dict = dataclasses.field(default_factory=dict)
    trackables: list = dataclasses.field(default_factory=list)
    id_limits: dict = dataclasses.field(default_factory=dict)
    notes: list = dataclasses.field(default_factory=list)


def checked(fn, input_signature, id_limits=None):
    """`fn` behind the checks a served signature needs at its door.

    A loaded signature checks dtypes but nothing else, so `run`:

    - checks shapes (`tf.ensure_shape`): an image of the wrong size fails naming
      the input and the expected shape, not deep inside the model;
    - refuses NaN and infinite values in float inputs, as Keras does, where the
      model would answer NaN or caption noise;
    - refuses `text` that is not UTF-8 (invalid bytes, a lone surrogate), which
      the tokenisers would otherwise read as `[UNK]`s, where Keras refuses it;
    - refuses token ids outside `[0, vocabulary size)` for the inputs named in
      `id_limits` (`{input name: vocabulary size}`): a negative id would read an
      embedding row from the end of the table;
    - answers an empty batch with empty outputs: it runs `fn` on one stand-in row
      (zeros, an empty string, a 1x1 PNG for encoded images) and returns the first
      0 rows of every output, so a loop that cannot take a batch of 0 never sees one.

    Each refusal is an `InvalidArgumentError` whose message says what was
    expected and what came.
    """
    id_limits = dict(id_limits or {})

    def run(*inputs):
        inputs = [
            tf.ensure_shape(x, spec.shape, name=f"check_{spec.name}")
            for x, spec in zip(inputs, input_signature)
        ]
        checks = []
        for x, spec in zip(inputs, input_signature):
            if spec.dtype.is_floating:
                checks.append(
                    tf.debugging.assert_all_finite(
                        x, f"`{spec.name}` must be finite; it holds NaN or infinity"
                    )
                )
            if spec.dtype == tf.string and spec.name == "text":
                checks.append(_assert_utf8(x, spec.name))
            if spec.name in id_limits:
                limit = id_limits[spec.name]
                checks.append(
                    tf.debugging.assert_non_negative(
                        x, message=f"`{spec.name}` must be ids in [0, {limit}); some are < 0"
                    )
                )
                checks.append(
                    tf.debugging.assert_less(
                        x, tf.constant(limit, x.dtype),
                        message=f"`{spec.name}` must be ids in [0, {limit}); some are >= {limit}",
                    )
                )  # fmt: skip
        with tf.control_dependencies(checks):
            inputs = [tf.identity(x) for x in inputs]
        rows = tf.shape(inputs[0])[0]
        padded = [
            # `ensure_shape` gives back the static shape that `cond` loses.
            tf.ensure_shape(
                tf.cond(rows > 0, lambda x=x: x, lambda x=x, spec=spec: _stand_in(x, spec)),
                spec.shape,
            )
            for x, spec in zip(inputs, input_signature)
        ]
        outputs = fn(*padded)
        return tf.nest.map_structure(lambda y: y[:rows], outputs)

    run.__name__ = getattr(fn, "__name__", "run")
    return run


def _assert_utf8(x, name):
    """An assertion that every string of `x` is well-formed UTF-8.

    Its message names the rows that are not, and for each the byte where UTF-8
    stops, as Keras's `ValueError` names the text and the byte.
    """
    # Decoding with two replacement characters: the code points that differ are the
    # replaced ill-formed sequences (a U+FFFD in the text itself decodes alike).
    decoded = [
        tf.strings.unicode_decode_with_offsets(x, "UTF-8", errors="replace", replacement_char=c)
        for c in (0xFFFD, 0xFFFC)
    ]
    (first, offsets), (second, _) = decoded  # ragged (batch, characters)
    bad = tf.not_equal(first, second)
    valid = tf.logical_not(tf.reduce_any(bad, axis=-1))  # (batch,)
    rows = tf.where(tf.logical_not(valid))[:, 0]
    no_byte = tf.int64.max
    starts = tf.reduce_min(tf.where(bad, offsets, no_byte), axis=-1)  # (batch,)
    message = f"`{name}` must be UTF-8 strings; not UTF-8 (invalid bytes or a lone surrogate):"
    return tf.debugging.Assert(
        tf.reduce_all(valid),
        [message, "rows", rows, "from bytes", tf.gather(starts, rows)],
        summarize=10,
    )


def _stand_in(x, spec):
    """One row like a row of `x` (which has none), for `checked`'s empty batches."""
    if spec.dtype == tf.string:
        if spec.name == "image_bytes":
            return tf.reshape(tf.io.encode_png(tf.zeros((1, 1, 1), tf.uint8)), (1,))
        return tf.fill(tf.concat([[1], tf.shape(x)[1:]], 0), "")
    rest = tf.maximum(tf.shape(x)[1:], 1)  # an unknown length of 0 becomes 1
    if spec.shape.rank is not None:
        known = [d if d is not None else -1 for d in spec.shape[1:]]
        rest = tf.where(tf.constant(known, tf.int32) >= 0, tf.constant(known, tf.int32), rest)
    return tf.zeros(tf.concat([[1], rest], 0), spec.dtype)


def generate(model, inputs, settings, beam_width):
    """The generation engine's output as a dict of tensors of a signature."""
    output = generation.generate(
        model,
        inputs,
        start_id=settings["start_id"],
        stop_id=settings["stop_id"],
        max_length=settings["max_length"],
        beam_width=beam_width,
        length_penalty=settings["length_penalty"] if beam_width > 1 else 0.0,
        pad_id=settings.get("pad_id", 0),
        **_options(settings.get("options", {}), beam_width),
    )
    return {
        "ids": output.ids,
        "lengths": output.lengths,
        "scores": output.scores,
        "attention": output.attention,
    }


def _options(options, beam_width):
    """The model's generation options; greedy search takes no beam options."""
    if beam_width > 1:
        return dict(options)
    return {k: v for k, v in options.items() if k not in ("finished_beams", "early_stopping")}


def has_attention(model, spec, settings):
    """Whether the model reports attention, i.e. its attention maps are not `(batch, 0)`."""
    function = tf.function(
        lambda inputs: generate(model, inputs, settings, 1)["attention"], autograph=False
    )
    attention = function.get_concrete_function(spec).structured_outputs
    return attention.shape[-1] != 0


def static_batch(spec, batch=1):
    """`spec` with batch `batch` and every other unknown dimension left as is."""
    return tf.TensorSpec((batch, *spec.shape[1:]), spec.dtype, name=spec.name)
