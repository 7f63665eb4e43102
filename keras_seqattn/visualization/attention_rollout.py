"""Where a ViT's class token looks: per-layer attention and attention rollout."""

import numpy as np


def _check_scores(scores):
    scores = np.asarray(scores, dtype="float64")
    if scores.ndim == 4:
        scores = scores[np.newaxis]  # (1, layers, heads, T, T)
    if scores.ndim != 5 or scores.shape[-1] != scores.shape[-2]:
        raise ValueError(
            "`scores` must have shape (batch, layers, heads, T, T) or (layers, heads, "
            f"T, T), as `VisionTransformer.attention_maps()`. Received: scores.shape="
            f"{np.shape(scores)}"
        )
    return scores


def attention_rollout(scores, add_residual=True):
    """Attention rollout of Abnar & Zuidema (2020): attention through all layers.

    Raw attention in a deep layer mixes tokens that earlier layers already
    mixed. Rollout follows the flow from the input tokens:

    1. Average each layer's heads: `A_l`, `(T, T)`.
    2. Account for the residual connection: `A_l = (A_l + I)`, rows renormalised
       to sum to 1 (with `add_residual`).
    3. Multiply through the layers: `R = A_L ... A_2 A_1`.

    Row 0 of `R`, without its first entry, is the class token's attention over
    the patches (`R[0, 1:]`, reshape it to the patch grid to plot).

    Args:
        scores: `(batch, layers, heads, T, T)` or `(layers, heads, T, T)`
            attention weights, rows summing to 1.
        add_residual: bool, add the identity before multiplying. Defaults to
            `True`.

    Returns:
        `(batch, T, T)` rollout matrices (`(T, T)` for unbatched `scores`),
        rows summing to 1.

    Example:

    >>> scores = np.full((2, 3, 5, 5), 0.2)  # 2 layers, 3 heads, 5 tokens
    >>> attention_rollout(scores).shape
    (5, 5)

    Reference:
        Abnar & Zuidema (2020), Quantifying Attention Flow in Transformers,
        section 3.
    """
    batched = np.ndim(scores) == 5
    scores = _check_scores(scores)
    layers = scores.mean(axis=2)  # (B, L, T, T)
    if add_residual:
        layers = layers + np.eye(layers.shape[-1])
        layers = layers / layers.sum(axis=-1, keepdims=True)
    rollout = layers[:, 0]
    for i in range(1, layers.shape[1]):
        rollout = layers[:, i] @ rollout  # (B, T, T)
    return rollout if batched else rollout[0]


def class_token_attention(scores):
    """Each layer's head-averaged attention from the class token to the patches.

    Args:
        scores: `(batch, layers, heads, 1 + N, 1 + N)` or unbatched, with the
            class token first.

    Returns:
        `(batch, layers, N)` (or `(layers, N)`): row 0 of every layer's
        attention, heads averaged, the class token's own column dropped.
    """
    batched = np.ndim(scores) == 5
    attention = _check_scores(scores).mean(axis=2)[:, :, 0, 1:]  # (B, L, N)
    return attention if batched else attention[0]
