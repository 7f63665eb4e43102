"""Exact match and corpus BLEU for generated text (BLEU by sacrebleu)."""

import numpy as np


def _normalize(text):
    return " ".join(text.split())


def exact_match(predictions, references):
    """Share of predictions equal to their reference, whitespace-normalised.

    Args:
        predictions: list of strings.
        references: list of strings, as long as `predictions`.

    Returns:
        float in [0, 1].
    """
    _check_lengths(predictions, references)
    hits = [_normalize(p) == _normalize(r) for p, r in zip(predictions, references)]
    return float(np.mean(hits))


def corpus_bleu(predictions, references):
    """Corpus BLEU (0-100) of `predictions` against one reference each.

    Uses sacrebleu's standard computation (13a tokenisation, BLEU-4), so scores
    compare with published ones; we do not reimplement BLEU.
    """
    import sacrebleu

    _check_lengths(predictions, references)
    return float(sacrebleu.corpus_bleu(list(predictions), [list(references)]).score)


def _check_lengths(predictions, references):
    if len(predictions) != len(references):
        raise ValueError(
            "Expected one reference per prediction. Received: "
            f"len(predictions)={len(predictions)}, len(references)={len(references)}"
        )
    if not len(predictions):
        raise ValueError("Expected at least one prediction. Received: an empty list")
