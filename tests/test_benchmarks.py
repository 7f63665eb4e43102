"""Every benchmark script runs in its smoke mode, so none can rot unnoticed."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]


def run_smoke(script, out, *args):
    """Runs `benchmarks/<script> --smoke --out <out> [args]`; fails with its stderr."""
    command = [sys.executable, str(REPO / "benchmarks" / script), "--smoke", "--out", str(out)]
    result = subprocess.run(
        command + list(args), capture_output=True, text=True, env=dict(os.environ), timeout=900
    )
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.only_backend("tensorflow", reason="one smoke run of the script is enough")
def test_seq2seq_quality_smoke(tmp_path):
    run_smoke("seq2seq_quality.py", tmp_path, "--dataset", "date_normalization")
    report = json.loads((tmp_path / "seq2seq_quality_tensorflow_smoke.json").read_text())
    assert [r["model"] for r in report["results"]] == ["Seq2SeqRNN", "AttentionSeq2Seq"]
    assert (tmp_path / "seq2seq_quality_tensorflow_smoke_length.png").exists()
    assert (tmp_path / "seq2seq_quality_tensorflow_smoke_heatmap.png").exists()


@pytest.mark.slow
@pytest.mark.only_backend("tensorflow", reason="one smoke run of the script is enough")
def test_vit_digits_smoke(tmp_path):
    run_smoke("vit_digits.py", tmp_path)
    report = json.loads((tmp_path / "vit_digits_tensorflow_smoke.json").read_text())
    assert [r["model"] for r in report["results"]] == [
        "VisionTransformer/vit_micro_digits",
        "SmallCNN",
    ]
    assert all(r["inference_images_per_second"] > 0 for r in report["results"])
    assert (tmp_path / "vit_digits_tensorflow_smoke_attention.png").exists()


@pytest.mark.slow
@pytest.mark.only_backend("tensorflow", reason="one smoke run of the script is enough")
def test_captioning_quality_smoke(tmp_path):
    run_smoke("captioning_quality.py", tmp_path)
    report = json.loads((tmp_path / "captioning_quality_tensorflow_smoke.json").read_text())
    models = [r["model"] for r in report["results"]]
    assert models == ["RNNCaptioner", "AttentionCaptioner", "TransformerCaptioner"]
    assert report["results"][0]["attention_localization"] is None
    assert (tmp_path / "captioning_quality_tensorflow_smoke_attention.png").exists()
    assert (tmp_path / "captioning_quality_tensorflow_smoke_transformer_attention.png").exists()
