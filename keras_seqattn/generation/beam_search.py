"""Beam search with Google NMT's length penalty, batched over fixed-size buffers."""

from keras import ops

from keras_seqattn.generation import _decoding
from keras_seqattn.generation.logits_processing import process_scores


def beam_search(
    model,
    inputs,
    *,
    start_id,
    stop_id,
    max_length,
    beam_width=4,
    length_penalty=0.0,
    pad_id=0,
    **options,
):
    """Generates one sequence per row, keeping the `beam_width` best prefixes.

    The model only has to implement the seam of every generative model of the
    package, `encode(inputs) -> (memory, state)` and
    `decode_step(token_ids, state, memory, index) -> (logits, state, outputs)`
    (`outputs`: the step's attention, or a dict of named per-step outputs).
    All beams of all rows run as one batch of `batch * beam_width` rows, row
    `b * beam_width + k` holding beam `k` of input row `b`.

    1. Encode once and repeat `memory` and `state` `beam_width` times on the
       batch axis. Only beam 0 of each row starts alive (the others score
       `-inf`), so the first step fans out into distinct beams.
    2. At every position, score each beam's continuations
       `score + log_softmax(logits)`; a finished beam has one continuation,
       padding, at zero cost, so it keeps its score and its place.
    3. Take the `beam_width` best of the `beam_width * vocab` candidates of each
       row with `ops.top_k`; reorder the decoder state, the id buffer and the
       buffer of every named per-step output by the parent beam of each winner;
       write its token.
    4. Stop when every beam is finished or `max_length` tokens were produced;
       return, per row, the beam with the best `score / lp(length)`, where
       `lp(length) = ((5 + length) / 6) ** length_penalty` (`1` for
       `length_penalty=0`: raw log-probabilities, which favour short outputs).

    The steps after the first run in `ops.while_loop` over static shapes, so the
    search compiles into one graph (SavedModel, TFLite, `jax.jit`). With
    `beam_width=1` it returns exactly what `greedy_search` returns.

    Args:
        model: an object with the `encode` and `decode_step` methods above.
        inputs: what `model.encode` takes (tensor, tuple or dict; batch first).
        start_id: int, the `[START]` token fed at position 0.
        stop_id: int, the `[STOP]` token that finishes a beam.
        max_length: int >= 1, the number of positions in the output.
        beam_width: int >= 1, the number of prefixes kept per row. Defaults to
            `4`.
        length_penalty: float >= 0, the exponent `alpha` of `lp`; Wu et al. use
            `0.6` to `1.0`. Defaults to `0.0`.
        pad_id: int written after `[STOP]`. Defaults to `0`.
        **options: `suppressed_ids`, `force_stop_at_end`,
            `length_penalty_form`, and `finished_beams="apart"` (with
            `early_stopping`) for Hugging Face's search instead of the steps
            above (`keras_seqattn.generation.apart_beam_search`); see
            `generate()`.

    Returns:
        A `GenerationOutput` for the best beam of each row: `ids`
        `(batch, max_length)` int32, `lengths` `(batch,)` int32, `scores`
        `(batch,)` float32 (the length-penalised score), `attention`
        `(batch, max_length, *attention_shape)` float32 and `steps`, every named
        per-step output of that beam.

    Example:

    ```python
    output = beam_search(
        model, source_ids, start_id=1, stop_id=2, max_length=20, beam_width=4,
        length_penalty=0.6,
    )
    output.ids  # (batch, 20): the best beam of each row.
    ```

    Reference:
        Wu et al. (2016), Google's Neural Machine Translation System: Bridging
        the Gap between Human and Machine Translation, section 7 (length
        penalty).
    """
    _decoding.validate_arguments(start_id, stop_id, max_length, beam_width, length_penalty, pad_id)
    options = _decoding.check_options(options)
    if options["finished_beams"] == "apart":
        from keras_seqattn.generation.apart_beam_search import apart_beam_search

        return apart_beam_search(
            model,
            inputs,
            start_id=start_id,
            stop_id=stop_id,
            max_length=max_length,
            beam_width=beam_width,
            length_penalty=length_penalty,
            pad_id=pad_id,
            options=options,
        )
    memory, state = _decoding.encode(model, inputs)
    batch = _decoding.batch_size(inputs, memory, state)
    memory = tuple(ops.repeat(m, beam_width, axis=0) for m in memory)  # (batch * beam, ...)
    state = tuple(ops.repeat(s, beam_width, axis=0) for s in state)  # (batch * beam, ...)
    pad = ops.convert_to_tensor(pad_id, dtype="int32")
    rows = batch * beam_width
    # The first row of each row's group of beams: 0, ..., 0, beam, ..., beam, ...
    group_start = ops.arange(rows, dtype="int32") // beam_width * beam_width

    def choose(index, logits, state, outputs, ids, buffers, scores, lengths, done):
        vocab = _decoding.vocabulary_size(logits)
        log_probs = ops.log_softmax(logits, axis=-1)  # (batch * beam, vocab)
        log_probs = process_scores(
            log_probs, ids, index, start_id=start_id, stop_id=stop_id, max_length=max_length,
            options=options,
        )  # fmt: skip
        # A finished beam's only continuation is vocabulary slot 0 at zero cost
        # (its token is forced to `pad_id` below, whatever `pad_id` is).
        finished = _decoding.alive_every(vocab, vocab)  # (vocab,) 0, -inf, ...
        log_probs = ops.where(ops.expand_dims(done, 1), finished, log_probs)
        candidates = ops.expand_dims(scores, 1) + log_probs  # (batch * beam, vocab)
        candidates = ops.reshape(candidates, (-1, beam_width * vocab))  # (batch, beam * vocab)
        scores, best = ops.top_k(candidates, beam_width)  # (batch, beam)
        best = ops.cast(best, "int32")
        scores = ops.reshape(scores, (-1,))  # (batch * beam,)
        parents = group_start + ops.reshape(best // vocab, (-1,))  # (batch * beam,)
        tokens = ops.reshape(best % vocab, (-1,))  # (batch * beam,)

        def reorder(x):
            return ops.take(x, parents, axis=0)

        done = reorder(done)
        tokens = ops.where(done, pad, tokens)
        lengths = reorder(lengths) + ops.cast(ops.logical_not(done), "int32")
        ids = _decoding.write_step(reorder(ids), index, tokens)
        buffers = _decoding.write_steps(
            _decoding.take_rows(buffers, parents),
            index,
            _decoding.take_rows(outputs, parents),
            done,
        )
        state = tuple(reorder(s) for s in state)
        done = ops.logical_or(done, ops.equal(tokens, stop_id))
        return index + 1, tokens, state, ids, buffers, scores, lengths, done

    def step(index, tokens, state, ids, buffers, scores, lengths, done):
        logits, state, outputs = _decoding.decode(model, tokens, state, memory, index)
        return choose(index, logits, state, outputs, ids, buffers, scores, lengths, done)

    # The first step runs before the loop: it builds the model's layers outside
    # any trace, and its outputs' shapes size their buffers.
    index = ops.convert_to_tensor(0, dtype="int32")
    tokens = ops.full((rows,), start_id, dtype="int32")
    logits, state, outputs = _decoding.decode(model, tokens, state, memory, index)
    first_beam_only = _decoding.alive_every(rows, beam_width)  # (batch * beam,)
    carry = choose(
        index,
        logits,
        state,
        outputs,
        ops.full((rows, max_length), pad_id, dtype="int32"),
        _decoding.empty_buffers(outputs, max_length),
        first_beam_only,
        ops.zeros((rows,), dtype="int32"),
        ops.zeros((rows,), dtype="bool"),
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
    _, best = ops.top_k(ops.reshape(scores, (-1, beam_width)), 1)  # (batch, 1)
    best = ops.arange(batch, dtype="int32") * beam_width + ops.cast(best[:, 0], "int32")
    return _decoding.output(
        ops.take(ids, best, axis=0),
        ops.take(lengths, best, axis=0),
        ops.take(scores, best, axis=0),
        _decoding.take_rows(buffers, best),
    )
