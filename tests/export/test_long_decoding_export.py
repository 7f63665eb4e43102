"""A model that never emits [STOP] still ends: at the maximum length, exported too."""

import numpy as np
import pytest

from keras_seqattn.applications import AttentionSeq2Seq
from keras_seqattn.export import export_model
from tests.export.export_checks import randomize, serve

pytestmark = pytest.mark.only_backend(
    "tensorflow", reason="exports run on the TensorFlow backend; other backends re-run it there"
)

PAIRS = [("forty two", "42"), ("seven", "7"), ("one hundred", "100"), ("three", "3")]
TEXTS = ["forty two", "seven"]


def never_stopping_model():
    """Random weights, and a logit bias that keeps [STOP] below every other token."""
    model = AttentionSeq2Seq.from_corpus(
        PAIRS, source_mode="character", target_mode="character", embedding_dim=8, hidden_dim=8
    )
    randomize(model)
    vocabulary = model.target_tokenizer.vocabulary_size
    biases = [w for w in model.weights if tuple(w.shape) == (vocabulary,) and "bias" in w.path]
    assert len(biases) == 1, [w.path for w in biases]  # the output projection's
    bias = np.zeros(vocabulary, "float32")
    bias[model.target_tokenizer.stop_id] = -1e9
    biases[0].assign(bias)
    return model


def test_generation_without_stop_ends_at_max_length_in_keras_savedmodel_and_tflite(tmp_path):
    model = never_stopping_model()
    length, stop = model.max_target_length, model.target_tokenizer.stop_id
    greedy = model.translate(TEXTS)
    beam = model.translate(TEXTS, beam_width=2)
    for result in (greedy, beam):
        np.testing.assert_array_equal(result.lengths, [length, length])
        assert stop not in result.ids
    export_model(model, tmp_path / "export", tflite=True, beam_width=2)
    padded = np.zeros((1, model.max_source_length), "int32")
    source_ids = model.tokenize_sources(TEXTS[:1])
    padded[0, : source_ids.shape[1]] = source_ids[0]
    outputs, _ = serve(
        tmp_path / "export",
        {"texts": np.array(TEXTS), "padded": padded},
        [("serving_default", {"text": "texts"}), ("beam", {"text": "texts"})],
        tflite=[("model.tflite", {"source_ids": "padded"})],
    )
    np.testing.assert_array_equal(outputs["0/lengths"], [length, length])
    np.testing.assert_array_equal(outputs["1/lengths"], [length, length])
    np.testing.assert_array_equal(outputs["0/ids"], greedy.ids)
    np.testing.assert_array_equal(outputs["1/ids"], beam.ids)
    np.testing.assert_array_equal(outputs["tflite_0/ids"][0], greedy.ids[0])
    assert outputs["tflite_0/lengths"][0] == length
