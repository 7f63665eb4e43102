"""A compiled application saved to `.keras` reloads compiled, silently, and trains on.

The generative applications override `compile()` (next-token loss and metric
defaults), so they implement `get_compile_config()` / `compile_from_config()`;
without them Keras warns on load that `compile()` was not restored.
"""

import warnings

import keras
import numpy as np
import pytest

from keras_seqattn.applications import TransformerCaptioner, TransformerSeq2Seq, VisionTransformer
from keras_seqattn.text import SequenceTokenizer


def _translator():
    source = SequenceTokenizer.from_corpus(["forty two", "seven"], mode="character")
    target = SequenceTokenizer.from_corpus(["zweiundvierzig", "sieben"], mode="character")
    model = TransformerSeq2Seq(
        source,
        target,
        hidden_dim=16,
        num_layers=1,
        num_heads=2,
        intermediate_dim=16,
        max_source_length=8,
        max_target_length=8,
    )
    rng = np.random.default_rng(0)
    x = {
        "source_ids": rng.integers(1, source.vocabulary_size, (4, 8)).astype("int32"),
        "target_ids": rng.integers(1, target.vocabulary_size, (4, 8)).astype("int32"),
    }
    return model, x, rng.integers(1, target.vocabulary_size, (4, 8)).astype("int32")


def _captioner():
    tokenizer = SequenceTokenizer.from_corpus(["one two", "three four"])
    model = TransformerCaptioner(
        tokenizer, image_size=(16, 16), hidden_dim=16, intermediate_dim=16, max_caption_length=5
    )
    rng = np.random.default_rng(0)
    x = {
        "images": rng.integers(0, 256, (4, 16, 16, 1)).astype("float32"),
        "target_ids": rng.integers(1, tokenizer.vocabulary_size, (4, 5)).astype("int32"),
    }
    return model, x, rng.integers(1, tokenizer.vocabulary_size, (4, 5)).astype("int32")


def _vit():
    model = VisionTransformer(
        image_size=16,
        patch_size=8,
        num_classes=3,
        hidden_dim=8,
        num_layers=1,
        num_heads=2,
        mlp_dim=8,
        num_channels=1,
    )
    rng = np.random.default_rng(0)
    return model, rng.integers(0, 256, (4, 16, 16, 1)).astype("float32"), np.arange(4) % 3


# Eager on TensorFlow and torch, where tracing a train step takes long on CPU; not on
# JAX, which compiles every op of an eager step on its own (63 s against seconds).
EAGER = keras.backend.backend() != "jax"


def _compile(model):
    if isinstance(model, VisionTransformer):
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
            run_eagerly=EAGER,
        )
    else:
        model.compile(optimizer=keras.optimizers.Adam(1e-3), run_eagerly=EAGER)  # default loss


@pytest.mark.parametrize(
    "make", [_translator, _captioner, _vit], ids=["seq2seq", "captioner", "vit"]
)
def test_reloaded_model_is_compiled_without_warning_and_fits(make, tmp_path):
    model, x, y = make()
    _compile(model)
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    path = str(tmp_path / "model.keras")
    model.save(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        revived = keras.saving.load_model(path, safe_mode=True)
    messages = [str(w.message) for w in caught]
    assert not [m for m in messages if "compile()" in m or "compile_from_config" in m], messages
    assert revived.compiled and revived.run_eagerly == EAGER
    assert int(revived.optimizer.iterations) == int(model.optimizer.iterations) == 1
    assert float(revived.optimizer.learning_rate) == pytest.approx(1e-3)
    assert revived.get_compile_config() == model.get_compile_config()
    logs = revived.fit(x, y, batch_size=4, epochs=1, verbose=0).history
    assert np.isfinite(logs["loss"][0])
    assert int(revived.optimizer.iterations) == 2
    if not isinstance(model, VisionTransformer):
        assert "token_accuracy" in logs  # the default metric came back too
