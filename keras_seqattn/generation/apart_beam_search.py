"""Beam search with the finished hypotheses kept apart, as Hugging Face's `generate()`."""

from keras import ops

from keras_seqattn.generation import _decoding
from keras_seqattn.generation.logits_processing import process_scores


def apart_beam_search(
    model,
    inputs,
    *,
    start_id,
    stop_id,
    max_length,
    beam_width=4,
    length_penalty=1.0,
    pad_id=0,
    options=None,
):
    """Beam search whose finished hypotheses leave the beam (`BeamSearchScorer`).

    `beam_search(..., finished_beams="apart")` runs this. Where `beam_search`
    keeps a finished beam in its slot, this search, as Hugging Face's
    `generate(num_beams=k)` (`BeamSearchScorer`, vectorised in
    `GenerationMixin._beam_search`), keeps `k` running beams that never
    finish and a separate set of the `k` best finished hypotheses per row:

    1. Each step scores `score + log_probs` over all beams and takes the
       `2k` best candidates (so that `k` unfinished ones remain).
    2. A candidate that ends (`stop_id`, or the last position) enters the
       finished set if it ranks among the first `k`, with the score
       `sum_log_probs / length ** length_penalty` (`length` counts the new
       tokens, `[STOP]` included); the `k` best unfinished candidates run on.
    3. A row stops taking hypotheses once its `k` slots are full and the
       best running beam cannot beat the worst of them: with
       `early_stopping=False` judged at the current length, with `"never"`
       (and `length_penalty > 0`) at `max_length`; with `True` the search ends
       when every row has `k` finished hypotheses.
    4. The answer of each row is its best finished hypothesis.

    The loop is an `ops.while_loop` over fixed-size buffers, as `beam_search`.
    Arguments as `beam_search`; `options` as `generate()`'s (already checked).

    Reference:
        Hugging Face transformers, `generation/utils.py`, `_beam_search`
        (BeamSearchScorer semantics); Wu et al. (2016) for the search itself.
    """
    options = _decoding.check_options(dict(options or {}))
    memory, state = _decoding.encode(model, inputs)
    batch = _decoding.batch_size(inputs, memory, state)
    k = beam_width
    memory = tuple(ops.repeat(m, k, axis=0) for m in memory)  # (batch * k, ...)
    state = tuple(ops.repeat(s, k, axis=0) for s in state)  # (batch * k, ...)
    rows = batch * k
    row_of_group = ops.arange(batch, dtype="int32")[:, None]  # (batch, 1)
    neg = _decoding.NEG_INF
    early = options["early_stopping"]

    def rows_of(groups, picks, width):
        """Rows `groups * width + picks` of a `(batch * width, ...)` tensor, flat."""
        return ops.reshape(groups * width + picks, (-1,))  # (batch * n,)

    def choose(index, logits, state, outputs, carry):
        run_ids, run_att, run_scores, fin_ids, fin_att, fin_scores, fin_len, fin_flag, open_ = carry
        vocab = _decoding.vocabulary_size(logits)
        log_probs = ops.log_softmax(logits, axis=-1)  # (batch * k, vocab)
        log_probs = process_scores(
            log_probs, run_ids, index, start_id=start_id, stop_id=stop_id, max_length=max_length,
            options=options,
        )  # fmt: skip
        candidates = ops.expand_dims(run_scores, 1) + log_probs  # (batch * k, vocab)
        candidates = ops.reshape(candidates, (-1, k * vocab))  # (batch, k * vocab)
        top_scores, best = ops.top_k(candidates, 2 * k)  # (batch, 2k)
        best = ops.cast(best, "int32")
        parents, tokens = best // vocab, best % vocab  # (batch, 2k)
        flat_tokens = ops.reshape(tokens, (-1,))  # (batch * 2k,)
        chosen = rows_of(row_of_group, parents, k)  # (batch * 2k,)
        cand_ids = _decoding.write_step(ops.take(run_ids, chosen, axis=0), index, flat_tokens)
        cand_att = _decoding.write_steps(
            _decoding.take_rows(run_att, chosen), index, _decoding.take_rows(outputs, chosen)
        )  # running beams only: none is finished
        ends = ops.logical_or(
            ops.equal(tokens, stop_id), ops.greater_equal(index + 1, max_length)
        )  # (batch, 2k)

        # The k best candidates that did not end run on.
        running = top_scores + ops.cast(ends, "float32") * neg  # (batch, 2k)
        run_scores, keep = ops.top_k(running, k)  # (batch, k)
        keep = ops.cast(keep, "int32")
        kept_parents = ops.take_along_axis(parents, keep, axis=1)  # (batch, k)
        state_rows = rows_of(row_of_group, kept_parents, k)  # (batch * k,)
        state = tuple(ops.take(s, state_rows, axis=0) for s in state)
        kept = rows_of(row_of_group, keep, 2 * k)  # (batch * k,) rows of the candidates
        run_ids = ops.take(cand_ids, kept, axis=0)
        run_att = _decoding.take_rows(cand_att, kept)
        tokens = ops.reshape(ops.take_along_axis(tokens, keep, axis=1), (-1,))  # (batch * k,)

        # Candidates among the first k that ended join the finished set.
        rank = ops.arange(2 * k, dtype="int32")[None, :]  # (1, 2k)
        just = ops.logical_and(ends, rank < k)  # (batch, 2k)
        length = ops.cast(index + 1, "float32")
        normalized = top_scores / ops.power(length, float(length_penalty))  # (batch, 2k)
        flags = ops.reshape(fin_flag, (-1, k))  # (batch, k)
        full = ops.all(flags, axis=1, keepdims=True) if early is True else None
        if full is not None:
            normalized = normalized + ops.cast(full, "float32") * neg
        normalized = normalized + ops.cast(ops.logical_not(open_), "float32")[:, None] * neg
        normalized = normalized + ops.cast(ops.logical_not(just), "float32") * neg
        merged = ops.concatenate([ops.reshape(fin_scores, (-1, k)), normalized], axis=1)
        fin_scores, pick = ops.top_k(merged, k)  # (batch, k) of (batch, 3k)
        pick = ops.cast(pick, "int32")
        # Picks < k are old finished hypotheses (rows b * k + p of `fin_*`), the
        # others new candidates (rows b * 2k + p - k of `cand_*`), stacked below.
        old = pick < k
        rows_picked = ops.where(
            old, row_of_group * k + pick, rows + row_of_group * 2 * k + pick - k
        )
        rows_picked = ops.reshape(rows_picked, (-1,))  # (batch * k,)

        def merge(finished, new):
            return ops.take(ops.concatenate([finished, new], axis=0), rows_picked, axis=0)

        new_lengths = ops.zeros_like(flat_tokens) + (index + 1)  # (batch * 2k,)
        fin_ids = merge(fin_ids, cand_ids)
        fin_att = {name: merge(fin_att[name], cand_att[name]) for name in fin_att}
        fin_len = merge(fin_len, new_lengths)
        fin_flag = merge(fin_flag, ops.reshape(just, (-1,)))
        fin_scores = ops.reshape(fin_scores, (-1,))

        # Can the best running beam still beat the worst finished hypothesis?
        if early == "never" and length_penalty > 0:
            best_length = float(max_length)
        else:
            best_length = ops.cast(index + 1, "float32")
        best_possible = run_scores[:, :1] / ops.power(
            best_length, float(length_penalty)
        )  # (batch, 1)
        flags = ops.reshape(fin_flag, (-1, k))
        worst = ops.min(ops.reshape(fin_scores, (-1, k)), axis=1, keepdims=True)  # (batch, 1)
        worst = ops.where(flags, worst, neg)  # (batch, k)
        open_ = ops.logical_and(open_, ops.any(best_possible > worst, axis=1))
        run_scores = ops.reshape(run_scores, (-1,))
        go = ops.logical_and(ops.any(open_), ops.logical_not(ops.all(ends)))
        if early is True:
            go = ops.logical_and(go, ops.logical_not(ops.all(fin_flag)))
        carry = (
            run_ids,
            run_att,
            run_scores,
            fin_ids,
            fin_att,
            fin_scores,
            fin_len,
            fin_flag,
            open_,
        )
        return index + 1, tokens, state, carry, go

    def step(index, tokens, state, carry, go):
        logits, state, outputs = _decoding.decode(model, tokens, state, memory, index)
        return choose(index, logits, state, outputs, carry)

    # The first step runs before the loop, as in `beam_search`.
    index = ops.convert_to_tensor(0, dtype="int32")
    tokens = ops.full((rows,), start_id, dtype="int32")
    logits, state, outputs = _decoding.decode(model, tokens, state, memory, index)
    ids = ops.full((rows, max_length), pad_id, dtype="int32")
    attention = _decoding.empty_buffers(outputs, max_length)  # every named output
    carry = (
        ids,
        attention,
        _decoding.alive_every(rows, k),  # only beam 0 of each row starts alive
        ids,
        attention,
        ops.full((rows,), neg, dtype="float32"),
        ops.zeros((rows,), dtype="int32"),
        ops.zeros((rows,), dtype="bool"),
        ops.ones((batch,), dtype="bool"),
    )
    loop = ops.while_loop(
        lambda index, tokens, state, carry, go: ops.logical_and(go, ops.less(index, max_length)),
        step,
        choose(index, logits, state, outputs, carry),
    )
    _, _, _, carry, _ = loop
    fin_ids, fin_att, fin_scores, fin_len = carry[3], carry[4], carry[5], carry[6]
    _, best = ops.top_k(ops.reshape(fin_scores, (-1, k)), 1)  # (batch, 1)
    best = ops.arange(batch, dtype="int32") * k + ops.cast(best[:, 0], "int32")
    return _decoding.output(
        ops.take(fin_ids, best, axis=0),
        ops.take(fin_len, best, axis=0),
        ops.take(fin_scores, best, axis=0),
        _decoding.take_rows(fin_att, best),
    )
