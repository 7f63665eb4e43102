"""A model trained under a mixed precision policy exports and serves float32 inputs.

Its `model.tflite` computes in float32 (TFLite takes no bfloat16 and no float16
graph): `tests/test_mixed_precision.py` checks its float32 copy for every
application under both policies and runs one per TFLite plan in LiteRT; here one
export writes it beside the SavedModel.
"""

import json

import numpy as np
import pytest

from keras_seqattn.export import _tflite, export_model
from keras_seqattn.models._dtype_policy import policy_scope
from keras_seqattn.saving import load_model
from tests.export import test_every_application_export as every
from tests.export.export_checks import assert_builtin_ops, serve

pytestmark = pytest.mark.only_backend(
    "tensorflow", reason="exports run on the TensorFlow backend; other backends re-run it there"
)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_captioner_serves_float32_images_as_keras_captions(policy, tmp_path):
    with policy_scope(policy):
        model = every.transformer_captioner()
    path = tmp_path / "mixed.keras"
    model.save(path)
    out = tmp_path / "export"
    tflite = policy == "mixed_bfloat16"  # seconds a conversion; both convert in the other file
    export_model(path, out, beam_width=1, tflite=tflite)  # from the file, as the CLI exports
    assert load_model(path).compute_dtype == policy.split("_")[1]
    keras, arrays, calls, rows = every._captioning_case(model)
    outputs, report = serve(out, arrays, calls[:2], rows if tflite else ())  # images, PNG bytes
    assert report["signatures"]["serving_default"]["inputs"]["images"][0] == "float32"
    for index in (0, 1):
        np.testing.assert_array_equal(outputs[f"{index}/ids"], keras["greedy"].ids)
    metadata = json.loads((out / "export.json").read_text())
    assert metadata["dtype_policy"] == policy and metadata["tflite_compute_dtype"] == "float32"
    if tflite:
        assert metadata["tflite"] == ["model.tflite"]
        assert_builtin_ops(report["tflite_ops_0"])
        float32 = _tflite.Float32Model(model).get().caption(arrays["images"])
        litert = np.concatenate([outputs[f"tflite_{i}/ids"] for i in range(len(rows))])
        np.testing.assert_array_equal(litert, float32.ids)
