"""A model that never emits [STOP] still ends: at the maximum length, exported too.

The model and its export are conftest.py's `translation_export` (an AttentionSeq2Seq
whose [STOP] logit is biased to -1e9), which test_translation_export also reads.
"""

import numpy as np
import pytest

pytestmark = pytest.mark.only_backend(
    "tensorflow", reason="exports run on the TensorFlow backend; other backends re-run it there"
)


def test_generation_without_stop_ends_at_max_length_in_keras_savedmodel_and_tflite(
    translation_export,
):
    model, keras = translation_export["model"], translation_export["keras"]
    outputs = translation_export["outputs"]
    length, stop = model.max_target_length, model.target_tokenizer.stop_id
    greedy, beam = keras["greedy"], keras["beam_translation"]
    rows = len(greedy.ids)
    for result in (greedy, beam):
        np.testing.assert_array_equal(result.lengths, [length] * rows)
        assert stop not in result.ids
    # Calls 0 and 1 of the fixture: `serving_default` and `beam` on the texts.
    np.testing.assert_array_equal(outputs["0/lengths"], [length] * rows)
    np.testing.assert_array_equal(outputs["1/lengths"], [length] * rows)
    np.testing.assert_array_equal(outputs["0/ids"], greedy.ids)
    np.testing.assert_array_equal(outputs["1/ids"], beam.ids)
    np.testing.assert_array_equal(outputs["tflite_0/ids"][0], greedy.ids[0])
    assert outputs["tflite_0/lengths"][0] == length
