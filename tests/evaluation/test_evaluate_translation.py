import types

import pytest
import sacrebleu

from keras_seqattn.evaluation import (
    evaluate_translation,
    exact_match_by_length,
    quality_by_length,
)

pytestmark = pytest.mark.backend_independent(reason="metrics on strings; no Keras backend involved")

EXAMPLES = [
    ("one", "un", "un"),
    ("two three", "deux trois", "deux troi"),
    ("four five six seven", "quatre cinq six sept", "quatre cinq six sept"),
    ("a b c d e", "a b c d e", "a b c x e"),
    ("a b c d e f g h", "a b c d e f g h", "a  b c d e f g h"),
]


def test_quality_by_length_scores_each_bucket_with_sacrebleu():
    rows = quality_by_length(EXAMPLES, bucket_edges=(2, 5))
    assert [(r["lengths"], r["count"]) for r in rows] == [("1-2", 2), ("3-5", 2), ("6+", 1)]
    assert [r["exact_match"] for r in rows] == [0.5, 0.5, 1.0]
    buckets = [EXAMPLES[:2], EXAMPLES[2:4], EXAMPLES[4:]]
    for row, bucket in zip(rows, buckets):
        expected = sacrebleu.corpus_bleu([p for *_, p in bucket], [[r for _, r, _ in bucket]])
        assert row["bleu"] == pytest.approx(expected.score)


def test_empty_buckets_are_left_out_and_exact_match_by_length_agrees():
    rows = quality_by_length(EXAMPLES, bucket_edges=(1, 2, 3, 30))
    assert [r["lengths"] for r in rows] == ["1-1", "2-2", "4-30"]
    legacy = exact_match_by_length(EXAMPLES, bucket_edges=(1, 2, 3, 30))
    assert legacy == [
        {"bucket": r["lengths"], "count": r["count"], "exact_match": r["exact_match"]} for r in rows
    ]


def test_bucket_edges_must_increase():
    with pytest.raises(ValueError, match=r"increasing ints >= 1. Received: bucket_edges=\(5, 5\)"):
        quality_by_length(EXAMPLES, bucket_edges=(5, 5))


class _Recorder:
    """A translator that answers with its sources and records translate()'s arguments."""

    def __init__(self):
        self.calls = []

    def translate(self, texts, **arguments):
        self.calls.append(arguments)
        return types.SimpleNamespace(text=list(texts))


def test_search_settings_not_given_are_left_to_the_model():
    """A converted checkpoint's translate() defaults to its num_beams and length
    penalty: evaluating it without settings must score what translate() gives."""
    model, pairs = _Recorder(), [("one", "one"), ("two", "deux")]
    scores = evaluate_translation(model, pairs)
    assert model.calls == [{}] and scores["exact_match"] == 0.5
    evaluate_translation(model, pairs, beam_width=3, length_penalty=0.6)
    assert model.calls[-1] == {"beam_width": 3, "length_penalty": 0.6}
