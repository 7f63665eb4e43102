"""How much of an attention map falls inside a box: attention localisation."""

import numpy as np


def box_attention_mass(attention, box):
    """Share of an attention map's mass inside a box of the image.

    The grid `(H', W')` is laid over the image, cell `(r, c)` covering rows
    `[r / H', (r + 1) / H')` and columns `[c / W', (c + 1) / W')` of the
    normalised image; a cell's weight counts in proportion to the share of its
    area inside the box. This equals upsampling the map to pixels (each
    pixel taking its cell's weight over the cell's pixel count) and summing the
    pixels inside the box; it takes the grid as covering the image evenly,
    which is exact for the small CNN's stride-`2^k` grid and an approximation
    for a backbone's receptive fields.

    Args:
        attention: `(H', W')` non-negative weights.
        box: normalised `(ymin, xmin, ymax, xmax)`, as in TFDS `BBoxFeature`.

    Returns:
        float in `[0, 1]`: mass inside the box over total mass.
    """
    attention = np.asarray(attention, dtype="float64")
    if attention.ndim != 2:
        raise ValueError(
            f"`attention` must be a (rows, cols) grid. Received: attention.shape={attention.shape}"
        )
    ymin, xmin, ymax, xmax = (float(v) for v in box)
    if not (0 <= ymin <= ymax <= 1 and 0 <= xmin <= xmax <= 1):
        raise ValueError(
            f"`box` must be normalised (ymin, xmin, ymax, xmax). Received: box={box!r}"
        )
    rows, cols = attention.shape
    inside_rows = _overlap(np.arange(rows) / rows, np.arange(1, rows + 1) / rows, ymin, ymax)
    inside_cols = _overlap(np.arange(cols) / cols, np.arange(1, cols + 1) / cols, xmin, xmax)
    # Share of each cell's area inside the box: (rows, 1) * (1, cols).
    share = (inside_rows * rows)[:, None] * (inside_cols * cols)[None, :]
    total = attention.sum()
    return float((attention * share).sum() / total) if total > 0 else 0.0


def _overlap(starts, ends, low, high):
    return np.clip(np.minimum(ends, high) - np.maximum(starts, low), 0.0, None)


def word_localization(attention, output_tokens, reference, boxes):
    """Attention mass in the named object's box, for each correctly emitted word.

    For captions that name one boxed object per word, in order (as
    `digit_scenes`: `"seven three one"`, one box per digit): when output
    word `t` equals reference word `t`, it names object `t`, and its
    attention map should fall inside `boxes[t]`. Wrong words name no known
    object and are skipped.

    Args:
        attention: `(length, H', W')` one map per output token.
        output_tokens: the `length` output token strings (`[STOP]` included).
        reference: the reference caption, one word per box.
        boxes: `(num_words, 4)` normalised boxes in the caption's order.

    Returns:
        list of floats, one per correctly emitted word.
    """
    words = reference.split()
    boxes = np.asarray(boxes, dtype="float64").reshape(-1, 4)
    if len(words) != len(boxes):
        raise ValueError(
            "Localisation needs one box per reference word. Received: "
            f"{len(words)} words, {len(boxes)} boxes"
        )
    scores = []
    for t, token in enumerate(output_tokens[: len(words)]):
        if token == words[t] and t < len(attention):
            scores.append(box_attention_mass(attention[t], boxes[t]))
    return scores
