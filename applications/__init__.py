"""Application models, one per lecture model; installed as keras_seqattn.applications."""

from keras_seqattn.applications.attention_seq2seq import AttentionSeq2Seq
from keras_seqattn.applications.seq2seq_rnn import Seq2SeqRNN

__all__ = ["AttentionSeq2Seq", "Seq2SeqRNN"]
