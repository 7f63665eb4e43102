"""Application models, one per lecture model; installed as keras_seqattn.applications.

The imports below are the public names. What makes a saved file loadable is the
registry: importing this package imports every application registered in
`keras_seqattn_registry.APPLICATIONS` and every one another package registers under
the `keras_seqattn.applications` entry points, so that each class is known to
Keras's deserialisation (`keras_seqattn.saving.load_model` imports this package).
"""

import importlib

import keras_seqattn_registry
from keras_seqattn.applications.attention_captioner import AttentionCaptioner
from keras_seqattn.applications.attention_seq2seq import AttentionSeq2Seq
from keras_seqattn.applications.luong_seq2seq import LuongSeq2Seq
from keras_seqattn.applications.marian_checkpoint import load_marian
from keras_seqattn.applications.rnn_captioner import RNNCaptioner
from keras_seqattn.applications.seq2seq_rnn import Seq2SeqRNN
from keras_seqattn.applications.transformer_captioner import TransformerCaptioner
from keras_seqattn.applications.transformer_seq2seq import TransformerSeq2Seq
from keras_seqattn.applications.vision_transformer import VisionTransformer
from keras_seqattn.applications.vit_checkpoint import load_vit_npz

__all__ = [
    "AttentionCaptioner",
    "AttentionSeq2Seq",
    "LuongSeq2Seq",
    "RNNCaptioner",
    "Seq2SeqRNN",
    "TransformerCaptioner",
    "TransformerSeq2Seq",
    "VisionTransformer",
    "load_marian",
    "load_vit_npz",
]


def _import_registered():
    """Imports every registered application's module: its class registers with Keras."""
    for app in keras_seqattn_registry.applications().values():
        importlib.import_module(app.target.partition(":")[0])


_import_registered()
