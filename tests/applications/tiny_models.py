"""Every application at a size that builds, trains and generates in seconds.

Shared by the tests that run them all the same way (several devices, mixed
precision): `BUILDS`, every registered application by class name, built as
its task says; `batches()` of their training data and `generation_inputs()`,
one fixed batch of three for each.
"""

import functools

import numpy as np
import tensorflow as tf
from num2words import num2words

import keras_seqattn_registry
from keras_seqattn import applications
from keras_seqattn.text import SequenceTokenizer
from tests.applications import captioning_checks

NUMBERS = [(num2words(n), num2words(n, lang="de")) for n in range(1, 33)]
RNN = dict(embedding_dim=8, hidden_dim=16)
TRANSFORMER = dict(num_heads=4, dropout=0.0)
VIT_IMAGE = (16, 16, 1)


@functools.lru_cache
def _tokenizers():
    sources, targets = zip(*NUMBERS)
    return (
        SequenceTokenizer.from_corpus(list(sources), mode="character"),
        SequenceTokenizer.from_corpus(list(targets), mode="character"),
    )


def _translator(cls):
    if cls is applications.TransformerSeq2Seq:
        sizes = dict(TRANSFORMER, hidden_dim=16, num_layers=1, intermediate_dim=32)
    else:
        sizes = RNN
    return cls(*_tokenizers(), max_source_length=24, max_target_length=30, **sizes)


def _captioner(cls):
    if cls is applications.TransformerCaptioner:
        sizes = dict(
            TRANSFORMER, image_size=(32, 32), hidden_dim=16, intermediate_dim=32,
            num_encoder_layers=1, num_decoder_layers=1, max_caption_length=6,
        )  # fmt: skip
        return cls(captioning_checks.tokenizer(), **sizes)
    return captioning_checks.model(cls, filters=(4, 8), hidden_dim=16, feature_dim=8)


def _vit(cls):
    return cls(
        image_size=VIT_IMAGE[0], patch_size=4, num_classes=4, hidden_dim=16, num_layers=1,
        num_heads=4, mlp_dim=32, num_channels=VIT_IMAGE[2], dropout=0.0,
    )  # fmt: skip


_BUILDERS = {"translation": _translator, "captioning": _captioner, "classification": _vit}
BUILDS = {
    app.class_name: functools.partial(_BUILDERS[app.task], app.load_class())
    for app in keras_seqattn_registry.APPLICATIONS.values()
}


def batches(model, batch_size, count=2):
    """`count` batches of `batch_size` of `model`'s kind of data, the same every call."""
    examples = count * batch_size
    if isinstance(model, applications.VisionTransformer):
        rng = np.random.default_rng(0)
        images = rng.integers(0, 256, (examples, *VIT_IMAGE)).astype("float32")
        labels = rng.integers(0, 4, examples)
        return tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch_size)
    if hasattr(model, "translate"):
        pairs = tf.data.Dataset.from_tensor_slices(tuple(map(list, zip(*NUMBERS[:examples]))))
    else:
        pairs = captioning_checks.pairs().take(examples)
    return model.prepare(pairs, batch_size=batch_size)


def generation_inputs(model):
    """Three fixed inputs for `model`: texts, images, or the ViT's images."""
    if isinstance(model, applications.VisionTransformer):
        return np.random.default_rng(1).integers(0, 256, (3, *VIT_IMAGE)).astype("float32")
    if hasattr(model, "translate"):
        return ["one", "twenty two", "seven"]
    return captioning_checks.quadrant_scenes()[0][:3]
