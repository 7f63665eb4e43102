"""Show, Attend and Tell's figure: the image, and where the model looked for each word."""

import math

import numpy as np
from matplotlib.figure import Figure

from keras_seqattn.visualization._overlay import draw_overlays, grid_shape_of


def plot_caption_attention(
    image, attention, words, grid_shape=None, columns=6, title=None, path=None
):
    """Draws the image, then one panel per generated word with its attention over the image.

    Each word's `(H', W')` attention map is upsampled to the image by bilinear
    interpolation (matplotlib's `imshow` over the image's extent; the paper
    upsampled by 16 with a Gaussian filter) and drawn over the grey image,
    normalised per word so that each map's peak is bright.

    Args:
        image: `(height, width)` or `(height, width, channels)` pixels, on the
            0-255 scale or in `[0, 1]`.
        attention: `(length, H' * W')` or `(length, H', W')` weights, e.g.
            `result.attention[i]` of `AttentionCaptioner.caption()`.
        words: the `length` generated tokens, e.g. `result.output_tokens[i]`.
        grid_shape: `(H', W')` when `attention` is flat. Defaults to a square
            grid.
        columns: int, panels per row. Defaults to `6`.
        title: optional figure title (e.g. the caption).
        path: optional file path; the figure is saved there (PNG by extension).

    Returns:
        A `matplotlib.figure.Figure` (no pyplot state, safe headless).
    """
    image = _as_image(image)
    maps = _as_grids(attention, grid_shape)
    if len(words) != len(maps):
        raise ValueError(
            "Expected one word per attention map. Received: "
            f"len(words)={len(words)}, attention.shape={np.shape(attention)}"
        )
    panels = 1 + len(maps)
    columns = max(1, min(columns, panels))
    rows = math.ceil(panels / columns)
    figure = Figure(figsize=(2.0 * columns, 2.2 * rows + 0.3), layout="constrained")
    axes = np.atleast_1d(figure.subplots(rows, columns)).ravel()
    return draw_overlays(figure, axes, image, list(zip(words, maps)), title, path)


def _as_image(image):
    image = np.asarray(image, dtype="float32")
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] != 3):
        raise ValueError(
            f"`image` must be (H, W), (H, W, 1) or (H, W, 3). Received: image.shape={image.shape}"
        )
    return image / 255.0 if image.max() > 1.0 else image


def _as_grids(attention, grid_shape):
    attention = np.asarray(attention, dtype="float32")
    if attention.ndim == 3:
        return attention
    if attention.ndim != 2:
        raise ValueError(
            "`attention` must be (length, cells) or (length, rows, cols). "
            f"Received: attention.shape={attention.shape}"
        )
    grid_shape = grid_shape_of(attention.shape[1], grid_shape, "grid_shape")
    return attention.reshape(len(attention), *grid_shape)  # (length, rows, cols)
