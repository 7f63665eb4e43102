"""`generate`: greedy or beam search, chosen by `beam_width`."""

from keras_seqattn.generation import _decoding
from keras_seqattn.generation.beam_search import beam_search
from keras_seqattn.generation.greedy_search import greedy_search


def generate(
    model,
    inputs,
    *,
    start_id,
    stop_id,
    max_length,
    beam_width=1,
    length_penalty=0.0,
    pad_id=0,
    **options,
):
    """Generates token ids, and the attention of every step, from a model.

    The one decoding entry point of the package. The model implements the seam
    every generative application shares:

    - `encode(inputs) -> (memory, state)`: two tuples of tensors, batch first
      (encoder states, image grid, cross-attention keys and values; RNN states,
      self-attention caches). Either may be empty.
    - `decode_step(token_ids, state, memory, index) -> (logits, state, outputs)`:
      `token_ids` int32 `(batch,)`, `index` an int32 scalar tensor (`0` for the
      step fed `[START]`); returns `(batch, vocab)` logits, the new state (same
      structure, shapes and dtypes) and this step's outputs: its attention
      `(batch, *attention_shape)` (a `(batch, 0)` tensor for a model without
      attention), or a dict of named per-step outputs, each `(batch, *shape)`
      (`{"attention": ..., "beta": ...}`), every one of which is buffered by
      name and returned in `steps`.

    `beam_width=1` runs `greedy_search`, a larger width runs `beam_search`; both
    loop in `ops.while_loop` over fixed-size buffers and use no op outside the
    TFLite builtins, so the same call exports to SavedModel and TFLite.

    Args:
        model: an object with the `encode` and `decode_step` methods above.
        inputs: what `model.encode` takes (tensor, tuple or dict; batch first).
        start_id: int, the `[START]` token fed at position 0.
        stop_id: int, the `[STOP]` token that ends a sequence.
        max_length: int >= 1, the number of positions in the output.
        beam_width: int >= 1, the number of beams; `1` is greedy search.
            Defaults to `1`.
        length_penalty: float >= 0, `alpha` in the length penalty
            `lp(length) = ((5 + length) / 6) ** alpha` that divides the final
            scores (it changes which beam wins only for `beam_width > 1`).
            Defaults to `0.0` (raw log-probabilities).
        pad_id: int written after `[STOP]`. Defaults to `0`.
        **options: what reproduces Hugging Face's `generate()` (for converted
            MarianMT models); each default keeps the search above.
            `suppressed_ids`: tuple of ids that are never generated
            (`bad_words_ids` of single tokens; Marian bans its pad/start
            token). Defaults to `()`.
            `force_stop_at_end`: bool, the last position can only be
            `stop_id` (`forced_eos_token_id`). Defaults to `False`.
            `length_penalty_form`: `"gnmt"` (`lp` above) or `"power"`
            (`lp(length) = length ** alpha`, Hugging Face's). Defaults to
            `"gnmt"`.
            `finished_beams`: `"in_beam"` (a finished beam keeps its slot, as
            above) or `"apart"` (Hugging Face's `BeamSearchScorer`: finished
            hypotheses leave the beam; see `apart_beam_search`). Defaults to
            `"in_beam"`.
            `early_stopping`: `False`, `True` or `"never"`, Hugging Face's
            stopping rule of `"apart"` beams. Defaults to `False`.
            The logits processors of Hugging Face's `generate()`, in its order
            (`logits_processing.process_scores`): `repetition_penalty` (float
            > 0, `1.0` none), `no_repeat_ngram_size` (int, `0` none),
            `bad_words` (tuple of id tuples of 2 or more ids: the last id is
            banned after the others), `min_new_tokens` (int: `stop_id` is
            banned before that position), `renormalize` (bool, `log_softmax`
            after the processors). Beam search processes `log_softmax`
            outputs, greedy search the logits, as Hugging Face's do.

    Returns:
        A `GenerationOutput` with `ids` `(batch, max_length)` int32 (the tokens
        after `[START]`, `[STOP]` included, `pad_id` after it), `lengths`
        `(batch,)` int32 (`[STOP]` counted), `scores` `(batch,)` float32 (the
        sum of log-probabilities divided by `lp(length)`), `attention`
        `(batch, max_length, *attention_shape)` float32 (zero after the end) and
        `steps`, a dict of every named per-step output `(batch, max_length,
        *shape)` float32 (`steps["attention"]` is `attention`).

    Example:

    ```python
    output = generate(
        model, source_ids, start_id=1, stop_id=2, max_length=20, beam_width=4,
        length_penalty=0.6,
    )
    output.ids  # (batch, 20): tokens, [STOP], then `pad_id`.
    output.attention  # (batch, 20, source_len) for RNN attention
    ```

    Reference:
        Wu et al. (2016), Google's Neural Machine Translation System: Bridging
        the Gap between Human and Machine Translation, section 7 (length
        penalty).
    """
    _decoding.validate_arguments(start_id, stop_id, max_length, beam_width, length_penalty, pad_id)
    options = _decoding.check_options(options)
    if beam_width == 1:
        options.pop("finished_beams")
        options.pop("early_stopping")
        return greedy_search(
            model,
            inputs,
            start_id=start_id,
            stop_id=stop_id,
            max_length=max_length,
            length_penalty=length_penalty,
            pad_id=pad_id,
            **options,
        )
    return beam_search(
        model,
        inputs,
        start_id=start_id,
        stop_id=stop_id,
        max_length=max_length,
        beam_width=beam_width,
        length_penalty=length_penalty,
        pad_id=pad_id,
        **options,
    )
