"""Text preprocessing shared by every text model: one TensorFlow module for tf.data."""

from keras_seqattn.text._arguments import PAD, SPECIAL_TOKENS, START, STOP, UNK
from keras_seqattn.text.caption_pipeline import caption_batches, decode_image, prepare_image
from keras_seqattn.text.marian_tokenizer import MarianTokenizer
from keras_seqattn.text.pipelines import seq2seq_batches
from keras_seqattn.text.sequence_tokenizer import SequenceTokenizer

__all__ = [
    "PAD",
    "SPECIAL_TOKENS",
    "START",
    "STOP",
    "UNK",
    "MarianTokenizer",
    "SequenceTokenizer",
    "caption_batches",
    "decode_image",
    "prepare_image",
    "seq2seq_batches",
]
