"""Caption metrics against several references: BLEU-4 (sacrebleu) and CIDEr (pycocoevalcap)."""

import re

import numpy as np


def caption_tokens(text):
    """Lowercased words without punctuation, joined by spaces.

    The offline stand-in for the COCO evaluation's PTB tokenizer (which runs
    Stanford CoreNLP in Java): `"A dog, running."` -> `"a dog running"`.
    """
    return " ".join(re.findall(r"[\w']+", text.lower()))


def caption_bleu(predictions, references):
    """Corpus BLEU-4 (0-100) of `predictions` against one or more references each.

    sacrebleu's standard computation (13a tokenisation, uniform 1-4-gram
    weights, brevity penalty against the closest reference); captions with
    fewer references than others are padded with `None`, which sacrebleu
    skips. We do not reimplement BLEU.

    Args:
        predictions: list of strings.
        references: list, per prediction, of a reference string or a list of
            them.
    """
    import sacrebleu

    references = _reference_lists(predictions, references)
    most = max(len(r) for r in references)
    streams = [[r[k] if k < len(r) else None for r in references] for k in range(most)]
    return float(sacrebleu.corpus_bleu(list(predictions), streams).score)


def caption_cider(predictions, references):
    """CIDEr-D of `predictions` (pycocoevalcap's implementation, COCO's scale ~0-10).

    Both sides are pre-tokenised with `caption_tokens()`; the document
    frequencies come from the references given, as in the COCO evaluation.

    Args:
        predictions: list of strings.
        references: list, per prediction, of a reference string or a list of
            them.
    """
    from pycocoevalcap.cider.cider import Cider

    references = _reference_lists(predictions, references)
    gts = {i: [caption_tokens(r) for r in refs] for i, refs in enumerate(references)}
    res = {i: [caption_tokens(p)] for i, p in enumerate(predictions)}
    score, _ = Cider().compute_score(gts, res)
    return float(score)


def caption_exact_match(predictions, references):
    """Share of predictions equal to one of their references (after `caption_tokens`)."""
    references = _reference_lists(predictions, references)
    hits = [
        caption_tokens(p) in {caption_tokens(r) for r in refs}
        for p, refs in zip(predictions, references)
    ]
    return float(np.mean(hits))


def _reference_lists(predictions, references):
    if len(predictions) != len(references):
        raise ValueError(
            "Expected references for every prediction. Received: "
            f"len(predictions)={len(predictions)}, len(references)={len(references)}"
        )
    if not len(predictions):
        raise ValueError("Expected at least one prediction. Received: an empty list")
    lists = [[r] if isinstance(r, str) else list(r) for r in references]
    if any(not refs for refs in lists):
        raise ValueError("Every prediction needs at least one reference. Received: an empty list")
    return lists
