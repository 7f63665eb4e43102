"""The CLI's `train` as a process: killed mid-training it resumes; with one seed it repeats."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.only_backend(
        "jax",
        reason="whole CLI processes; the checkpoint format and the resume logic are backend "
        "independent (tests/training runs TrainingCheckpoint on every backend), and the JAX "
        "pass is CI's shortest",
    ),
]

TRAIN = [
    "train",
    "attention-seq2seq",
    "--dataset",
    "date_normalization",
    "--train-limit",
    "512",
    "--eval-limit",
    "16",
    "--hidden-dim",
    "16",
    "--embedding-dim",
    "8",
    "--batch-size",
    "32",
]


def command(out, epochs, seed=0):
    return [sys.executable, "-m", "keras_seqattn_cli", *TRAIN, "--out", str(out),
            "--epochs", str(epochs), "--seed", str(seed)]  # fmt: skip


def run(args):
    result = subprocess.run(args, capture_output=True, text=True, env=dict(os.environ), timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def read_state(out):
    try:
        return json.loads((out / "checkpoint" / "state.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def test_killed_training_resumes_with_no_epoch_lost_or_repeated(tmp_path):
    epochs = 8
    process = subprocess.Popen(
        command(tmp_path, epochs),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=dict(os.environ),
    )
    try:
        deadline = time.monotonic() + 300
        while (read_state(tmp_path) or {}).get("epoch", 0) < 2:
            assert process.poll() is None, process.stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, "no second epoch within 300 s"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    killed = read_state(tmp_path)
    assert 2 <= killed["epoch"] < epochs and not (tmp_path / "metrics.json").exists()

    run(command(tmp_path, epochs))
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["resumed_from_epoch"] == killed["epoch"]
    assert len(metrics["history"]["loss"]) == epochs
    # The epochs before the kill are kept as they were, not trained again.
    assert metrics["history"]["loss"][: killed["epoch"]] == killed["history"]["loss"]
    # The checkpoint stays, at the last epoch, so that more epochs can train on.
    assert read_state(tmp_path)["epoch"] == epochs and (tmp_path / "model.keras").exists()


def test_same_seed_gives_identical_metrics(tmp_path):
    reports = []
    for name in ("first", "second"):
        run(command(tmp_path / name, epochs=2, seed=3))
        metrics = json.loads((tmp_path / name / "metrics.json").read_text())
        reports.append({k: v for k, v in metrics.items() if not k.endswith("_seconds")})
    assert reports[0] == reports[1]
    assert reports[0]["history"]["loss"][1] < reports[0]["history"]["loss"][0]
