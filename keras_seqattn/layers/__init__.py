"""The lecture's building blocks, one public class per file."""

from keras_seqattn.layers.attention_rnn_decoder import AttentionRNNDecoder
from keras_seqattn.layers.bahdanau_attention import BahdanauAttention
from keras_seqattn.layers.context_rnn_decoder import ContextRNNDecoder
from keras_seqattn.layers.doubly_stochastic_regularizer import DoublyStochasticRegularizer
from keras_seqattn.layers.image_feature_encoder import ImageFeatureEncoder
from keras_seqattn.layers.luong_rnn_decoder import LuongRNNDecoder
from keras_seqattn.layers.patch_encoder import PatchEncoder
from keras_seqattn.layers.positional_encoding import PositionalEncoding
from keras_seqattn.layers.rnn_encoder import RNNEncoder
from keras_seqattn.layers.transformer_decoder import TransformerDecoder
from keras_seqattn.layers.transformer_encoder import TransformerEncoder

__all__ = [
    "AttentionRNNDecoder",
    "BahdanauAttention",
    "ContextRNNDecoder",
    "DoublyStochasticRegularizer",
    "ImageFeatureEncoder",
    "LuongRNNDecoder",
    "PatchEncoder",
    "PositionalEncoding",
    "RNNEncoder",
    "TransformerDecoder",
    "TransformerEncoder",
]
