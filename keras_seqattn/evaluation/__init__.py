"""Evaluation: exact match, BLEU (sacrebleu), per-length breakdowns."""

from keras_seqattn.evaluation.evaluate_translation import (
    evaluate_translation,
    exact_match_by_length,
)
from keras_seqattn.evaluation.translation_metrics import corpus_bleu, exact_match

__all__ = ["corpus_bleu", "evaluate_translation", "exact_match", "exact_match_by_length"]
