"""The (target x source) attention heat map of the lecture's Bahdanau section."""

import textwrap

import numpy as np
from matplotlib.figure import Figure


def plot_attention_heatmap(attention, input_tokens, output_tokens, title=None, path=None):
    """Draws attention weights with output tokens as rows and input tokens as columns.

    Args:
        attention: `(output_len, input_len)` array of weights, e.g.
            `result.attention[i]` from `translate()`.
        input_tokens: list of `input_len` strings (x axis).
        output_tokens: list of `output_len` strings (y axis).
        title: optional figure title.
        path: optional file path; the figure is saved there (PNG by extension).

    Returns:
        A `matplotlib.figure.Figure` (no pyplot state, safe headless).
    """
    attention = np.asarray(attention, dtype="float32")
    if attention.ndim != 2:
        raise ValueError(
            "`attention` must be a (output_len, input_len) matrix. "
            f"Received: attention.shape={attention.shape}"
        )
    if attention.shape != (len(output_tokens), len(input_tokens)):
        raise ValueError(
            "Token lists must match the attention matrix. Received: attention.shape="
            f"{attention.shape}, len(output_tokens)={len(output_tokens)}, "
            f"len(input_tokens)={len(input_tokens)}"
        )
    width = max(1.5 + 0.35 * len(input_tokens), 3.0)
    height = max(1.2 + 0.3 * len(output_tokens), 2.5)
    figure = Figure(figsize=(width, height), layout="constrained")
    ax = figure.add_subplot()
    image = ax.imshow(
        attention, cmap="viridis", vmin=0.0, vmax=max(attention.max(), 1e-6), aspect="auto"
    )
    ax.set_xticks(range(len(input_tokens)), input_tokens, rotation=90)
    ax.set_yticks(range(len(output_tokens)), output_tokens)
    ax.set_xlabel("input tokens")
    ax.set_ylabel("output tokens")
    if title:
        # Wrapped to the figure's width (about 9 characters an inch): a German
        # number is one long word that would run off the figure.
        ax.set_title("\n".join(textwrap.wrap(title, width=max(int(width * 9), 20))))
    figure.colorbar(image, ax=ax, fraction=0.04)
    if path is not None:
        figure.savefig(path, dpi=120)
    return figure
