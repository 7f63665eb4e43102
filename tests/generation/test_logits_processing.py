"""`process_scores` against transformers' own processor list (`_get_logits_processor`).

The generation-config keys go through the MarianMT loader's mapping
(`marian_generation.generation_settings`), and transformers builds its processors
from the same keys, in its own order, on the same scores and decoder inputs
(start token first): raw logits as its greedy search, `log_softmax` as its beam search.
"""

import types

import numpy as np
import pytest
from keras import ops

from keras_seqattn.applications.marian_generation import generation_settings
from keras_seqattn.generation import _decoding
from keras_seqattn.generation.logits_processing import process_scores

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

VOCAB, ROWS, MAX_LENGTH = 12, 6, 8
STOP, START = 0, VOCAB - 1
TARGET = types.SimpleNamespace(stop_id=STOP, pad_id=START, start_id=START, vocabulary_size=VOCAB)

CASES = {
    # log_softmax again after the processors: it matters where ids were banned.
    "renormalize_logits": dict(renormalize_logits=True, bad_words_ids=[[2], [3]]),
    "repetition_penalty": dict(repetition_penalty=1.5),
    "repetition_penalty_below_1": dict(repetition_penalty=0.6),
    "no_repeat_ngram_size_1": dict(no_repeat_ngram_size=1),
    "no_repeat_ngram_size_2": dict(no_repeat_ngram_size=2),
    "no_repeat_ngram_size_3": dict(no_repeat_ngram_size=3),
    # [0] is eos, which transformers drops from the words; [11] is the start token.
    "bad_words_ids": dict(bad_words_ids=[[2], [0], [11, 3], [3, 4], [1, 2, 3]]),
    "min_length": dict(min_length=4),
    "min_new_tokens": dict(min_new_tokens=3),
    "forced_eos_token_id": dict(forced_eos_token_id=STOP),
    "together": dict(
        renormalize_logits=True,
        repetition_penalty=1.3,
        no_repeat_ngram_size=2,
        bad_words_ids=[[5], [3, 4]],
        min_length=3,
        forced_eos_token_id=STOP,
    ),
}


@pytest.fixture(scope="module")
def hf_model():
    config = transformers.MarianConfig(
        vocab_size=VOCAB, d_model=8, encoder_layers=1, decoder_layers=1,
        encoder_attention_heads=1, decoder_attention_heads=1, encoder_ffn_dim=8,
        decoder_ffn_dim=8, pad_token_id=START, decoder_start_token_id=START, eos_token_id=STOP,
    )  # fmt: skip
    return transformers.MarianMTModel(config).eval()


def _hf_processors(hf_model, keys):
    config = transformers.GenerationConfig(
        **keys, max_length=MAX_LENGTH + 1, eos_token_id=STOP, decoder_start_token_id=START
    )
    config._eos_token_tensor = torch.tensor([STOP])
    return hf_model._get_logits_processor(
        generation_config=config,
        input_ids_seq_length=1,
        encoder_input_ids=torch.ones((ROWS, 3), dtype=torch.long),
        device="cpu",
        model_kwargs={},
    )


def _as_hf(scores):
    """Ours with `NEG_INF` (finite, so that sums never give NaN) as transformers' -inf."""
    scores = np.asarray(scores, "float64")
    return np.where(scores <= _decoding.NEG_INF / 2, -np.inf, scores)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("search", ["greedy", "beam"])
def test_processors_equal_transformers(hf_model, name, search):
    keys = CASES[name]
    options, _ = generation_settings(keys, TARGET, 64, MAX_LENGTH)
    options = _decoding.check_options({k: v for k, v in options.items() if k != "finished_beams"})
    processors = _hf_processors(hf_model, keys)
    # What the key changes: transformers' result without it (the bans alone for renormalize).
    base = {"bad_words_ids": keys["bad_words_ids"]} if name == "renormalize_logits" else {}
    without = _hf_processors(hf_model, base)
    rng = np.random.default_rng(len(name))
    # Few distinct ids, so that n-grams, bad words and repeated ids occur.
    history = rng.integers(1, 5, (ROWS, MAX_LENGTH)).astype("int32")
    changed = False
    for index in range(MAX_LENGTH):
        logits = rng.normal(scale=3.0, size=(ROWS, VOCAB)).astype("float32")
        if search == "beam":  # transformers' beam search processes log-probabilities
            logits = np.asarray(torch.log_softmax(torch.tensor(logits), -1))
        input_ids = np.concatenate([np.full((ROWS, 1), START), history[:, :index]], axis=1)
        theirs = processors(torch.tensor(input_ids, dtype=torch.long), torch.tensor(logits))
        ours = process_scores(
            ops.convert_to_tensor(logits),
            ops.convert_to_tensor(history),
            ops.convert_to_tensor(index, dtype="int32"),
            start_id=START, stop_id=STOP, max_length=MAX_LENGTH, options=options,
        )  # fmt: skip
        ours, theirs = _as_hf(ops.convert_to_numpy(ours)), theirs.numpy().astype("float64")
        np.testing.assert_array_equal(np.isinf(ours), np.isinf(theirs), err_msg=f"{index=}")
        finite = np.isfinite(theirs)
        np.testing.assert_allclose(ours[finite], theirs[finite], rtol=1e-6, atol=1e-5)
        before = without(torch.tensor(input_ids, dtype=torch.long), torch.tensor(logits))
        changed = changed or not np.array_equal(before.numpy(), theirs.astype("float32"))
    assert changed, f"{name} changed no score: the comparison proves nothing"
