"""The base of every generative application: the encode/decode_step seam."""

import keras

from keras_seqattn import generation
from keras_seqattn.generation._decoding import (
    DEFAULT_OPTIONS,
    check_options,
    validate_arguments,
)
from keras_seqattn.models._arguments import check_model_kwargs
from keras_seqattn.models._batch_prediction import predict_batch
from keras_seqattn.models._dtype_policy import with_dtype_argument
from keras_seqattn.models._optimizer import build_optimizer
from keras_seqattn.models.generator import Generator
from keras_seqattn.models.token_accuracy import TokenAccuracy


class GenerativeModel(keras.Model):
    """A functional model trained with teacher forcing and decoded step by step.

    Subclasses build their training graph in `__init__` (inputs -> next-token
    logits) and implement the two steps the generation engine calls, built from
    the same layers so the weights are shared:

    - `encode(inputs) -> (memory, state)`: tuples of tensors, batch first;
    - `decode_step(token_ids, state, memory, index) -> (logits, state,
      outputs)`: `outputs` is the step's attention, or a dict of named per-step
      outputs (`{"attention": ..., "beta": ...}`), each of which reaches
      `GenerationOutput.steps` and `GenerationResult.steps` by its name.

    Greedy and beam search, attention collection and export then come from
    `keras_seqattn.generation` for every model alike.

    `dtype=` (e.g. `"mixed_float16"`) builds every layer under that dtype
    policy, as the global `keras.config.set_dtype_policy` does, and is saved
    with the model.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = with_dtype_argument(cls.__dict__["__init__"])

    def __init__(self, *args, **kwargs):
        check_model_kwargs(type(self), kwargs)
        super().__init__(*args, **kwargs)

    def encode(self, inputs):
        raise NotImplementedError(f"{type(self).__name__} must implement encode().")

    def decode_step(self, token_ids, state, memory, index):
        raise NotImplementedError(f"{type(self).__name__} must implement decode_step().")

    def compile(self, optimizer="adam", loss="default", metrics="default", **kwargs):
        """`keras.Model.compile` with the defaults for next-token prediction.

        The default loss is sparse cross-entropy on logits that ignores padding
        (id 0, or the target tokenizer's `pad_id`: a converted MarianMT model
        pads with its last id and ends with `</s>` = 0); the default metric is
        the accuracy over non-padding tokens.
        """
        # The arguments as given, for `get_compile_config()`: a reload resolves
        # "default" again rather than deserialising the private metric function.
        arguments = dict(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)
        pad_id = getattr(getattr(self, "target_tokenizer", None), "pad_id", 0)
        if isinstance(loss, str) and loss == "default":
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=pad_id)
        if isinstance(metrics, str) and metrics == "default":
            metrics = [TokenAccuracy(pad_id)]
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)
        self._compile_arguments = keras.saving.serialize_keras_object(arguments)

    def get_compile_config(self):
        """The `compile()` arguments as given, so `.keras` files restore them."""
        if not self.compiled or getattr(self, "_compile_arguments", None) is None:
            return {}
        return dict(self._compile_arguments)

    def compile_from_config(self, config):
        """Compiles with `get_compile_config()`'s arguments, as `load_model` does.

        The optimizer is built at once, so that `load_model` can restore its
        variables (iterations, moments) and `fit` resumes where it stopped.
        """
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def fit(self, x=None, y=None, **kwargs):
        """`keras.Model.fit`, without Keras's warning for `tf.data` inputs.

        Keras cannot shuffle a `tf.data.Dataset` and warns when `shuffle=True`
        (its default) comes with one; `prepare()` already shuffles, so for a
        dataset the flag defaults to `False`. Arrays are shuffled as usual.
        The optimizer is built first (`_optimizer.build_optimizer`: TensorFlow
        traces the first step once instead of twice).
        """
        if hasattr(x, "element_spec"):
            kwargs.setdefault("shuffle", False)
        build_optimizer(self)
        return super().fit(x, y, **kwargs)

    def generate_ids(
        self,
        inputs,
        max_length,
        start_id,
        stop_id,
        beam_width=1,
        length_penalty=0.0,
        pad_id=0,
        **options,
    ):
        """Runs the generation engine on already-preprocessed `inputs`.

        The loop runs inside a `Generator` model, so Keras compiles it once per
        settings and input shape (`jax.jit`, `tf.function`) and later calls reuse
        it. Arguments are checked first, so bad ones fail before any tracing.
        `options` are `keras_seqattn.generation.generate()`'s (for Hugging
        Face's search: `suppressed_ids`, `force_stop_at_end`, ...).

        Returns:
            A `keras_seqattn.generation.GenerationOutput` of NumPy arrays.
        """
        validate_arguments(start_id, stop_id, max_length, beam_width, length_penalty, pad_id)
        options = {k: v for k, v in check_options(options).items() if DEFAULT_OPTIONS[k] != v}
        key = (max_length, start_id, stop_id, beam_width, float(length_penalty), pad_id)
        key += tuple(sorted(options.items()))
        cache = self.__dict__.setdefault("_generators", {})
        if key not in cache:
            cache[key] = Generator(
                self,
                max_length,
                start_id,
                stop_id,
                beam_width=beam_width,
                length_penalty=length_penalty,
                pad_id=pad_id,
                **options,
            )
        return generation.GenerationOutput(**predict_batch(cache[key], inputs))

    @classmethod
    def from_config(cls, config):
        return cls(**config)
