"""An export's staging folders: made beside `out`, marked as ours, swept when left behind.

`export_model` writes an export into a new hidden folder beside `out`
(`.<name>-<random>`) and renames it into place, so that no reader sees half an
export; an earlier export it replaces is first moved aside, to the staging
folder's name with `-previous`, and deleted once the new one is in place. A
process killed meanwhile (SIGKILL, power loss) leaves these folders behind.
Each holds a marker file, `.keras-seqattn-export`, naming it as an export's
`staging` or `previous` folder, the `out` it belongs to and the process.

The next export of the same `out`, which holds `out` (`_folder_lock.hold`), so
that no export of it can still be running, sweeps them (`sweep`): an earlier
export moved aside goes back to `out` if the new one never arrived there,
everything else marked is removed, and so is a marker left inside `out` (by a
process killed between a rename into `out` and the marker's deletion), each
said in one line on stderr. A folder without the marker is never touched,
however its name looks.
"""

import contextlib
import json
import os
import pathlib
import shutil
import sys
import tempfile

from keras_seqattn import _folder_lock

MARKER = ".keras-seqattn-export"
_REPLACING = "was stopped while replacing it"
_REPLACED = "was stopped after replacing it"


def make(out):
    """A new, marked staging folder beside `out`."""
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    _mark(staging, out, "staging")
    return staging


def previous_of(staging):
    """Where the earlier export at `out` waits while `staging` moves in."""
    return staging.with_name(staging.name + "-previous")


def move_aside(out, staging):
    """Moves the earlier export at `out` to `previous_of(staging)`, marked; returns it."""
    previous = previous_of(staging)
    out.rename(previous)
    _mark(previous, out, "previous")
    return previous


def move_in(staging, out):
    """Renames `staging` to `out`, then unmarks it: the export holds no file of ours.

    Renamed first: a process killed in between leaves a marked export at `out`,
    which `sweep` unmarks, where an unmarked staging folder would stay forever.
    """
    staging.rename(out)
    (out / MARKER).unlink()


def put_back(previous, out):
    """Renames the earlier export `previous` back to `out`, unmarked."""
    previous.rename(out)
    with contextlib.suppress(FileNotFoundError):
        (out / MARKER).unlink()


def sweep(out):
    """Puts back or removes what killed exports of `out` left; the caller holds `out`."""
    _unmark(out)
    left = []
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for path in pathlib.Path(out.parent).iterdir():
            if path.name.startswith(f".{out.name}-") and not path.is_symlink():
                marker = _marker(path)
                if marker.get("out") == out.name and marker.get("role") in ("staging", "previous"):
                    left.append((marker, path))
    stagings = {path for marker, path in left if marker["role"] == "staging"}
    for marker, path in left:
        if marker["role"] == "staging":
            _sweep_staging(path, out, marker)
        elif path.with_name(path.name.removesuffix("-previous")) not in stagings:
            # The new export had moved in, or `out` was removed since: this is the
            # export it replaced, deleted once the new one is in place.
            who = _folder_lock.describe(marker)
            if _exists(out):
                shutil.rmtree(path)
                _say(f"removed {path}, the earlier export of {out}: {who} {_REPLACED}")
            else:
                put_back(path, out)
                _say(f"put the earlier export of {out} back from {path}: {who} {_REPLACING}")


def _sweep_staging(staging, out, marker):
    who = _folder_lock.describe(marker)
    previous = previous_of(staging)  # marked or not: the staging folder vouches for it
    if previous.is_dir() and not previous.is_symlink():
        if _exists(out):  # made anew since: the earlier export stays, as the user's
            with contextlib.suppress(FileNotFoundError):
                (previous / MARKER).unlink()
            _say(
                f"kept {previous}, the earlier export of {out}: {who} {_REPLACING}, "
                f"and {out} has been made again since"
            )
        else:
            put_back(previous, out)
            _say(f"put the earlier export of {out} back from {previous}: {who} {_REPLACING}")
    shutil.rmtree(staging)
    _say(f"removed {staging}, an unfinished export of {out}: {who} was stopped while writing it")


def _unmark(out):
    """Deletes a marker inside `out`: its process was killed after renaming the
    folder into `out` (`move_in`, `put_back`) but before deleting the marker."""
    if out.is_symlink() or not out.is_dir():
        return
    marker = _marker(out)
    if marker.get("out") == out.name and marker.get("role") in ("staging", "previous"):
        with contextlib.suppress(FileNotFoundError):
            (out / MARKER).unlink()
        _say(
            f"removed the marker file {out / MARKER}: {_folder_lock.describe(marker)} was "
            f"stopped after moving the export into {out}, before deleting it"
        )


def _mark(folder, out, role):
    marker = dict(_folder_lock.record(), out=out.name, role=role)
    (folder / MARKER).write_text(json.dumps(marker) + "\n", encoding="utf-8")


def _marker(folder):
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return marker if isinstance(marker, dict) else {}


def _exists(path):
    return os.path.lexists(path)


def _say(text):
    print(f"keras-seqattn: {text}", file=sys.stderr, flush=True)
