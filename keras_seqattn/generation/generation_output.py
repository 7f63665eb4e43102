"""`GenerationOutput`: what greedy and beam search return."""

from typing import Any, NamedTuple


class GenerationOutput(NamedTuple):
    """The tokens, lengths, scores and per-step outputs of one generated batch.

    A `NamedTuple` of backend tensors (and a dict of them), so it passes through
    `keras.tree`, `tf.function` and `jax.jit` unchanged.

    Attributes:
        ids: int32 `(batch, max_length)`, the tokens after `[START]`: the `[STOP]`
            token is included where it came, `pad_id` fills the rest of the row.
        lengths: int32 `(batch,)`, the number of tokens in each row, `[STOP]`
            included; `max_length` for a row that never stopped.
        scores: float32 `(batch,)`, the sum of the log-probabilities of the chosen
            tokens divided by the length penalty `lp(length)` (which is `1` for
            `length_penalty=0`, the default, so the score is the log-probability).
        attention: float32 `(batch, max_length, *attention_shape)`, the attention
            of the step that produced each token; zero after the end of the row
            (`steps["attention"]`; `(batch, max_length, 0)` for a model whose
            step names no `attention`).
        steps: dict, every named per-step output of the model's `decode_step`
            (`attention`, and for example the sentinel's `beta`), each float32
            `(batch, max_length, *shape)` and zero after the end of the row;
            beam search keeps those of the beam it returns. `None` where the
            output was built by hand without them.
    """

    ids: Any
    lengths: Any
    scores: Any
    attention: Any
    steps: Any = None
