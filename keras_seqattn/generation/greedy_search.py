"""Greedy search: the most probable next token at every step, for a whole batch."""

import functools

from keras import ops

from keras_seqattn.generation import _decoding
from keras_seqattn.generation.logits_processing import process_scores


def greedy_search(
    model, inputs, *, start_id, stop_id, max_length, length_penalty=0.0, pad_id=0, **options
):
    """Generates one sequence per row by always taking the most probable token.

    The model only has to implement the seam of every generative model of the
    package, `encode(inputs) -> (memory, state)` and
    `decode_step(token_ids, state, memory, index) -> (logits, state, outputs)`
    (`outputs`: the step's attention, or a dict of named per-step outputs).

    1. Encode once: `memory, state = model.encode(inputs)`.
    2. At position `t` (from `0`, fed `[START]`), run one decoder step and take
       the top-1 of `log_softmax(logits)` with `ops.top_k(., 1)` (not `argmax`,
       whose TensorFlow lowering is not a TFLite builtin).
    3. Write the token and this step's named outputs (its attention, ...) into
       fixed-size buffers; a row that emitted `stop_id` is done: from then on it
       gets `pad_id`, zero outputs and no more score.
    4. Stop when every row is done or `max_length` tokens were produced.

    The steps after the first run in `ops.while_loop`, so the search compiles
    into one graph (SavedModel, TFLite, `jax.jit`); the first step runs before
    the loop, so `decode_step` builds its layers outside any trace.

    Args:
        model: an object with the `encode` and `decode_step` methods above.
        inputs: what `model.encode` takes (tensor, tuple or dict; batch first).
        start_id: int, the `[START]` token fed at position 0.
        stop_id: int, the `[STOP]` token that ends a row.
        max_length: int >= 1, the number of positions in the output.
        length_penalty: float >= 0, only rescales the reported scores by
            `lp(length)` (see `beam_search`), so that greedy search and
            `beam_search(beam_width=1)` agree. Defaults to `0.0`.
        pad_id: int written after `[STOP]`. Defaults to `0`.
        **options: `length_penalty_form` and the logits processors
            (`suppressed_ids`, `bad_words`, `repetition_penalty`, ...), as in
            `generate()`; see `logits_processing.process_scores`.

    Returns:
        A `GenerationOutput`: `ids` `(batch, max_length)` int32, `lengths`
        `(batch,)` int32, `scores` `(batch,)` float32, `attention`
        `(batch, max_length, *attention_shape)` float32 and `steps`, every named
        per-step output `(batch, max_length, *shape)` float32.

    Example:

    ```python
    output = greedy_search(model, source_ids, start_id=1, stop_id=2, max_length=20)
    output.ids  # (batch, 20): tokens, [STOP], then padding.
    ```
    """
    _decoding.validate_arguments(start_id, stop_id, max_length, 1, length_penalty, pad_id)
    options = _decoding.check_options(options)
    if options["finished_beams"] != "in_beam" or options["early_stopping"] is not False:
        raise ValueError(
            f"`finished_beams` and `early_stopping` are beam search options. Received: {options}"
        )
    memory, state = _decoding.encode(model, inputs)
    batch = _decoding.batch_size(inputs, memory, state)

    pad = ops.convert_to_tensor(pad_id, dtype="int32")
    process = functools.partial(
        process_scores, start_id=start_id, stop_id=stop_id, max_length=max_length, options=options
    )

    def choose(index, logits, state, outputs, ids, buffers, scores, lengths, done):
        log_probs = process(ops.log_softmax(logits, axis=-1), ids, index)  # (batch, vocab)
        # transformers' greedy search processes the logits themselves, which only
        # changes the choice under a repetition penalty (the rest are bans).
        choice = log_probs
        if options["repetition_penalty"] != 1.0:
            choice = process(logits, ids, index, normalize=False)
        _, best = ops.top_k(choice, 1)  # (batch, 1)
        best = ops.cast(best, "int32")
        step_scores = ops.take_along_axis(log_probs, best, axis=1)[:, 0]  # (batch,)
        tokens = ops.where(done, pad, best[:, 0])  # (batch,)
        scores = ops.where(done, scores, scores + step_scores)
        lengths = lengths + ops.cast(ops.logical_not(done), "int32")
        ids = _decoding.write_step(ids, index, tokens)
        buffers = _decoding.write_steps(buffers, index, outputs, done)
        done = ops.logical_or(done, ops.equal(tokens, stop_id))
        return index + 1, tokens, state, ids, buffers, scores, lengths, done

    def step(index, tokens, state, ids, buffers, scores, lengths, done):
        logits, state, outputs = _decoding.decode(model, tokens, state, memory, index)
        return choose(index, logits, state, outputs, ids, buffers, scores, lengths, done)

    # The first step runs before the loop: it builds the model's layers outside
    # any trace, and its outputs' shapes size their buffers.
    index = ops.convert_to_tensor(0, dtype="int32")
    tokens = ops.full((batch,), start_id, dtype="int32")
    logits, state, outputs = _decoding.decode(model, tokens, state, memory, index)
    carry = choose(
        index,
        logits,
        state,
        outputs,
        ops.full((batch, max_length), pad_id, dtype="int32"),
        _decoding.empty_buffers(outputs, max_length),
        ops.zeros((batch,), dtype="float32"),
        ops.zeros((batch,), dtype="int32"),
        ops.zeros((batch,), dtype="bool"),
    )
    carry = ops.while_loop(
        lambda index, *rest: _decoding.keep_going(index, rest[-1], max_length),
        step,
        carry,
    )
    _, _, _, ids, buffers, scores, lengths, _ = carry
    scores = _decoding.length_normalize(
        scores, lengths, length_penalty, options["length_penalty_form"]
    )
    return _decoding.output(ids, lengths, scores, buffers)
