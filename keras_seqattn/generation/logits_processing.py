"""Hugging Face's logits processors, as `keras.ops` over the searches' fixed-size buffers.

Every search calls `process_scores` once per step, on `(rows, vocab)` scores and
the id buffer of those rows, so that `generate()` reproduces transformers'
`generate()` for the generation-config keys a converted model carries. The
order is `GenerationMixin._get_logits_processor`'s:

1. `repetition_penalty` (`RepetitionPenaltyLogitsProcessor`): the score of
   every id in the decoder input so far (the start token included) is divided
   by the penalty when positive and multiplied when negative.
2. `no_repeat_ngram_size` (`NoRepeatNGramLogitsProcessor`): an id that would
   complete an n-gram already in the decoder input (start included) is banned.
3. `suppressed_ids` and `bad_words` (`NoBadWordsLogitsProcessor`): one-token
   words are banned everywhere; a longer word's last id is banned where the
   decoder input ends with the word's other ids.
4. `min_new_tokens` (`MinLengthLogitsProcessor`, `MinNewTokensLength...`):
   `stop_id` is banned at the positions before `min_new_tokens`.
5. `force_stop_at_end` (`ForcedEOSTokenLogitsProcessor`): at the last position
   only `stop_id` is left, at score 0.
6. `renormalize` (`LogitNormalization`): `log_softmax` of the result.

Beam searches pass `log_softmax(logits)`, as transformers' beam search does;
greedy search passes the raw logits to choose (which only matters to the
repetition penalty) and the log-probabilities to score. Only elementwise ops,
`take`, `scatter_update` and `log_softmax`: static shapes, no `argmax`.
"""

from keras import ops

from keras_seqattn.generation._decoding import NEG_INF, vocabulary_size


def process_scores(scores, ids, index, *, start_id, stop_id, max_length, options, normalize=True):
    """Applies the processors above to one step's `scores`.

    Args:
        scores: float32 `(rows, vocab)`, logits or log-probabilities.
        ids: int32 `(rows, max_length)`, the tokens generated so far by each row
            (positions `< index`; later ones are ignored).
        index: int32 scalar tensor, the position being chosen (`0` after the
            start token).
        start_id, stop_id, max_length: as `generate()`'s.
        options: `generate()`'s checked options.
        normalize: bool, apply `renormalize` (greedy search's choice skips it).

    Returns:
        float32 `(rows, vocab)` scores; banned ids hold `NEG_INF`.
    """
    vocab = vocabulary_size(scores)
    slots = ops.arange(vocab, dtype="int32")[None, :]  # (1, vocab)
    # The decoder input so far, as transformers sees it: the start token, then the ids.
    history = ops.concatenate([ops.zeros_like(ids[:, :1]) + start_id, ids], axis=1)
    if options["repetition_penalty"] != 1.0:
        penalty = float(options["repetition_penalty"])
        seen = _mark(history, ops.arange(max_length + 1, dtype="int32") <= index, vocab)
        penalized = ops.where(scores < 0, scores * penalty, scores / penalty)
        scores = ops.where(seen, penalized, scores)
    banned = ops.zeros_like(scores, dtype="bool")
    if options["no_repeat_ngram_size"]:
        banned = ops.logical_or(
            banned, _repeated_ngrams(history, index, options["no_repeat_ngram_size"], vocab)
        )
    for token in options["suppressed_ids"]:
        banned = ops.logical_or(banned, ops.equal(slots, token))
    for word in options["bad_words"]:
        banned = ops.logical_or(banned, _bad_word(history, index, word, slots))
    if options["min_new_tokens"]:
        early = ops.less(index, options["min_new_tokens"])
        banned = ops.logical_or(banned, ops.logical_and(early, ops.equal(slots, stop_id)))
    scores = ops.where(banned, NEG_INF, scores)
    if options["force_stop_at_end"]:
        forced = ops.where(ops.equal(slots, stop_id), 0.0, NEG_INF)  # (1, vocab)
        scores = ops.where(ops.equal(index, max_length - 1), forced, scores)
    if normalize and options["renormalize"]:
        scores = ops.log_softmax(scores, axis=-1)
    return scores


def _mark(tokens, valid, vocab):
    """bool `(rows, vocab)`: which ids occur in `tokens` `(rows, n)` where `valid` `(n,)` or
    `(rows, n)`; invalid positions write to a spare column `vocab`, dropped after."""
    rows, n = ops.shape(tokens)[0], tokens.shape[1]
    valid = ops.logical_and(valid, ops.ones_like(tokens, dtype="bool"))  # (rows, n)
    columns = ops.where(valid, tokens, vocab)  # (rows, n)
    row_ids = ops.zeros_like(tokens) + ops.arange(rows, dtype="int32")[:, None]  # (rows, n)
    indices = ops.reshape(ops.stack([row_ids, columns], axis=-1), (-1, 2))  # (rows * n, 2)
    marks = ops.zeros((rows, vocab + 1), dtype="int32")
    marks = ops.scatter_update(marks, indices, ops.ones((rows * n,), dtype="int32"))
    return ops.greater(marks[:, :vocab], 0)


def _at(history, position):
    """`history[:, position]` `(rows,)` for an int32 scalar tensor `position` (clipped)."""
    position = ops.clip(position, 0, history.shape[1] - 1)
    return ops.take(history, ops.reshape(position, (1,)), axis=1)[:, 0]


def _repeated_ngrams(history, index, size, vocab):
    """bool `(rows, vocab)`: ids that would repeat an n-gram of `history[:, :index + 1]`."""
    windows = history.shape[1] - size + 1  # window starts 0 .. windows - 1
    if windows <= 0:
        return ops.zeros((ops.shape(history)[0], vocab), dtype="bool")
    length = index + 1  # the decoder input so far: start token and `index` ids
    # A window starting at j is complete when j + size <= length, and matches when its
    # first size - 1 ids equal the last size - 1 ids of the input.
    matches = ops.arange(windows, dtype="int32")[None, :] <= length - size  # (1, windows)
    for m in range(size - 1):
        suffix = _at(history, length - size + 1 + m)  # (rows,)
        window = history[:, m : m + windows]  # (rows, windows)
        matches = ops.logical_and(matches, ops.equal(window, suffix[:, None]))
    return _mark(history[:, size - 1 : size - 1 + windows], matches, vocab)


def _bad_word(history, index, word, slots):
    """bool `(rows, vocab)`: the last id of `word` where the input ends with the rest."""
    prefix = len(word) - 1
    length = index + 1
    match = ops.greater_equal(length, prefix)  # scalar
    match = ops.logical_and(match, ops.ones_like(history[:, 0], dtype="bool"))  # (rows,)
    for m, token in enumerate(word[:-1]):
        match = ops.logical_and(match, ops.equal(_at(history, length - prefix + m), token))
    return ops.logical_and(match[:, None], ops.equal(slots, word[-1]))
