"""Evaluation: exact match, BLEU (sacrebleu), CIDEr (pycocoevalcap), localisation, accuracy."""

from keras_seqattn.evaluation.attention_localization import (
    box_attention_mass,
    word_localization,
)
from keras_seqattn.evaluation.caption_metrics import (
    caption_bleu,
    caption_cider,
    caption_exact_match,
    caption_tokens,
)
from keras_seqattn.evaluation.evaluate_captioning import evaluate_captioning
from keras_seqattn.evaluation.evaluate_image_classification import (
    evaluate_image_classification,
)
from keras_seqattn.evaluation.evaluate_translation import (
    evaluate_translation,
    exact_match_by_length,
    quality_by_length,
)
from keras_seqattn.evaluation.item_alignment import item_alignment
from keras_seqattn.evaluation.translation_metrics import corpus_bleu, exact_match

__all__ = [
    "box_attention_mass",
    "caption_bleu",
    "caption_cider",
    "caption_exact_match",
    "caption_tokens",
    "corpus_bleu",
    "evaluate_captioning",
    "evaluate_image_classification",
    "evaluate_translation",
    "exact_match",
    "exact_match_by_length",
    "item_alignment",
    "quality_by_length",
    "word_localization",
]
