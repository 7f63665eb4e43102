"""A model trained under a mixed precision policy exports and serves float32 inputs."""

import numpy as np
import pytest

from keras_seqattn.export import export_model
from keras_seqattn.models._dtype_policy import policy_scope
from keras_seqattn.saving import load_model
from tests.export import test_every_application_export as every
from tests.export.export_checks import serve

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
    export_model(path, out, beam_width=1)  # from the file, as the CLI exports
    assert load_model(path).compute_dtype == policy.split("_")[1]
    keras, arrays, calls, _ = every._captioning_case(model)
    outputs, report = serve(out, arrays, calls[:2])  # float32 images, then PNG bytes
    assert report["signatures"]["serving_default"]["inputs"]["images"][0] == "float32"
    for index in (0, 1):
        np.testing.assert_array_equal(outputs[f"{index}/ids"], keras["greedy"].ids)
