"""What a translate()/caption() call returns: text plus everything behind it."""

import dataclasses

import numpy as np
from keras import ops


@dataclasses.dataclass
class GenerationResult:
    """The decoded outputs of a batch, trimmed per row.

    Attributes:
        text: list of output strings.
        ids: `(batch, max_length)` int32 output ids, padded with 0 after `[STOP]`.
        lengths: `(batch,)` number of output tokens, `[STOP]` included.
        scores: `(batch,)` log-probability (beam search: length-penalised).
        attention: list, per row, of the attention of each output token over the
            input, `(length, *attention_shape)`; empty arrays for models without
            attention.
        input_tokens: list, per row, of the input token strings (text models).
        output_tokens: list, per row, of the `lengths[i]` output token strings
            (`[STOP]` included), one per row of `attention[i]`.
        attention_heads: list, per row, of the attention of each head,
            `(length, num_heads, input_len)`, for multi-head models that report
            it (`attention` then holds the head average); empty otherwise.
        steps: dict, every named per-step output of the model's decoder step
            (`attention`, and for example the sentinel's `beta`): per name, a
            list per row of `(length, *shape)` arrays, one row per output token.
            Unlike `attention`, the input axis keeps its padding positions.
    """

    text: list
    ids: np.ndarray
    lengths: np.ndarray
    scores: np.ndarray
    attention: list
    input_tokens: list
    output_tokens: list
    attention_heads: list = dataclasses.field(default_factory=list)
    steps: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def from_output(cls, output, tokenizer, input_ids=None, input_tokens=None, input_pad_id=0):
        ids = np.asarray(ops.convert_to_numpy(output.ids)).astype("int32")
        lengths = np.asarray(ops.convert_to_numpy(output.lengths)).astype("int32")
        attention = np.asarray(ops.convert_to_numpy(output.attention))
        if input_ids is not None and attention.ndim >= 3:
            # Keep each row's real input positions only (drop trailing padding).
            real = np.sum(np.asarray(input_ids) != input_pad_id, axis=1)
            rows = [a[:n, ..., :r] for a, n, r in zip(attention, lengths, real)]
        else:
            rows = [a[:n] for a, n in zip(attention, lengths)]
        steps = {
            name: [row[:n] for row, n in zip(np.asarray(ops.convert_to_numpy(value)), lengths)]
            for name, value in (getattr(output, "steps", None) or {}).items()
        }
        return cls(
            steps=steps,
            text=tokenizer.detokenize(ids),
            ids=ids,
            lengths=lengths,
            scores=np.asarray(ops.convert_to_numpy(output.scores)),
            attention=rows,
            input_tokens=input_tokens or [],
            # Exactly `lengths` tokens a row, one per attention row: a barely trained
            # model may emit `[PAD]` before its end, which `id_to_token` would drop.
            output_tokens=[
                [tokenizer.vocabulary[i] for i in row[:n]] for row, n in zip(ids.tolist(), lengths)
            ],
        )
