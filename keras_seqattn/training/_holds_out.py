"""`holds_out`: a training job's `out` folder is its own while the job runs."""

import functools
import inspect
import sys

from keras_seqattn import _folder_lock
from keras_seqattn.training._resume import CHECKPOINT, _output_folder


def holds_out(job):
    """Decorates a training job: it runs holding its `out` folder (`_folder_lock.hold`).

    Before anything else the job does, so that a second job on a folder that a
    running one holds is refused before it prepares any data; the record of a
    run still going is not on disk yet for `ResumableRun` to compare.
    """
    signature = inspect.signature(job)

    @functools.wraps(job)
    def run(*args, **kwargs):
        out = _output_folder(signature.bind(*args, **kwargs).arguments.get("out"))
        with _folder_lock.hold(out) as killed:
            if killed and isinstance(killed.get("pid"), int):
                _remove_temporaries(out, killed)
            return job(*args, **kwargs)

    return run


def _remove_temporaries(out, killed):
    """Removes the temporary files of the killed run `killed` (a `_folder_lock.record()`).

    `write_text_atomically` and `save_model_atomically` name them after their
    process, so they are recognisably its own; a `.tmp.keras` is a whole model.
    """
    pid = killed["pid"]
    left = [
        path
        for folder in (out, out / CHECKPOINT)
        for path in (folder.glob(f".*.{pid}.tmp*") if folder.is_dir() else [])
        if path.name.endswith((f".{pid}.tmp", f".{pid}.tmp.keras")) and path.is_file()
    ]
    for path in left:
        path.unlink()
    if left:
        names = ", ".join(str(path.relative_to(out)) for path in left)
        print(
            f"keras-seqattn: removed from {out} what {_folder_lock.describe(killed)} "
            f"left half written: {names}",
            file=sys.stderr,
            flush=True,
        )
