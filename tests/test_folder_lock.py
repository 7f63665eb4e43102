"""One folder, one running command: a second is refused naming the first; a dead holder is
taken over; the Python jobs and `export_model` refuse as the CLI does.

The holders here are small Python processes that load `_folder_lock` alone (no Keras),
so each test takes well under a second.
"""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from keras_seqattn import _folder_lock, datasets, training
from keras_seqattn._folder_lock import FolderInUseError, hold
from keras_seqattn.applications import AttentionCaptioner, LuongSeq2Seq
from keras_seqattn.export import export_model

pytestmark = pytest.mark.backend_independent(
    reason="files and processes; the jobs are refused before any Keras work"
)

HOLDER = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("folder_lock", sys.argv[1])
folder_lock = importlib.util.module_from_spec(spec)
spec.loader.exec_module(folder_lock)
with folder_lock.hold(sys.argv[2]):
    print("held", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def holder():
    """`start(folder)`: a process holding `folder` until its stdin closes."""
    processes = []

    def start(folder):
        process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, _folder_lock.__file__, str(folder)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        processes.append(process)
        assert process.stdout.readline() == "held\n", process.stderr.read()
        return process

    yield start
    for process in processes:
        process.kill()
        process.wait()


def in_use(folder, process):
    folder = re.escape(str(folder))
    return rf"^{folder} is in use by process {process.pid} \(python -c .*\) since .*; wait"


def test_a_second_holder_is_refused_naming_the_first(tmp_path, holder, capsys):
    folder = tmp_path / "runs" / "x"
    first = holder(folder)
    lock = tmp_path / "runs" / ".x.keras-seqattn.lock"
    assert json.loads(lock.read_text())["pid"] == first.pid
    assert not folder.exists()  # the lock lies beside the folder, which is not made
    with pytest.raises(FolderInUseError, match=in_use(folder, first)), hold(folder):
        pytest.fail("held twice")
    # Another spelling of the same folder is the same folder.
    (tmp_path / "link").symlink_to(tmp_path / "runs")
    for spelling in (tmp_path / "link" / "x", tmp_path / "runs" / "y" / ".." / "x"):
        with pytest.raises(FolderInUseError, match=f"by process {first.pid} "), hold(spelling):
            pytest.fail("held twice")
    first.communicate("")  # the holder finishes: its lock file goes with it
    assert first.returncode == 0 and not lock.exists()
    with hold(folder):
        assert lock.exists()
    assert not lock.exists() and capsys.readouterr().err == ""


def test_a_killed_holder_is_taken_over_in_one_line(tmp_path, holder, capsys):
    folder = tmp_path / "x"
    first = holder(folder)
    first.send_signal(signal.SIGKILL)
    first.wait()
    lock = tmp_path / ".x.keras-seqattn.lock"
    assert json.loads(lock.read_text())["pid"] == first.pid  # left behind
    with hold(folder):
        assert json.loads(lock.read_text())["pid"] != first.pid
    assert capsys.readouterr().err.splitlines() == [
        f"keras-seqattn: taking over {folder} from process {first.pid} (python -c "
        f"{_folder_lock.__file__} {folder}), which is no longer running"
    ]
    assert not lock.exists()


def test_the_same_thread_holds_again_another_thread_is_refused(tmp_path):
    refused = []

    def other():
        try:
            with hold(tmp_path / "x"):
                pass
        except FolderInUseError as error:
            refused.append(str(error))

    with hold(tmp_path / "x"):
        with hold(tmp_path / "x"):
            thread = threading.Thread(target=other)
            thread.start()
            thread.join()
        assert (tmp_path / ".x.keras-seqattn.lock").exists()  # still held by the outer
    assert len(refused) == 1 and "in use by another thread of this process" in refused[0]
    assert list(tmp_path.iterdir()) == []


def test_parents_removed_by_another_command_meanwhile_are_made_again(tmp_path, monkeypatch):
    # A made runs/, failed and removed it again, empty, just after this command found it.
    (tmp_path / "runs").mkdir()
    make_folders = _folder_lock._make_folders

    def then_removed(folder):
        made = make_folders(folder)
        (tmp_path / "runs").rmdir()
        monkeypatch.setattr(_folder_lock, "_make_folders", make_folders)  # once
        return made

    monkeypatch.setattr(_folder_lock, "_make_folders", then_removed)
    with hold(tmp_path / "runs" / "x"):
        assert (tmp_path / "runs" / ".x.keras-seqattn.lock").exists()
    assert list(tmp_path.iterdir()) == []  # made again by this command, so removed again


def test_folders_made_for_the_lock_are_removed_when_left_empty(tmp_path):
    with hold(tmp_path / "a" / "b" / "run"):
        assert (tmp_path / "a" / "b" / ".run.keras-seqattn.lock").exists()
    assert list(tmp_path.iterdir()) == []
    with hold(tmp_path / "a" / "b" / "run"):
        (tmp_path / "a" / "b" / "run").mkdir()  # the run wrote something: kept
    assert [p.name for p in (tmp_path / "a" / "b").iterdir()] == ["run"]


def _never(*args, **kwargs):
    raise AssertionError("prepared data or loaded a model while another command held `out`")


JOBS = {
    "train_translation": lambda out: training.train_translation(
        LuongSeq2Seq, "date_normalization", out, hidden_dim=16
    ),
    "train_captioner": lambda out: training.train_captioner(
        AttentionCaptioner, "digit_scenes", out
    ),
    "train_image_classifier": lambda out: training.train_image_classifier("digits", out),
    "export_model": lambda out: export_model("model.keras", out),
}


@pytest.mark.parametrize("job", JOBS)
def test_python_jobs_are_refused_before_any_work(job, tmp_path, holder, monkeypatch):
    for name in ("prepare", "load", "load_translation_pairs", "load_caption_pairs"):
        monkeypatch.setattr(datasets, name, _never)
    monkeypatch.setattr(sys.modules["keras_seqattn.export._write"], "_load", _never)
    out = tmp_path / "out"
    first = holder(out)
    with pytest.raises(FolderInUseError, match=in_use(out, first)):
        JOBS[job](out)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.keras-seqattn.lock"]


class DataReachedError(Exception):
    pass


def _stop(*args, **kwargs):
    raise DataReachedError


def test_a_job_taking_over_removes_the_temporaries_of_the_killed_one(
    tmp_path, holder, monkeypatch, capsys
):
    out = tmp_path / "out"
    killed = holder(out)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    (out / "checkpoint").mkdir(parents=True)
    left = [f".model.{killed.pid}.tmp.keras", f"checkpoint/.state.json.{killed.pid}.tmp"]
    kept = [f".metrics.json.{killed.pid + 1}.tmp", "notes.tmp", f"model.{killed.pid}.tmp"]
    for name in left + kept:
        (out / name).write_text("x")
    monkeypatch.setattr(datasets, "load_translation_pairs", _stop)
    with pytest.raises(DataReachedError):  # holding `out`, at its first look at the data
        training.train_translation(LuongSeq2Seq, "date_normalization", out)
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == sorted(["checkpoint", *kept])
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"keras-seqattn: taking over {out} from")
    assert lines[1] == (
        f"keras-seqattn: removed from {out} what process {killed.pid} (python -c "
        f"{_folder_lock.__file__} {out}) left half written: {', '.join(sorted(left))}"
    )


HOLDER_WITH_CHILD = HOLDER.replace(
    '    print("held", flush=True)',
    "    child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'],\n"
    "                             pass_fds=(folder_lock.descriptor(sys.argv[2]),))\n"
    '    print("held", child.pid, flush=True)',
).replace("import importlib.util, sys", "import importlib.util, subprocess, sys")


def test_a_child_given_the_lock_keeps_the_folder_held_past_its_parent(tmp_path):
    """As the export's TensorFlow subprocess on JAX and torch: its parent killed, it writes on."""
    folder = tmp_path / "x"
    parent = subprocess.Popen(
        [sys.executable, "-c", HOLDER_WITH_CHILD, _folder_lock.__file__, str(folder)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    child = int(parent.stdout.readline().split()[1])
    try:
        parent.kill()
        parent.wait()
        with pytest.raises(FolderInUseError, match=f"by process {parent.pid} "), hold(folder):
            pytest.fail("taken from a running child")
    finally:
        os.kill(child, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while True:  # the child's descriptors close as it dies
        try:
            with hold(folder):
                break
        except FolderInUseError:
            assert time.monotonic() < deadline, "the folder stayed held after the child died"
            time.sleep(0.05)
