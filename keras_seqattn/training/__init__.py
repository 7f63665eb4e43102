"""The main jobs behind the command line: train, evaluate, predict."""

from keras_seqattn.training.translation import train_translation

__all__ = ["train_translation"]
