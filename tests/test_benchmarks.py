"""Every benchmark script runs in its smoke mode, so none can rot unnoticed."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.only_backend("tensorflow", reason="one smoke run of the script is enough")
def test_seq2seq_quality_smoke(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "seq2seq_quality.py"),
            "--smoke",
            "--dataset",
            "date_normalization",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "seq2seq_quality_tensorflow_smoke.json").read_text())
    assert [r["model"] for r in report["results"]] == ["Seq2SeqRNN", "AttentionSeq2Seq"]
    assert (tmp_path / "seq2seq_quality_tensorflow_smoke_length.png").exists()
    assert (tmp_path / "seq2seq_quality_tensorflow_smoke_heatmap.png").exists()


@pytest.mark.slow
@pytest.mark.only_backend("tensorflow", reason="one smoke run of the script is enough")
def test_vit_digits_smoke(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "vit_digits.py"),
            "--smoke",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
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
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "captioning_quality.py"), "--smoke"]
        + ["--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "captioning_quality_tensorflow_smoke.json").read_text())
    assert [r["model"] for r in report["results"]] == ["RNNCaptioner", "AttentionCaptioner"]
    assert report["results"][0]["attention_localization"] is None
    assert (tmp_path / "captioning_quality_tensorflow_smoke_attention.png").exists()
