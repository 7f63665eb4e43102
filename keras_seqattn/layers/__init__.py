"""The lecture's building blocks, one public class per file."""

from keras_seqattn.layers.attention_rnn_decoder import AttentionRNNDecoder
from keras_seqattn.layers.bahdanau_attention import BahdanauAttention
from keras_seqattn.layers.context_rnn_decoder import ContextRNNDecoder
from keras_seqattn.layers.rnn_encoder import RNNEncoder

__all__ = ["AttentionRNNDecoder", "BahdanauAttention", "ContextRNNDecoder", "RNNEncoder"]
