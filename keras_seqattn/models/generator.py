"""A Keras model whose forward pass is the generation loop, compiled by Keras."""

import keras

from keras_seqattn import generation


class Generator(keras.Model):
    """Wraps a generative model so that `predict_on_batch` runs `generate()`.

    Keras compiles `predict` per backend (`jax.jit`, `tf.function`), so the
    `ops.while_loop` of greedy or beam search is traced once per input shape
    and reused, instead of once per call as in eager mode; PyTorch runs it
    eagerly. The wrapper owns no weights: it reads those of `model`.

    Args:
        model: a `GenerativeModel` (it implements `encode` and `decode_step`).
        max_length: int, output positions.
        start_id: int, the `[START]` token.
        stop_id: int, the `[STOP]` token.
        beam_width: int, `1` for greedy search.
        length_penalty: float, GNMT length-penalty exponent.
        pad_id: int written after `[STOP]`. Defaults to `0`.
        **options: `keras_seqattn.generation.generate()`'s options.
    """

    def __init__(
        self,
        model,
        max_length,
        start_id,
        stop_id,
        beam_width=1,
        length_penalty=0.0,
        pad_id=0,
        **options,
    ):
        super().__init__()
        self.model = model
        self.settings = dict(
            max_length=max_length,
            start_id=start_id,
            stop_id=stop_id,
            beam_width=beam_width,
            length_penalty=length_penalty,
            pad_id=pad_id,
            **options,
        )
        self.built = True

    def call(self, inputs):
        output = generation.generate(self.model, inputs, **self.settings)
        return {
            "ids": output.ids,
            "lengths": output.lengths,
            "scores": output.scores,
            "attention": output.attention,
            "steps": output.steps,  # every named per-step output, `attention` among them
        }
