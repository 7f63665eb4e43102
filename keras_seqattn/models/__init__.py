"""Model bases shared by the applications: the generation seam and task plumbing."""

from keras_seqattn.models.captioning_model import CaptioningModel
from keras_seqattn.models.generation_result import GenerationResult
from keras_seqattn.models.generative_model import GenerativeModel
from keras_seqattn.models.rnn_captioning_model import RNNCaptioningModel
from keras_seqattn.models.rnn_seq2seq_model import RNNSeq2SeqModel
from keras_seqattn.models.seq2seq_model import Seq2SeqModel
from keras_seqattn.models.token_accuracy import TokenAccuracy

__all__ = [
    "CaptioningModel",
    "GenerationResult",
    "GenerativeModel",
    "RNNCaptioningModel",
    "RNNSeq2SeqModel",
    "Seq2SeqModel",
    "TokenAccuracy",
]
