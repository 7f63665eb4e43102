"""A MarianMT checkpoint's generation config: applied as transformers' `generate()`, or refused.

The tiny trained directory and transformers' model of it are the session fixtures
of conftest.py. Each case must change transformers' own output (ids or scores),
so that agreeing with it says something.
"""

import json
import shutil
import warnings

import keras
import numpy as np
import pytest

from keras_seqattn.applications import TransformerSeq2Seq
from keras_seqattn.applications.marian_generation import (
    GENERATION_KEYS,
    checkpoint_generation_config,
    generation_settings,
)
from tests.applications.test_marian_checkpoint import TEXTS

torch = pytest.importorskip("torch")

MAX_LENGTH = 12  # new tokens; transformers' max_length counts the decoder start too


def _hf(reference, texts=TEXTS, **keys):
    tokenizer, hf_model = reference
    batch = tokenizer(texts, return_tensors="pt", padding=True)
    with torch.no_grad():
        out = hf_model.generate(**batch, output_scores=True, return_dict_in_generate=True, **keys)
    ids = out.sequences.numpy()[:, 1:]
    scores = out.sequences_scores.numpy() if "sequences_scores" in out else None
    return ids, scores, tokenizer.batch_decode(out.sequences, skip_special_tokens=True)


def _ours(model, marian_dir, **keys):
    generation = json.loads((marian_dir / "generation_config.json").read_text())
    target = model.target_tokenizer
    options, defaults = generation_settings({**generation, **keys}, target, 64, 32)
    if defaults["beam_width"] == 1:
        options = {
            k: v for k, v in options.items() if k not in ("finished_beams", "early_stopping")
        }
    output = model.generate_ids(
        model.tokenize_sources(TEXTS),
        defaults["max_length"],
        start_id=target.start_id,
        stop_id=target.stop_id,
        beam_width=defaults["beam_width"],
        length_penalty=defaults["length_penalty"],
        pad_id=target.pad_id,
        **options,
    )
    return np.asarray(output.ids), np.asarray(output.scores)


def _assert_same_ids(ours, theirs, pad_id):
    np.testing.assert_array_equal(ours[:, : theirs.shape[1]], theirs)
    assert (ours[:, theirs.shape[1] :] == pad_id).all()


# Beam search for each key alone (the repetition penalty, below 1, favours the
# repeats that no_repeat_ngram_size then bans; each key alone against transformers'
# processors is tests/generation/test_logits_processing.py); greedy search (which
# processes the logits, not log-probabilities: only the repetition penalty sees a
# difference) with all together. One compiled search per case.
CASES = {
    "renormalize_logits": dict(renormalize_logits=True),
    # The trained model repeats no bigram until a penalty below 1 favours repeats.
    "no_repeat_ngram_size": dict(no_repeat_ngram_size=2, repetition_penalty=0.5),
    "min_length": dict(min_length=9),
    "bad_words_ids": None,  # multi-token words from transformers' own output, below
    "greedy_together": dict(
        num_beams=1,
        repetition_penalty=0.6,
        no_repeat_ngram_size=3,
        min_new_tokens=6,
        renormalize_logits=True,
    ),  # fmt: skip
}


@pytest.mark.parametrize("name", list(CASES))
def test_generation_config_key_equals_generate(marian_model, marian_reference, marian_dir, name):
    base = dict(max_length=MAX_LENGTH + 1)
    if name == "no_repeat_ngram_size":
        base["repetition_penalty"] = 0.5
    ids, scores, _ = _hf(marian_reference, **base)
    keys = CASES[name]
    if keys is None:  # a bigram and a trigram that the search would otherwise produce
        keys = dict(bad_words_ids=[[99], [int(ids[0, 0]), int(ids[0, 1])], ids[1, :3].tolist()])
    keys = {**base, **keys}
    theirs, their_scores, _ = _hf(marian_reference, **keys)
    if name == "greedy_together":
        ids, _, _ = _hf(marian_reference, **base, num_beams=1)
    changed = theirs.shape != ids.shape or (theirs != ids).any()
    if their_scores is not None:
        changed = changed or not np.allclose(their_scores, scores, atol=1e-5)
    assert changed, f"{keys} does not change generate(): the comparison proves nothing"
    ours, our_scores = _ours(marian_model, marian_dir, **keys)
    _assert_same_ids(ours, theirs, marian_model.target_tokenizer.pad_id)
    if their_scores is not None:
        np.testing.assert_allclose(our_scores, their_scores, atol=2e-5, rtol=0)


def test_directory_generation_config_sets_translate_defaults(marian_dir, tmp_path):
    # Several keys together in the file, the lengths left to the checkpoint
    # (max_position_embeddings=64 < 512): translate() with no arguments, after a
    # .keras round trip too, gives what generate() gives by default.
    import transformers

    copy = tmp_path / "edited"
    shutil.copytree(marian_dir, copy)
    generation = json.loads((copy / "generation_config.json").read_text())
    generation.update(
        num_beams=3, max_length=14, length_penalty=0.7, early_stopping=True,
        renormalize_logits=True, no_repeat_ngram_size=3, repetition_penalty=1.2, min_length=3,
        temperature=0.5, top_k=10,  # sampling only: verified no-ops of beam search
    )  # fmt: skip
    (copy / "generation_config.json").write_text(json.dumps(generation))
    model = TransformerSeq2Seq.from_pretrained(copy)
    assert (model.max_source_length, model.max_target_length) == (64, 64)
    assert model.generation_defaults == dict(beam_width=3, length_penalty=0.7, max_length=13)
    with warnings.catch_warnings():  # "Recommended: pip install sacremoses." (unused here)
        warnings.simplefilter("ignore", UserWarning)
        tokenizer = transformers.MarianTokenizer.from_pretrained(copy)
    hf_model = transformers.MarianMTModel.from_pretrained(copy).eval()
    theirs, _, texts = _hf((tokenizer, hf_model))
    result = model.translate(TEXTS)
    _assert_same_ids(result.ids, theirs, model.target_tokenizer.pad_id)
    assert result.text == texts
    model.save(tmp_path / "marian.keras")
    assert keras.saving.load_model(tmp_path / "marian.keras").translate(TEXTS).text == texts


@pytest.mark.parametrize(
    "keys, message",
    [
        (dict(do_sample=True), "do_sample=True"),
        (dict(num_return_sequences=2), "num_return_sequences=2"),
        (dict(suppress_tokens=[5]), r"suppress_tokens=\[5\]"),
        (dict(forced_bos_token_id=3), "forced_bos_token_id=3"),
        (dict(sequence_bias=[[[5], -1.0]]), "sequence_bias="),
        (dict(encoder_no_repeat_ngram_size=2), "encoder_no_repeat_ngram_size=2"),
        (dict(a_future_key=1), "a_future_key=1"),
        (dict(length_penalty=-1.0), "length_penalty=-1.0"),
        (dict(repetition_penalty=0), "repetition_penalty=0"),
        (dict(decoder_start_token_id=0), "decoder_start_token_id=0"),
        (dict(forced_eos_token_id=5), "forced_eos_token_id=5"),
        (dict(bad_words_ids=[5]), r"bad_words_ids=\[5\]"),
        (dict(renormalize_logits="yes"), "renormalize_logits='yes'"),
        # JSON's Infinity and NaN parse; the search refuses them, so the load does.
        (dict(length_penalty=float("inf")), "finite number >= 0. Received: length_penalty=inf"),
        (dict(length_penalty=float("nan")), "length_penalty=nan"),
        (
            dict(max_new_tokens=0),
            "`max_new_tokens` must be an int >= 1. Received: max_new_tokens=0",
        ),
        (dict(max_length=1), "`max_length` must be at least 2"),
        # What transformers' generate() refuses, refused here too rather than ignored.
        (dict(bad_words_ids=[]), r"`bad_words_ids` must be a non-empty list.*=\[\]$"),
        (dict(bad_words_ids=[[5], [10**6]]), r"in \[0, \d+\)\. Received: .*\[1000000\]\]$"),
        (dict(bad_words_ids=[[5, -1]]), r"bad_words_ids=\[\[5, -1\]\]$"),
        (dict(repetition_penalty=2), "a float > 0.*Received: repetition_penalty=2$"),
        (dict(repetition_penalty=float("nan")), "repetition_penalty=nan"),
        # Other decoding modes, accepted only unset.
        (dict(dola_layers="high"), "dola_layers='high'"),
        (dict(prompt_lookup_num_tokens=3), "prompt_lookup_num_tokens=3"),
        (dict(low_memory=True), "low_memory=True"),
    ],
)
def test_generation_config_keys_not_applied_are_refused_by_name(marian_model, keys, message):
    with pytest.raises(ValueError, match=message):
        generation_settings(keys, marian_model.target_tokenizer, 64, 32)


def test_generation_keys_are_transformers_generation_config_keys():
    # A key transformers adds must be classified (applied, checked, no-op or refused
    # unless unset) before both files are read alike.
    import transformers

    assert set(transformers.GenerationConfig().to_dict()) == GENERATION_KEYS


def test_config_json_fallback_refuses_as_generation_config_json(marian_model):
    # Without generation_config.json, config.json's generation keys are read alike.
    generation = checkpoint_generation_config(None, {"d_model": 16, "dola_layers": "low"})
    assert generation == {"dola_layers": "low"}
    with pytest.raises(ValueError, match="dola_layers='low'"):
        generation_settings(generation, marian_model.target_tokenizer, 64, 32)


def test_values_generate_accepts_are_accepted(marian_model):
    # An int 1 adds no RepetitionPenaltyLogitsProcessor, so transformers takes it.
    options, _ = generation_settings(
        dict(repetition_penalty=1, dola_layers=None), marian_model.target_tokenizer, 64, 32
    )
    assert options["repetition_penalty"] == 1.0


def test_export_searches_as_translate_by_default(marian_dir, tmp_path):
    # export_model's beam_width and length_penalty default to the model's
    # generation_defaults, so its `beam` signature is what translate() gives.
    from keras_seqattn.applications._generation_arguments import resolve
    from keras_seqattn.export.export_model import search_settings

    copy = tmp_path / "edited"
    shutil.copytree(marian_dir, copy)
    generation = json.loads((copy / "generation_config.json").read_text())
    generation.update(num_beams=3, length_penalty=0.7)
    (copy / "generation_config.json").write_text(json.dumps(generation))
    model = TransformerSeq2Seq.from_pretrained(copy, max_source_length=16, max_target_length=16)
    _, beam_width, length_penalty = resolve(model.generation_defaults, None, None, None)
    assert search_settings(model) == dict(beam_width=beam_width, length_penalty=length_penalty)
    assert search_settings(model) == dict(beam_width=3, length_penalty=0.7)
    assert search_settings(model, 1, 0.0) == dict(beam_width=1, length_penalty=0.0)


def test_refusal_at_load_time(marian_dir, tmp_path):
    copy = tmp_path / "edited"
    shutil.copytree(marian_dir, copy)
    generation = json.loads((copy / "generation_config.json").read_text())
    (copy / "generation_config.json").write_text(
        json.dumps({**generation, "top_k": 5, "do_sample": True})
    )
    with pytest.raises(ValueError, match="generation_config.json sets `"):
        TransformerSeq2Seq.from_pretrained(copy)


@pytest.mark.parametrize("name", ["config.json", "vocab.json", "generation_config.json"])
def test_invalid_json_names_the_file(marian_dir, tmp_path, name):
    copy = tmp_path / "edited"
    shutil.copytree(marian_dir, copy)
    (copy / name).write_text('{"d_model": 16,')
    with pytest.raises(ValueError, match=f"{name} is not valid JSON. Received: .* at line 1"):
        TransformerSeq2Seq.from_pretrained(copy)


def test_vocabulary_that_is_not_an_object_is_refused(marian_dir, tmp_path):
    copy = tmp_path / "edited"
    shutil.copytree(marian_dir, copy)
    (copy / "vocab.json").write_text("[]")
    with pytest.raises(
        ValueError, match="vocab.json must hold a JSON object. Received: a JSON list"
    ):
        TransformerSeq2Seq.from_pretrained(copy)
