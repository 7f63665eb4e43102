"""A MarianMT checkpoint's `generation_config.json`, applied exactly or refused by name.

`load_marian` calls `generation_settings`. Each key of the file is one of:

- applied, as transformers' `generate()` applies it (its `_get_logits_processor`
  order, reproduced by `keras_seqattn.generation.logits_processing`):
  `bad_words_ids` (one-token words -> `suppressed_ids`, longer ones ->
  `bad_words`; a one-token `[eos]` is dropped, as `NoBadWordsLogitsProcessor`
  does), `forced_eos_token_id` -> `force_stop_at_end`, `repetition_penalty`,
  `no_repeat_ngram_size`, `min_length` / `min_new_tokens` -> `min_new_tokens`
  (transformers' `min_length` counts the decoder start token),
  `renormalize_logits` -> `renormalize`, `early_stopping`; and the defaults of
  `translate()` and the export: `num_beams` -> `beam_width`, `length_penalty`,
  `max_length` / `max_new_tokens` -> `max_length` (without the start token;
  transformers' default is 20 new tokens, capped by `max_position_embeddings`;
  ours is also capped by the decoder cache, `max_target_length`);
- checked: the special ids (`pad_token_id`, `eos_token_id`,
  `decoder_start_token_id`, `bos_token_id`) must be the tokenizer's, as the
  model already uses them;
- a verified no-op: bookkeeping (`_from_model_config`, `transformers_version`),
  output and cache switches, and the sampling parameters (`temperature`,
  `top_k`, `top_p`, ...) that `_get_logits_processor` only adds when
  `do_sample=True`, which is refused;
- accepted only at its default (`None` or the value that adds no processor),
  among them the keys of assisted and speculative decoding, DoLa, contrastive
  search and compilation, accepted only unset;
- anything else is refused with a `ValueError` naming the key and value.

Without `generation_config.json`, the same keys are read from `config.json`
(transformers' `GenerationConfig.from_model_config`), its model keys left out.
`GENERATION_KEYS` is every key of transformers' `GenerationConfig` (a test
compares them), so both files are read alike.
"""

import math
import numbers

from keras_seqattn.generation._decoding import is_int

# Keys whose value cannot change the ids or scores of greedy or beam search.
_NO_OPS = {
    "_from_model_config",
    "transformers_version",
    "use_cache",
    "cache_implementation",
    "cache_config",
    "output_attentions",
    "output_hidden_states",
    "output_scores",
    "output_logits",
    "return_dict_in_generate",
}
# Only read when do_sample=True (`_get_logits_processor`'s "warpers").
_SAMPLING = {"temperature", "top_k", "top_p", "min_p", "typical_p", "epsilon_cutoff"}
_SAMPLING |= {"eta_cutoff", "top_h"}
# Accepted at these values (and None, transformers' "unset").
_DEFAULT_ONLY = {
    "do_sample": (False,),
    "num_return_sequences": (1,),
    "num_beam_groups": (1,),
    "diversity_penalty": (0.0,),
    "encoder_repetition_penalty": (1.0,),
    "encoder_no_repeat_ngram_size": (0,),
    "remove_invalid_values": (False,),
    "guidance_scale": (1.0,),
    "forced_bos_token_id": (),
    "suppress_tokens": (),
    "begin_suppress_tokens": (),
    "sequence_bias": (),
    "exponential_decay_length_penalty": (),
    "max_time": (),
    "stop_strings": (),
    "constraints": (),
    "force_words_ids": (),
    "penalty_alpha": (),
    "watermarking_config": (),
    "token_healing": (False,),
}
# Assisted and speculative decoding, DoLa, contrastive search's low_memory,
# compilation and caches: other decoding modes or their settings, accepted unset.
_UNSET_ONLY = {
    "assistant_confidence_threshold",
    "assistant_early_exit",
    "assistant_ensemble_weight",
    "assistant_lookbehind",
    "compile_config",
    "continuous_batching_config",
    "disable_compile",
    "dola_layers",
    "is_assistant",
    "low_memory",
    "max_cache_len",
    "max_matching_ngram_size",
    "num_assistant_tokens",
    "num_assistant_tokens_schedule",
    "prefill_chunk_size",
    "prompt_lookup_num_tokens",
    "speculation_type",
    "target_lookbehind",
    "use_mtp",
}
_DEFAULT_ONLY.update(dict.fromkeys(_UNSET_ONLY, ()))
_SPECIAL_IDS = ("pad_token_id", "eos_token_id", "decoder_start_token_id", "bos_token_id")
_APPLIED = {
    "bad_words_ids",
    "forced_eos_token_id",
    "repetition_penalty",
    "no_repeat_ngram_size",
    "min_length",
    "min_new_tokens",
    "renormalize_logits",
    "early_stopping",
    "num_beams",
    "length_penalty",
    "max_length",
    "max_new_tokens",
}
GENERATION_KEYS = _NO_OPS | _SAMPLING | set(_DEFAULT_ONLY) | set(_SPECIAL_IDS) | _APPLIED


def checkpoint_generation_config(generation_file, config):
    """The generation settings `generate()` starts from: `generation_config.json`'s dict
    (`generation_file`, or `None` when absent), else `config.json`'s generation keys."""
    if generation_file is not None:
        return dict(generation_file)
    return {key: value for key, value in config.items() if key in GENERATION_KEYS}


def generation_settings(generation, target, position_limit, max_target_length):
    """`(generation_options, generation_defaults)` of a checkpoint's generation settings.

    Args:
        generation: dict, `checkpoint_generation_config`'s.
        target: the target `MarianTokenizer`.
        position_limit: int, `max_position_embeddings`.
        max_target_length: int, the model's decoder cache.

    Returns:
        `generate()` options (`keras_seqattn.generation.generate`), and
        `translate()`'s defaults `{"beam_width", "length_penalty", "max_length"}`.
    """
    _refuse_unknown(generation)
    _check_special_ids(generation, target)
    get = generation.get
    options = dict(length_penalty_form="power", finished_beams="apart")
    options.update(_bad_words(get("bad_words_ids"), target.stop_id, target.vocabulary_size))
    forced = get("forced_eos_token_id")
    if forced not in (None, target.stop_id, [target.stop_id]):
        _refuse("forced_eos_token_id", forced, f"the eos id {target.stop_id} or None")
    options["force_stop_at_end"] = forced is not None
    options["repetition_penalty"] = _repetition_penalty(get("repetition_penalty"))
    options["no_repeat_ngram_size"] = _count(get, "no_repeat_ngram_size", 0)
    if get("min_new_tokens") is not None:
        options["min_new_tokens"] = _count(get, "min_new_tokens", 0)
    else:  # transformers' min_length counts the decoder start token
        options["min_new_tokens"] = max(_count(get, "min_length", 0) - 1, 0)
    renormalize = get("renormalize_logits")
    if renormalize not in (None, True, False):
        _refuse("renormalize_logits", renormalize, "true, false or null")
    options["renormalize"] = bool(renormalize)
    early = get("early_stopping")
    if early not in (None, True, False, "never"):
        _refuse("early_stopping", early, 'true, false, "never" or null')
    options["early_stopping"] = early if early == "never" else bool(early)

    beams = _count(get, "num_beams", 1)
    if beams < 1:
        _refuse("num_beams", beams, "an int >= 1")
    length_penalty = _number(
        get, "length_penalty", 1.0, lambda v: 0 <= v < math.inf, "a finite number >= 0"
    )
    if get("max_new_tokens") is not None:
        max_length = _count(get, "max_new_tokens", 0)
        if max_length < 1:  # GenerationConfig.validate refuses it too
            _refuse("max_new_tokens", max_length, "an int >= 1")
    elif get("max_length") is not None:
        max_length = _count(get, "max_length", 0) - 1  # transformers counts the start token
        if max_length < 1:
            _refuse("max_length", get("max_length"), "at least 2 (1 new token)")
    else:  # transformers' default: 20 new tokens, within the positions
        max_length = min(20, position_limit - 1)
    defaults = dict(
        beam_width=beams,
        length_penalty=float(length_penalty),
        max_length=min(max_length, max_target_length),
    )
    return options, defaults


def _refuse_unknown(generation):
    for key, value in generation.items():
        if key in _NO_OPS or key in _SPECIAL_IDS or key in _APPLIED or value is None:
            continue
        if key in _SAMPLING and generation.get("do_sample") in (None, False):
            continue
        if key in _DEFAULT_ONLY and _same(value, _DEFAULT_ONLY[key]):
            continue
        raise ValueError(
            f"generation_config.json sets `{key}`, which TransformerSeq2Seq does not apply "
            "(only greedy and beam search with Hugging Face's processors are reproduced). "
            f"Received: {key}={value!r}"
        )


def _same(value, allowed):
    return any(value == a and type(value) is type(a) for a in allowed) or (
        isinstance(value, numbers.Real) and not isinstance(value, bool) and value in allowed
    )


def _check_special_ids(generation, target):
    wanted = dict(
        pad_token_id=target.pad_id,
        eos_token_id=target.stop_id,
        decoder_start_token_id=target.start_id,
        bos_token_id=None,  # only a fallback for a missing decoder_start_token_id
    )
    for key, value in wanted.items():
        given = generation.get(key)
        if isinstance(given, list) and len(given) == 1:
            given = given[0]
        if given is None or value is None or given == value:
            continue
        _refuse(key, generation[key], f"the tokenizer's id {value}")
    if generation.get("decoder_start_token_id") is None:
        bos = generation.get("bos_token_id")
        if bos is not None and bos != target.start_id:
            _refuse("bos_token_id", bos, f"the decoder start {target.start_id}, without one")


def _bad_words(words, stop_id, vocabulary_size):
    if words is None:
        return dict(suppressed_ids=(), bad_words=())
    # NoBadWordsLogitsProcessor refuses an empty list and ids < 0, and its
    # SequenceBiasLogitsProcessor ids >= the vocabulary size.
    if (
        not isinstance(words, list)
        or not words
        or not all(
            isinstance(w, list) and w and all(is_int(i) and 0 <= i < vocabulary_size for i in w)
            for w in words
        )
    ):
        _refuse(
            "bad_words_ids",
            words,
            f"a non-empty list of non-empty lists of token ids in [0, {vocabulary_size})",
        )
    # NoBadWordsLogitsProcessor drops a one-token [eos] word.
    single = tuple(w[0] for w in words if len(w) == 1 and w[0] != stop_id)
    longer = tuple(tuple(w) for w in words if len(w) > 1)
    return dict(suppressed_ids=single, bad_words=longer)


def _count(get, key, default):
    value = get(key)
    if value is None:
        return default
    if not is_int(value) or value < 0:
        _refuse(key, value, "an int >= 0")
    return int(value)


def _number(get, key, default, valid, expected):
    value = get(key)
    if value is None:
        return default
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not valid(value):
        _refuse(key, value, expected)
    return value


def _repetition_penalty(value):
    """RepetitionPenaltyLogitsProcessor's: a float > 0 (a JSON `2` is an int, which it
    refuses), added only when it is not 1, so an int 1 adds nothing and passes."""
    if value is None or (is_int(value) and value == 1):
        return 1.0
    if not isinstance(value, float) or not value > 0:
        _refuse("repetition_penalty", value, "a float > 0 (a JSON number with a point: 2.0)")
    return value


def _refuse(key, value, expected):
    raise ValueError(
        f"generation_config.json: `{key}` must be {expected}. Received: {key}={value!r}"
    )
