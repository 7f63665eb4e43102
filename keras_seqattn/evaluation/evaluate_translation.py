"""Evaluates a translation model on a dataset of (source, target) pairs."""

import numpy as np

from keras_seqattn.evaluation.translation_metrics import corpus_bleu, exact_match


def _decode(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def evaluate_translation(
    model, pairs, batch_size=256, beam_width=1, length_penalty=0.0, limit=None
):
    """Translates every source of `pairs` and scores the outputs.

    Args:
        model: a `Seq2SeqModel` (any translation application).
        pairs: `tf.data.Dataset` of `(source, target)` strings, or a list of pairs.
        batch_size: int, sources translated per call.
        beam_width: int, 1 for greedy search.
        length_penalty: float, GNMT length penalty for beam search.
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
        result = model.translate(
            sources[start : start + batch_size],
            beam_width=beam_width,
            length_penalty=length_penalty,
        )
        predictions.extend(result.text)
    return {
        "exact_match": exact_match(predictions, references),
        "bleu": corpus_bleu(predictions, references),
        "count": len(sources),
        "examples": list(zip(sources, references, predictions)),
    }


def exact_match_by_length(examples, bucket_edges=(5, 10, 15, 20, 25)):
    """Exact match per source length bucket (length in whitespace words).

    Args:
        examples: `(source, reference, prediction)` triples, as returned by
            `evaluate_translation`.
        bucket_edges: increasing upper edges; a last open bucket takes the rest.

    Returns:
        list of dicts `{"bucket": "6-10", "count": n, "exact_match": x}`.
    """
    edges = list(bucket_edges) + [np.inf]
    rows, low = [], 1
    for high in edges:
        chosen = [(r, p) for s, r, p in examples if low <= len(s.split()) <= high]
        label = f"{low}-{int(high)}" if np.isfinite(high) else f"{low}+"
        if chosen:
            hits = [" ".join(r.split()) == " ".join(p.split()) for r, p in chosen]
            rows.append(
                {"bucket": label, "count": len(chosen), "exact_match": float(np.mean(hits))}
            )
        low = int(high) + 1 if np.isfinite(high) else low
    return rows
