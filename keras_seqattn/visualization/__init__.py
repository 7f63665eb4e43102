"""Plots of what the attention learned."""

from keras_seqattn.visualization.attention_heatmap import plot_attention_heatmap
from keras_seqattn.visualization.attention_rollout import attention_rollout, class_token_attention
from keras_seqattn.visualization.caption_attention import plot_caption_attention
from keras_seqattn.visualization.image_attention import plot_image_attention

__all__ = [
    "attention_rollout",
    "class_token_attention",
    "plot_attention_heatmap",
    "plot_caption_attention",
    "plot_image_attention",
]
