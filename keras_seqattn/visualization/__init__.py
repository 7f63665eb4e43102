"""Plots of what the attention learned."""

from keras_seqattn.visualization.attention_heatmap import plot_attention_heatmap

__all__ = ["plot_attention_heatmap"]
