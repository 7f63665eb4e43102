"""Evaluates a captioning model on a dataset split: BLEU-4, CIDEr, exact match, localisation."""

import numpy as np

from keras_seqattn.evaluation.attention_localization import word_localization
from keras_seqattn.evaluation.caption_metrics import (
    caption_bleu,
    caption_cider,
    caption_exact_match,
)


def _text(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _references(example):
    """The reference captions of one TFDS example: `caption` or `captions/text`."""
    if "captions" in example:
        return [_text(t) for t in np.asarray(example["captions"]["text"]).tolist()]
    if "caption" in example:
        return [_text(example["caption"])]
    raise ValueError(
        f"Examples need a `caption` or a `captions` feature. Received: features={sorted(example)}"
    )


def evaluate_captioning(
    model, examples, batch_size=256, beam_width=1, length_penalty=0.0, limit=None
):
    """Captions every image of `examples` and scores the captions.

    Args:
        model: a `CaptioningModel` (`RNNCaptioner`, `AttentionCaptioner`).
        examples: `tf.data.Dataset` of TFDS feature dicts (as from
            `keras_seqattn.datasets.load(name, split)`) or a list of such dicts,
            with an `image` and a `caption` (`digit_scenes`) or `captions`
            (`coco_captions`) feature; with `bboxes` too (`digit_scenes`), the
            attention localisation of an attention model is scored.
        batch_size: int, images captioned per call.
        beam_width: int, 1 for greedy search.
        length_penalty: float, GNMT length penalty for beam search.
        limit: optional int, score only the first `limit` examples.

    Returns:
        dict with `exact_match` (share equal to a reference), `bleu` (BLEU-4,
        0-100), `cider` (CIDEr-D), `count`, `attention_localization` (mean share
        of a correctly named object's attention inside its box; `None` without
        boxes or attention) with `localized_words` (how many words it averages),
        and `examples`: `(first reference, prediction)` pairs in order.
    """
    if hasattr(examples, "as_numpy_iterator"):
        # `take` first: an iterator left half-read makes tf.data warn at exit.
        examples = (examples.take(limit) if limit is not None else examples).as_numpy_iterator()
    images, references, boxes = [], [], []
    for example in examples:
        images.append(model.prepare_images(np.asarray(example["image"])[None])[0])
        references.append(_references(example))
        boxes.append(np.asarray(example["bboxes"]) if "bboxes" in example else None)
        if limit is not None and len(images) >= limit:
            break
    if not images:
        raise ValueError("Expected at least one example to evaluate. Received: none")
    predictions, localization = [], []
    for start in range(0, len(images), batch_size):
        result = model.caption(
            np.stack(images[start : start + batch_size]),
            beam_width=beam_width,
            length_penalty=length_penalty,
            grid_attention=True,
        )
        predictions.extend(result.text)
        for i, (tokens, attention) in enumerate(zip(result.output_tokens, result.attention)):
            row = start + i
            if boxes[row] is not None and attention.ndim == 3:
                localization += word_localization(attention, tokens, references[row][0], boxes[row])
    return {
        "exact_match": caption_exact_match(predictions, references),
        "bleu": caption_bleu(predictions, references),
        "cider": caption_cider(predictions, references),
        "count": len(images),
        "attention_localization": float(np.mean(localization)) if localization else None,
        "localized_words": len(localization),
        "examples": [(refs[0], p) for refs, p in zip(references, predictions)],
    }
