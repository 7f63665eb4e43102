"""How much of each output token's attention falls on the source item it translates."""

import numpy as np

_WORD_MARKS = "\u2581 "  # SentencePiece's word-start mark, and spaces.


def _item_of_each_token(tokens, separator):
    """Per token: its item's index, or -1 for separators and `[SPECIAL]` tokens."""
    items, current = [], 0
    for token in tokens:
        text = token.strip(_WORD_MARKS)
        if text == separator:
            items.append(-1)
            current += 1
        elif text.startswith("[") and text.endswith("]"):
            items.append(-1)
        else:
            items.append(current)
    return np.asarray(items, dtype="int64")


def item_alignment(attention, input_tokens, output_tokens, separator=",", band=1):
    """Attention on the item being translated, for an item-by-item translation.

    In a list translated item by item (`number_lists`: `"forty two , seven"` ->
    `"quarante deux , sept"`), output token `t` of item `k` (the count of
    separators before it) translates source item `k`. A near-diagonal, monotone
    alignment puts its weight on that item's source tokens: Bahdanau et al.
    (2015, Fig. 3) show it for sentences. Separators and `[SPECIAL]` tokens
    (such as `[STOP]`) are not scored, on either side.

    Args:
        attention: `(output_len, input_len)` weights, one row per output token.
        input_tokens: the `input_len` source token strings.
        output_tokens: the `output_len` output token strings.
        separator: the token between items. Defaults to `","`.
        band: int >= 0, source tokens either side of the item that still count
            (an RNN encoder's state `h_i` also carries its neighbours).

    Returns:
        dict: `item_mass`, the mean share of each scored output token's weight
        that lies on its item's source tokens (band included), in `[0, 1]`;
        `monotone`, the share of consecutive scored output tokens whose most
        attended source position does not move left; and `tokens`, the
        number of scored output tokens (the means are `nan` when it is 0).

    Example:

    >>> attention = np.eye(3)
    >>> item_alignment(attention, ["two", ",", "six"], ["deux", ",", "six"])["item_mass"]
    1.0
    """
    attention = np.asarray(attention, dtype="float64")
    if attention.shape != (len(output_tokens), len(input_tokens)):
        raise ValueError(
            "`attention` must be (len(output_tokens), len(input_tokens)) = "
            f"({len(output_tokens)}, {len(input_tokens)}). "
            f"Received: attention.shape={attention.shape}"
        )
    if not isinstance(band, int) or band < 0:
        raise ValueError(f"`band` must be an int >= 0. Received: band={band!r}")
    source_items = _item_of_each_token(input_tokens, separator)
    target_items = _item_of_each_token(output_tokens, separator)
    scored = np.flatnonzero(target_items >= 0)
    if not len(scored):
        return {"item_mass": float("nan"), "monotone": float("nan"), "tokens": 0}
    positions = np.arange(len(input_tokens))
    masses = []
    for t in scored:
        span = positions[source_items == target_items[t]]
        if not len(span):  # An item the source does not have.
            masses.append(0.0)
            continue
        inside = (positions >= span.min() - band) & (positions <= span.max() + band)
        total = attention[t].sum()
        masses.append(float(attention[t, inside].sum() / total) if total > 0 else 0.0)
    peaks = np.argmax(attention[scored], axis=1)
    steps = np.diff(peaks)
    return {
        "item_mass": float(np.mean(masses)),
        "monotone": float(np.mean(steps >= 0)) if len(steps) else 1.0,
        "tokens": int(len(scored)),
    }
