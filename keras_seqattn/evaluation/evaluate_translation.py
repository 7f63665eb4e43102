"""Evaluates a translation model on a dataset of (source, target) pairs."""

import numpy as np

from keras_seqattn.evaluation.translation_metrics import corpus_bleu, exact_match


def _decode(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def evaluate_translation(
    model, pairs, batch_size=256, beam_width=None, length_penalty=None, limit=None
):
    """Translates every source of `pairs` and scores the outputs.

    Args:
        model: a `Seq2SeqModel` (any translation application).
        pairs: `tf.data.Dataset` of `(source, target)` strings, or a list of pairs.
        batch_size: int, sources translated per call.
        beam_width: int, 1 for greedy search. Defaults to `None`: the model's
            `translate()` default (greedy; a converted checkpoint's `num_beams`).
        length_penalty: float, length penalty for beam search. Defaults to
            `None`: the model's `translate()` default.
        limit: optional int, score only the first `limit` pairs.

    Returns:
        dict with `exact_match`, `bleu`, `count`, and `examples`: a list of
        `(source, reference, prediction)` triples, in the dataset's order.
    """
    if hasattr(pairs, "as_numpy_iterator"):
        # `take` first: an iterator left half-read makes tf.data warn at exit.
        pairs = (pairs.take(limit) if limit is not None else pairs).as_numpy_iterator()
    sources, references = [], []
    for source, target in pairs:
        sources.append(_decode(source))
        references.append(_decode(target))
        if limit is not None and len(sources) >= limit:
            break
    predictions = []
    for start in range(0, len(sources), batch_size):
        # Only what was given: a converted checkpoint's defaults hold otherwise.
        given = dict(beam_width=beam_width, length_penalty=length_penalty)
        given = {key: value for key, value in given.items() if value is not None}
        result = model.translate(sources[start : start + batch_size], **given)
        predictions.extend(result.text)
    return {
        "exact_match": exact_match(predictions, references),
        "bleu": corpus_bleu(predictions, references),
        "count": len(sources),
        "examples": list(zip(sources, references, predictions)),
    }


def _length_buckets(examples, bucket_edges):
    """`(label, [(reference, prediction), ...])` per non-empty source length bucket."""
    edges = list(bucket_edges) + [np.inf]
    if any(not low < high for low, high in zip([0, *edges], edges)):
        raise ValueError(
            f"`bucket_edges` must be increasing ints >= 1. Received: bucket_edges={bucket_edges!r}"
        )
    low = 1
    for high in edges:
        chosen = [(r, p) for s, r, p in examples if low <= len(s.split()) <= high]
        label = f"{low}-{int(high)}" if np.isfinite(high) else f"{low}+"
        if chosen:
            yield label, chosen
        low = int(high) + 1 if np.isfinite(high) else low


def exact_match_by_length(examples, bucket_edges=(5, 10, 15, 20, 25)):
    """Exact match per source length bucket (length in whitespace words).

    Args:
        examples: `(source, reference, prediction)` triples, as returned by
            `evaluate_translation`.
        bucket_edges: increasing upper edges; a last open bucket takes the rest.

    Returns:
        list of dicts `{"bucket": "6-10", "count": n, "exact_match": x}`.
    """
    return [
        {"bucket": row["lengths"], "count": row["count"], "exact_match": row["exact_match"]}
        for row in quality_by_length(examples, bucket_edges, bleu=False)
    ]


def quality_by_length(examples, bucket_edges=(10, 20, 30, 40, 50, 60, 70, 80, 90), bleu=True):
    """Exact match and corpus BLEU per source length bucket: Bahdanau et al.'s Fig. 2.

    Args:
        examples: `(source, reference, prediction)` triples, as returned by
            `evaluate_translation`; a source's length is its whitespace words.
        bucket_edges: increasing upper edges; a last open bucket takes the rest.
            Defaults to ten-word buckets up to 90, then `"91+"`.
        bleu: bool, also score each bucket's corpus BLEU (sacrebleu).

    Returns:
        list of dicts `{"lengths": "11-20", "count": n, "exact_match": x,
        "bleu": b}` in order of length (`bleu` in 0-100), for non-empty buckets.

    Example:

    >>> pair = ("one two three four", "un deux trois quatre")
    >>> (row,) = quality_by_length([(*pair, "un deux trois quatre")], bucket_edges=(5,))
    >>> row["lengths"], row["count"], row["exact_match"], round(row["bleu"])
    ('1-5', 1, 1.0, 100)
    """
    rows = []
    for label, chosen in _length_buckets(examples, bucket_edges):
        references, predictions = [r for r, _ in chosen], [p for _, p in chosen]
        row = {
            "lengths": label,
            "count": len(chosen),
            "exact_match": exact_match(predictions, references),
        }
        if bleu:
            row["bleu"] = corpus_bleu(predictions, references)
        rows.append(row)
    return rows
