"""The main jobs behind the command line: train, evaluate, predict."""

from keras_seqattn.training.captioning import train_captioner
from keras_seqattn.training.image_classification import train_image_classifier
from keras_seqattn.training.time_budget import TimeBudget
from keras_seqattn.training.training_checkpoint import TrainingCheckpoint
from keras_seqattn.training.translation import train_translation

__all__ = [
    "TimeBudget",
    "TrainingCheckpoint",
    "train_captioner",
    "train_image_classifier",
    "train_translation",
]
