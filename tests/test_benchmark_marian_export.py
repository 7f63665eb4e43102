"""benchmarks/marian_export.py runs in its smoke mode (a tiny random MarianMT directory)."""

import json

import pytest

from tests.test_benchmarks import smoke_output


@pytest.mark.slow
@pytest.mark.own_processes(reason="a smoke run of the script, on TensorFlow")
def test_marian_export_smoke(request):
    tmp_path = smoke_output(request, "marian_export")
    report = json.loads((tmp_path / "marian_export_tensorflow_smoke.json").read_text())
    results = report["results"]
    assert set(results["ms_per_token"]) == {
        "keras",
        "saved_model_text",
        "saved_model_ids",
        "tflite_float32",
    }
    assert results["sizes_mb"]["tflite_float32"] > 0
    assert "random weights" in report["what"]
