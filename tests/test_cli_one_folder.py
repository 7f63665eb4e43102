"""Two `keras-seqattn` processes on one folder: the first keeps it, the second is refused in
one line naming the first; a holder killed with SIGKILL is taken over, and what its export
left beside `--out` is swept.

The overlap is made certain, not hoped for: the first process is stopped (SIGSTOP) once its
lock file names it, the second runs to its end, then the first goes on.
"""

import json
import pathlib
import re
import signal
import subprocess
import sys
import time
import zipfile

import pytest

from keras_seqattn.applications import VisionTransformer
from keras_seqattn.export._staging import MARKER

pytestmark = pytest.mark.own_processes(reason="the installed console script, two at a time")

SCRIPT = str(pathlib.Path(sys.executable).with_name("keras-seqattn"))
TF = ["--backend", "tensorflow"]
TRAIN = [*TF, "train", "luong-seq2seq", "--dataset", "date_normalization", "--epochs", "1",
         "--train-limit", "32", "--eval-limit", "2", "--embedding-dim", "8",
         "--batch-size", "32"]  # fmt: skip


def start(tmp_path, *args):
    """The console script as a background process, its output into files."""
    name = f"{len(list(tmp_path.glob('*.stdout')))}"
    stdout = open(tmp_path / f"{name}.stdout", "w+")  # noqa: SIM115 (read once it ends)
    stderr = open(tmp_path / f"{name}.stderr", "w+")  # noqa: SIM115
    process = subprocess.Popen([SCRIPT, *args], stdout=stdout, stderr=stderr, text=True)
    process.output = lambda: (stdout.seek(0) or stdout.read(), stderr.seek(0) or stderr.read())
    return process


def run(*args):
    return subprocess.run([SCRIPT, *args], capture_output=True, text=True, timeout=300)


def wait_for(condition, process, what):
    deadline = time.monotonic() + 300
    while not condition():
        assert process.poll() is None, f"ended before {what}: {process.output()[1][-3000:]}"
        assert time.monotonic() < deadline, f"no {what} within 300 s"
        time.sleep(0.02)


def holds(lock, process):
    try:
        return json.loads(lock.read_text())["pid"] == process.pid
    except (OSError, ValueError, KeyError):
        return False


def stopped_while(process, lock, second):
    """Runs `second()` while `process`, which holds `lock`, is stopped; returns its result."""
    wait_for(lambda: holds(lock, process), process, "its lock")
    process.send_signal(signal.SIGSTOP)
    try:
        return second()
    finally:
        process.send_signal(signal.SIGCONT)


def assert_refused(result, folder, holder, command):
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1, result.stderr[-3000:]
    pattern = (
        rf"keras-seqattn: error: {re.escape(str(folder))} is in use by process {holder.pid} "
        rf"\(keras-seqattn --backend tensorflow {command} .*\) since [-0-9: ]+; wait for it "
        "to finish, or choose another output folder"
    )
    assert re.fullmatch(pattern, lines[0]), lines[0]


def said(stderr):
    return [line for line in stderr.splitlines() if line.startswith("keras-seqattn:")]


@pytest.mark.slow  # two TensorFlow processes, one short training: about 25 s on a small CPU
def test_a_second_training_on_the_folder_of_a_running_one_is_refused(tmp_path):
    out, lock = tmp_path / "x", tmp_path / ".x.keras-seqattn.lock"
    first = start(tmp_path, *TRAIN, "--hidden-dim", "8", "--out", str(out))
    try:
        second = stopped_while(
            first, lock, lambda: run(*TRAIN, "--hidden-dim", "16", "--out", str(out))
        )
        first.wait(timeout=300)
    finally:
        first.kill()
    stdout, stderr = first.output()
    assert_refused(second, out, first, "train luong-seq2seq")
    assert first.returncode == 0, stderr[-3000:]
    # The folder holds the first run's result whole: what it printed, its model.
    printed = json.loads(stdout.strip().splitlines()[-1])
    metrics = json.loads((out / "metrics.json").read_text())
    assert printed == {k: metrics[k] for k in printed}
    assert json.loads((out / "checkpoint" / "arguments.json").read_text())["hidden_dim"] == 8
    with zipfile.ZipFile(out / "model.keras") as archive:
        assert json.loads(archive.read("config.json"))["config"]["hidden_dim"] == 8
    assert not lock.exists() and said(stderr) == []


@pytest.mark.slow  # three TensorFlow processes, two exports: about 30 s on a small CPU
def test_a_second_export_is_refused_and_a_killed_ones_leftovers_are_swept(tmp_path):
    VisionTransformer(
        image_size=8, patch_size=4, num_classes=3, hidden_dim=8, num_layers=1, num_heads=2,
        mlp_dim=8, num_channels=1,
    ).save(tmp_path / "model.keras")  # fmt: skip
    look_alike = tmp_path / ".E-mine"  # named like a staging folder, but the user's
    look_alike.mkdir()
    (look_alike / "notes.txt").write_text("keep me")
    out, lock = tmp_path / "E", tmp_path / ".E.keras-seqattn.lock"
    export = [*TF, "export", str(tmp_path / "model.keras"), "--out", str(out)]
    first = start(tmp_path, *export)
    try:
        second = stopped_while(first, lock, lambda: run(*export))
        assert_refused(second, out, first, "export")
        assert not out.exists() and not any(tmp_path.glob(f".E-*/{MARKER}"))
        # The first goes on, and is killed while it writes its staging folder.
        wait_for(lambda: any(tmp_path.glob(f".E-*/{MARKER}")), first, "a staging folder")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    [staging] = [p.parent for p in tmp_path.glob(f".E-*/{MARKER}")]
    assert not out.exists() and holds(lock, first)  # left behind, naming a process gone

    third = run(*export)
    assert third.returncode == 0, third.stderr[-3000:]
    command = rf"process {first.pid} \(keras-seqattn --backend tensorflow export .*\)"
    lines = said(third.stderr)
    assert len(lines) == 2, lines
    assert re.fullmatch(
        rf"keras-seqattn: taking over {re.escape(str(out))} from {command}, "
        "which is no longer running",
        lines[0],
    )
    assert re.fullmatch(
        rf"keras-seqattn: removed {re.escape(str(staging))}, an unfinished export of "
        rf"{re.escape(str(out))}: {command} was stopped while writing it",
        lines[1],
    )
    assert sorted(p.name for p in out.iterdir()) == ["export.json", "saved_model"]
    assert not staging.exists() and not lock.exists()
    assert [p.name for p in look_alike.iterdir()] == ["notes.txt"]


def test_weights_with_config_is_a_usage_error_before_keras(tmp_path):
    start_time = time.perf_counter()
    result = run("train", "vit", "--dataset", "digits", "--out", str(tmp_path / "run"),
                 "--weights", str(tmp_path), "--config", "vit_s16")  # fmt: skip
    assert time.perf_counter() - start_time < 5  # decided by the grammar, Keras never imported
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "--weights and --config exclude each other" in result.stderr
    assert not (tmp_path / "run").exists()
