"""generate()'s options for Hugging Face's search, against a NumPy BeamSearchScorer."""

import numpy as np
import pytest

from keras_seqattn.generation import generate
from tests.generation import toy_model
from tests.generation.toy_model import PAD, START, STOP, ToyModel, random_inputs

VOCAB = 7
HF = dict(length_penalty_form="power", finished_beams="apart")


def _model(seed=0):
    rng = np.random.default_rng(seed)
    table = rng.normal(scale=2.0, size=(VOCAB, VOCAB))
    table[:, STOP] += 0.5
    return ToyModel(table, rng.normal(scale=2.0, size=(3, VOCAB)))


def _processed(log_probs, position, max_length, suppressed, force):
    log_probs = log_probs.copy()
    log_probs[list(suppressed)] = -1e9
    if force and position == max_length - 1:
        log_probs[:] = -1e9
        log_probs[STOP] = 0.0
    return log_probs


def hf_beam(model, inputs, row, max_length, k, alpha, early, suppressed=(), force=False):
    """BeamSearchScorer over Python lists: `k` running beams, finished hypotheses apart."""
    running = [((), 0.0)] + [((), -1e9)] * (k - 1)
    finished = []  # (normalized score, tokens)
    is_open = True
    for position in range(max_length):
        candidates = []
        for tokens, score in running:
            scores = _processed(
                toy_model.log_probs(model, inputs, row, list(tokens)),
                position, max_length, suppressed, force,
            )  # fmt: skip
            candidates += [(score + s, tokens + (t,)) for t, s in enumerate(scores)]
        candidates.sort(key=lambda c: -c[0])  # stable: the flat order breaks ties
        candidates = candidates[: 2 * k]
        running = []
        for rank, (score, tokens) in enumerate(candidates):
            ends = tokens[-1] == STOP or position + 1 == max_length
            if ends:
                if rank < k and is_open and not (early is True and len(finished) == k):
                    finished.append((score / (position + 1) ** alpha, tokens))
                    finished = sorted(finished, key=lambda f: -f[0])[:k]
            elif len(running) < k:
                running.append((tokens, score))
        while len(running) < k:
            running.append(((), -2e9))
        best_length = max_length if early == "never" and alpha > 0 else position + 1
        best = running[0][1] / best_length**alpha
        if len(finished) == k and best <= finished[-1][0]:
            is_open = False
        if not is_open or (early is True and len(finished) == k) or position + 1 == max_length:
            break
    return finished[0]


@pytest.mark.parametrize(
    "beam_width, alpha, early",
    [(3, 1.0, False), (2, 0.6, True), (3, 2.0, "never"), (4, 0.0, False)],
)
def test_apart_beam_search_equals_a_numpy_beam_search_scorer(beam_width, alpha, early):
    model, batch, max_length = _model(), 5, 7
    inputs = random_inputs(batch, VOCAB)
    output = generate(
        model, inputs, start_id=START, stop_id=STOP, max_length=max_length,
        beam_width=beam_width, length_penalty=alpha, early_stopping=early, **HF,
    )  # fmt: skip
    for row in range(batch):
        score, tokens = hf_beam(model, inputs, row, max_length, beam_width, alpha, early)
        length = len(tokens)
        np.testing.assert_array_equal(output.ids[row, :length], tokens)
        assert (np.asarray(output.ids[row, length:]) == PAD).all()
        assert int(output.lengths[row]) == length
        np.testing.assert_allclose(float(output.scores[row]), score, rtol=1e-4)


@pytest.mark.parametrize("beam_width", [1, 3])
def test_suppressed_ids_and_forced_stop(beam_width):
    model, batch, max_length = _model(1), 6, 5
    inputs = random_inputs(batch, VOCAB, seed=1)
    options = dict(suppressed_ids=(3, 4), force_stop_at_end=True)
    if beam_width > 1:
        options.update(HF)
    output = generate(
        model, inputs, start_id=START, stop_id=STOP, max_length=max_length,
        beam_width=beam_width, pad_id=6, **options,
    )  # fmt: skip
    ids = np.asarray(output.ids)
    assert not np.isin(ids, [3, 4]).any()
    for row, length in enumerate(np.asarray(output.lengths)):
        assert ids[row, length - 1] == STOP  # it stops, at the latest at the last position
        assert (ids[row, length:] == 6).all()
    if beam_width > 1:
        for row in range(batch):
            _, tokens = hf_beam(model, inputs, row, max_length, 3, 0.0, False, (3, 4), True)
            np.testing.assert_array_equal(ids[row, : len(tokens)], tokens)


def test_default_options_keep_the_lecture_search():
    model, inputs = _model(), random_inputs(4, VOCAB)
    settings = dict(start_id=START, stop_id=STOP, max_length=6, beam_width=3, length_penalty=0.6)
    plain = generate(model, inputs, **settings)
    explicit = generate(
        model, inputs, **settings, suppressed_ids=(), force_stop_at_end=False,
        length_penalty_form="gnmt", finished_beams="in_beam", early_stopping=False,
    )  # fmt: skip
    for a, b in zip(plain[:4], explicit[:4]):  # ids, lengths, scores, attention
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert plain.steps.keys() == explicit.steps.keys() == {"attention"}


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(finished_beam="apart"), r"Unknown generation options \['finished_beam'\]"),
        (dict(finished_beams="heap"), "finished_beams='heap'"),
        (dict(length_penalty_form="wu"), "length_penalty_form='wu'"),
        (dict(early_stopping="sometimes"), "early_stopping='sometimes'"),
        (dict(suppressed_ids=[1.5]), r"suppressed_ids=\[1.5\]"),
        (dict(force_stop_at_end=1), "force_stop_at_end=1"),
    ],
)
def test_bad_options_are_refused_by_name(options, message):
    model, inputs = _model(), random_inputs(2, VOCAB)
    with pytest.raises(ValueError, match=message):
        generate(model, inputs, start_id=START, stop_id=STOP, max_length=4, beam_width=2, **options)
