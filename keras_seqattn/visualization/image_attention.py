"""A ViT's attention maps drawn over the image it looked at."""

import math

import numpy as np
from matplotlib.figure import Figure

from keras_seqattn.visualization.attention_rollout import attention_rollout, class_token_attention


def _grid(num_patches, grid_size):
    if grid_size is None:
        side = math.isqrt(num_patches)
        grid_size = (side, side)
    if grid_size[0] * grid_size[1] != num_patches:
        raise ValueError(
            f"The attention covers {num_patches} patches, which is no "
            f"{grid_size[0]}x{grid_size[1]} grid; pass `grid_size`. "
            f"Received: grid_size={grid_size}"
        )
    return tuple(grid_size)


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
    grid = _grid(scores.shape[-1] - 1, grid_size)
    num_layers = scores.shape[0]
    if layers is None:
        layers = sorted({0, num_layers // 2, num_layers - 1})
    maps = [("rollout", attention_rollout(scores)[0, 1:])]
    per_layer = class_token_attention(scores)  # (L, N)
    maps += [(f"layer {i + 1}", per_layer[i]) for i in layers]

    figure = Figure(figsize=(2.4 * (1 + len(maps)), 2.8), layout="constrained")
    axes = figure.subplots(1, 1 + len(maps))
    height, width = image.shape[:2]
    cmap = "gray" if image.ndim == 2 else None
    axes[0].imshow(image, cmap=cmap, vmin=0.0, vmax=1.0)
    axes[0].set_title("image")
    for ax, (label, attention) in zip(axes[1:], maps):
        attention = attention.reshape(grid)
        ax.imshow(image, cmap=cmap, vmin=0.0, vmax=1.0)
        ax.imshow(
            attention / max(attention.max(), 1e-12),
            cmap="inferno",
            alpha=0.6,
            extent=(-0.5, width - 0.5, height - 0.5, -0.5),
            interpolation="bilinear",
        )
        ax.set_title(label)
    for ax in axes:
        ax.set_axis_off()
    if title:
        figure.suptitle(title)
    if path is not None:
        figure.savefig(path, dpi=120)
    return figure
