"""A ViT's attention maps drawn over the image it looked at."""

import numpy as np
from matplotlib.figure import Figure

from keras_seqattn.visualization._overlay import draw_overlays, grid_shape_of
from keras_seqattn.visualization.attention_rollout import attention_rollout, class_token_attention


def plot_image_attention(image, scores, grid_size=None, layers=None, title=None, path=None):
    """Draws the image, its attention rollout, and per-layer class-token attention.

    Args:
        image: `(height, width)` or `(height, width, channels)` image, pixels in
            `[0, 255]` or `[0, 1]`.
        scores: `(layers, heads, 1 + N, 1 + N)` attention of this image, e.g.
            `model.attention_maps(images)[i]`.
        grid_size: `(rows, cols)` of the patch grid. Defaults to a square grid.
        layers: indices of the layers whose class-token attention is drawn.
            Defaults to the first, the middle and the last.
        title: optional figure title.
        path: optional file path; the figure is saved there (PNG by extension).

    Returns:
        A `matplotlib.figure.Figure` (no pyplot state, safe headless).
    """
    image = np.asarray(image, dtype="float32")
    scores = np.asarray(scores)
    if scores.ndim != 4:
        raise ValueError(
            "`scores` must be one image's (layers, heads, T, T) attention. "
            f"Received: scores.shape={scores.shape}"
        )
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3):
        raise ValueError(
            f"`image` must be (H, W) or (H, W, C). Received: image.shape={image.shape}"
        )
    image = image / 255.0 if image.max() > 1.0 else image
    grid = grid_shape_of(scores.shape[-1] - 1, grid_size, "grid_size")
    num_layers = scores.shape[0]
    if layers is None:
        layers = sorted({0, num_layers // 2, num_layers - 1})
    maps = [("rollout", attention_rollout(scores)[0, 1:])]
    per_layer = class_token_attention(scores)  # (L, N)
    maps += [(f"layer {i + 1}", per_layer[i]) for i in layers]

    figure = Figure(figsize=(2.4 * (1 + len(maps)), 2.8), layout="constrained")
    axes = figure.subplots(1, 1 + len(maps))
    panels = [(label, attention.reshape(grid)) for label, attention in maps]  # (rows, cols)
    return draw_overlays(figure, axes, image, panels, title, path)
