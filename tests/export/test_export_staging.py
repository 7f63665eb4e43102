"""What a killed export leaves beside `out` is swept by the next export of `out`: an earlier
export it was replacing goes back in place, its marked folders go, nothing unmarked is touched.

The folders are laid out as a process killed at each step of `_write` leaves them.
"""

import contextlib
import json

import pytest

from keras_seqattn import _folder_lock
from keras_seqattn.applications import VisionTransformer
from keras_seqattn.export import _staging, export_model


def _export(folder, content):
    folder.mkdir()
    (folder / "export.json").write_text(content)
    return folder


def _listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def look_alikes(tmp_path):
    """Folders named like staging folders that no export of `out` marked: never touched."""
    _export(tmp_path / ".out-mine", "the user's")
    other = _staging.make(tmp_path / "out-2")  # another export's, `out-2`
    return {".out-mine", other.name}


def _who(folder):
    """How the sweep names the process that left `folder` (read before it goes)."""
    marker = json.loads((folder / _staging.MARKER).read_text())
    return _folder_lock.describe(marker)


@pytest.mark.backend_independent(reason="folders and files only")
def test_killed_while_writing_its_staging_folder_is_removed(tmp_path, look_alikes, capsys):
    out = _export(tmp_path / "out", "earlier")
    staging = _staging.make(out)
    (staging / "saved_model").mkdir()
    who = _who(staging)
    _staging.sweep(out)
    assert not staging.exists() and (out / "export.json").read_text() == "earlier"
    assert {p.name for p in tmp_path.iterdir()} == {"out", *look_alikes}
    assert capsys.readouterr().err.splitlines() == [
        f"keras-seqattn: removed {staging}, an unfinished export of {out}: {who} was stopped "
        "while writing it"
    ]


@pytest.mark.backend_independent(reason="folders and files only")
@pytest.mark.parametrize("marked", [True, False], ids=["previous marked", "killed before"])
def test_killed_while_replacing_puts_the_earlier_export_back(tmp_path, look_alikes, marked, capsys):
    out = _export(tmp_path / "out", "earlier")
    staging = _staging.make(out)
    who = _who(staging)
    previous = _staging.move_aside(out, staging)
    if not marked:  # killed between the rename and the marker
        (previous / _staging.MARKER).unlink()
    _staging.sweep(out)
    assert _listing(out) == ["export.json"] and (out / "export.json").read_text() == "earlier"
    assert {p.name for p in tmp_path.iterdir()} == {"out", *look_alikes}
    assert capsys.readouterr().err.splitlines() == [
        f"keras-seqattn: put the earlier export of {out} back from {previous}: {who} was "
        "stopped while replacing it",
        f"keras-seqattn: removed {staging}, an unfinished export of {out}: {who} was stopped "
        "while writing it",
    ]


@pytest.mark.backend_independent(reason="folders and files only")
@pytest.mark.parametrize("unmarked", [True, False], ids=["moved in", "killed before unmarking"])
def test_killed_after_moving_in_removes_the_replaced_export(
    tmp_path, look_alikes, unmarked, monkeypatch, capsys
):
    out = _export(tmp_path / "out", "earlier")
    staging = _staging.make(out)
    (staging / "export.json").write_text("new")
    who = _who(staging)
    previous = _staging.move_aside(out, staging)
    if not unmarked:  # killed between the rename into `out` and the marker's deletion
        monkeypatch.setattr(_staging.pathlib.Path, "unlink", _killed)
    with contextlib.nullcontext() if unmarked else pytest.raises(KeyboardInterrupt):
        _staging.move_in(staging, out)
    monkeypatch.undo()
    assert (out / _staging.MARKER).exists() != unmarked
    _staging.sweep(out)
    assert _listing(out) == ["export.json"] and (out / "export.json").read_text() == "new"
    assert {p.name for p in tmp_path.iterdir()} == {"out", *look_alikes}
    marker = [
        f"keras-seqattn: removed the marker file {out / _staging.MARKER}: {who} was stopped "
        f"after moving the export into {out}, before deleting it"
    ]
    assert capsys.readouterr().err.splitlines() == [
        *([] if unmarked else marker),
        f"keras-seqattn: removed {previous}, the earlier export of {out}: {who} was stopped "
        "after replacing it",
    ]


def _killed(*args, **kwargs):
    raise KeyboardInterrupt("killed")


@pytest.mark.backend_independent(reason="folders and files only")
def test_an_out_made_anew_since_keeps_the_earlier_export_aside(tmp_path, look_alikes):
    out = _export(tmp_path / "out", "earlier")
    staging = _staging.make(out)
    previous = _staging.move_aside(out, staging)
    _export(out, "made since by the user")
    for _ in range(2):  # kept, and unmarked: a later sweep leaves it too
        _staging.sweep(out)
        assert (out / "export.json").read_text() == "made since by the user"
        assert _listing(previous) == ["export.json"]
    assert {p.name for p in tmp_path.iterdir()} == {"out", previous.name, *look_alikes}


@pytest.mark.only_backend("tensorflow", reason="the write itself runs on the TensorFlow backend")
def test_export_sweeps_before_it_writes(tmp_path, look_alikes, capsys):
    out = tmp_path / "out"
    staging = _staging.make(out)  # as a killed export left it: out never came
    who = _who(staging)
    vit = VisionTransformer(
        image_size=8, patch_size=4, num_classes=3, hidden_dim=8, num_layers=1, num_heads=2,
        mlp_dim=8, num_channels=1,
    )  # fmt: skip
    export_model(vit, out)
    assert not staging.exists() and (out / "saved_model" / "saved_model.pb").exists()
    assert sorted(p.name for p in out.iterdir()) == ["export.json", "saved_model"]
    assert {p.name for p in tmp_path.iterdir()} == {"out", *look_alikes}
    said = [line for line in capsys.readouterr().err.splitlines() if "keras-seqattn" in line]
    assert said == [
        f"keras-seqattn: removed {staging}, an unfinished export of {out}: {who} was stopped "
        "while writing it"
    ]
