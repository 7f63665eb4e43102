"""Attention maps drawn over an image: what the ViT and captioning plots share."""

import math

import numpy as np


def grid_shape_of(cells, grid_shape, argument):
    """`grid_shape`, or a square grid of `cells`; `argument` names it in errors."""
    if grid_shape is None:
        side = math.isqrt(cells)
        grid_shape = (side, side)
    if grid_shape[0] * grid_shape[1] != cells:
        raise ValueError(
            f"The attention covers {cells} cells, which is no {grid_shape[0]}x{grid_shape[1]} "
            f"grid; pass `{argument}`. Received: {argument}={grid_shape}"
        )
    return tuple(grid_shape)


def draw_overlays(figure, axes, image, panels, title=None, path=None):
    """The image in `axes[0]`, then each `(label, grid)` of `panels` over it.

    Each grid is normalised to its own peak and upsampled bilinearly over the
    image's extent. `image` is `(H, W)` or `(H, W, 3)` in `[0, 1]`. Saves the
    figure to `path` when given and returns it.
    """
    height, width = image.shape[:2]
    cmap = "gray" if image.ndim == 2 else None
    axes[0].imshow(image, cmap=cmap, vmin=0.0, vmax=1.0)
    axes[0].set_title("image")
    for ax, (label, grid) in zip(axes[1:], panels):
        ax.imshow(image, cmap=cmap, vmin=0.0, vmax=1.0)
        ax.imshow(
            grid / max(np.max(grid), 1e-12),
            cmap="inferno",
            alpha=0.6,
            vmin=0.0,
            vmax=1.0,
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
