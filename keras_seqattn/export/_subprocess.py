"""The export of a `.keras` file in a subprocess on the TensorFlow backend.

The SavedModel and TFLite paths need TensorFlow graphs of the model (JAX exports
an `XlaCallModule` that the TFLite converter cannot legalise; PyTorch needs
torch-xla), and the Keras backend is fixed per process, so a JAX or PyTorch
session re-runs the export here, with `KERAS_BACKEND=tensorflow`. Errors come
back as JSON on stdout and are raised again, with their type, in the caller.
"""

import json
import os
import subprocess
import sys
import warnings

_ERRORS = {"ValueError": ValueError, "TypeError": TypeError}


def export_under_tensorflow(path, out, options, lock=None):
    """Runs `export_model(path, out, **options)` in a TensorFlow-backend subprocess.

    `lock`: the descriptor by which the caller holds `out` (`_folder_lock.descriptor`),
    passed on so that `out` stays held while the subprocess writes it, even if the
    caller is killed first.
    """
    env = dict(os.environ, KERAS_BACKEND="tensorflow")
    completed = subprocess.run(
        [sys.executable, "-m", "keras_seqattn.export._subprocess", path, out, json.dumps(options)],
        env=env,
        capture_output=True,
        text=True,
        pass_fds=() if lock is None else (lock,),
    )
    report = _last_json_line(completed.stdout)
    if completed.returncode == 0 and report is not None:
        for note in report.get("notes", []):
            warnings.warn(note, stacklevel=4)
        return
    if report is not None and report.get("error") in _ERRORS:
        raise _ERRORS[report["error"]](report["message"])
    raise RuntimeError(
        "The export on the TensorFlow backend failed "
        f"(exit code {completed.returncode}):\n{completed.stderr[-4000:]}"
    )


def _last_json_line(stdout):
    for line in reversed(stdout.splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                return None
    return None


def _main(path, out, options):
    import pathlib

    import keras

    # Not `export_model`: the calling process holds `out`, so this one must not take it.
    from keras_seqattn.export._write import export_here

    if keras.backend.backend() != "tensorflow":
        raise SystemExit("the export subprocess needs KERAS_BACKEND=tensorflow")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the notes go back to the caller in the report
        try:
            export_here(path, pathlib.Path(out), json.loads(options))
        except (ValueError, TypeError) as error:
            print(json.dumps({"error": type(error).__name__, "message": str(error)}))
            return 2
    with open(os.path.join(out, "export.json"), encoding="utf-8") as file:
        notes = json.load(file)["notes"]
    print(json.dumps({"notes": notes}))
    return 0


if __name__ == "__main__":
    sys.exit(_main(*sys.argv[1:]))
