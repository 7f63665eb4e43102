"""Runs the `--smoke` mode of several benchmark scripts in one process.

Each smoke checks that its script still runs, so CI runs them all; in separate
processes each paid for importing TensorFlow, Keras and the package again (about
10 CPU seconds each). Here every script runs as `python benchmarks/<script>
--smoke --out <folder> [args]` would, as `__main__` with that `sys.argv`, one
after another in this process; scripts that start workers still start them.
Between runs the Keras session, the global dtype policy, `os.environ` and
matplotlib's figures are reset, so no run sees another's state.

    python benchmarks/smokes.py runs.json

`runs.json` lists `{"name", "script", "args", "out"}` objects, `out` the
folder given to `--out`, and optionally `"keep": {file: copy}`: files of `out`
copied when the run ends (what a later run into the same folder rewrites).
Writes `<out>/smoke_<name>.json` for each run: `ok`, `seconds` and
`cpu_seconds` (its workers' included), and the traceback and the last output
of a run that failed. Exits 0 when every run could be tried; a failed run
fails only its own check.
"""

import contextlib
import io
import json
import os
import pathlib
import resource
import runpy
import shutil
import sys
import time
import traceback

HERE = pathlib.Path(__file__).resolve().parent


def run_one(script, args, out):
    """Runs `HERE/script --smoke --out out *args` as `__main__`: `(ok, output, traceback)`."""
    argv, environ = sys.argv, dict(os.environ)
    sys.argv = [str(HERE / script), "--smoke", "--out", str(out), *args]
    output = io.StringIO()
    error = None
    try:
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            runpy.run_path(str(HERE / script), run_name="__main__")
    except SystemExit as exit:
        if exit.code not in (None, 0):
            error = f"SystemExit: {exit.code}"
    except Exception:
        error = traceback.format_exc()
    finally:
        sys.argv = argv
        os.environ.clear()
        os.environ.update(environ)
        reset()
    return error is None, output.getvalue(), error


def reset():
    """Leaves no Keras or matplotlib state of one run to the next."""
    if "keras" in sys.modules:
        import keras

        keras.backend.clear_session()
        keras.config.set_dtype_policy("float32")
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


def cpu_seconds():
    """CPU time of this process and of its finished workers."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def main():
    sys.path.insert(0, str(HERE))  # gpu.py imports machine_efficiency, as when run alone.
    runs = json.loads(pathlib.Path(sys.argv[1]).read_text())
    for run in runs:
        out = pathlib.Path(run["out"])
        out.mkdir(parents=True, exist_ok=True)
        start, cpu = time.perf_counter(), cpu_seconds()
        ok, output, error = run_one(run["script"], run["args"], out)
        seconds = round(time.perf_counter() - start, 1)
        cpu = round(cpu_seconds() - cpu, 1)
        for name, copy in run.get("keep", {}).items():
            if (out / name).exists():
                shutil.copyfile(out / name, out / copy)
        record = {"name": run["name"], "ok": ok, "seconds": seconds, "cpu_seconds": cpu}
        if not ok:
            record.update(traceback=error, output_tail=output[-3000:])
        (out / f"smoke_{run['name']}.json").write_text(json.dumps(record, indent=2))
        print(f"{run['name']}: {'ok' if ok else 'FAILED'}, {seconds} s, {cpu} CPU s", flush=True)


if __name__ == "__main__":
    main()
