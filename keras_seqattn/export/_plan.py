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
        files: dict of file name -> JSON-able value, written beside the models.
        trackables: TensorFlow resources the endpoints use besides the model
            (lookup tables).
        notes: messages for the user (what was left out, and why).
    """

    endpoints: list = dataclasses.field(default_factory=list)
    tflite: list = dataclasses.field(default_factory=list)
    files: dict = dataclasses.field(default_factory=dict)
    trackables: list = dataclasses.field(default_factory=list)
    notes: list = dataclasses.field(default_factory=list)


def checked(fn, input_signature):
    """`fn` that first checks its inputs' shapes against `input_signature`.

    A loaded signature checks dtypes but not shapes, so an image of the wrong
    size would fail deep inside the model; `tf.ensure_shape` fails at the door,
    naming the input and the expected shape.
    """

    def run(*inputs):
        inputs = [
            tf.ensure_shape(x, spec.shape, name=f"check_{spec.name}")
            for x, spec in zip(inputs, input_signature)
        ]
        return fn(*inputs)

    run.__name__ = getattr(fn, "__name__", "run")
    return run


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
    )
    return {
        "ids": output.ids,
        "lengths": output.lengths,
        "scores": output.scores,
        "attention": output.attention,
    }


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
