"""Runs the test suite once per Keras backend and prints one combined summary.

Keras fixes its backend when it is first imported, so each backend gets its own
pytest process. Tests marked `backend_independent` run only in the tensorflow pass
(see tests/conftest.py). Extra arguments go to pytest unchanged:

    python scripts/test.py                       # all three backends
    python scripts/test.py --backends jax -k tokenizer
    python scripts/test.py --jobs 1              # one backend after another, live output

The backend passes run side by side (`--jobs`, default: all at once): small
models leave a core idle much of the time while Python and the compilers work,
and with every pass started together no core idles through a last pass alone.
Each pass's output is printed whole when it ends. The embedded datasets are
generated first, once (two processes, every other dataset each), so that no two
passes write the same files.
"""

import argparse
import concurrent.futures
import os
import pathlib
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

BACKENDS = ("tensorflow", "jax", "torch")
REPO = pathlib.Path(__file__).resolve().parents[1]
# Each pass's junit report stays here after the run (per-test times for issue
# work: which tests cost what, per backend).
REPORTS = REPO / ".test_reports"
# The backend whose pass runs as two processes side by side (see `passes`).
SPLIT = {"tensorflow": REPO / "tests" / "export"}
sys.path.insert(0, str(REPO))
from tests import tfds_data_dir  # noqa: E402  (standard library only)

# The test cache that tests/conftest.py points TFDS at: a folder per dataset code.
TFDS_DATA_DIR = str(tfds_data_dir.current())
# Two processes share the embedded datasets, every other one each (CI has two
# cores; one process took 178 s there, most of it in Python, not in I/O).
PREPARERS = 2
PREPARE = (
    "import sys\n"
    "from keras_seqattn import datasets\n"
    "part, parts = int(sys.argv[1]), int(sys.argv[2])\n"
    "for name in datasets.EMBEDDED_DATASETS[part::parts]:\n"
    "    datasets.prepare(name)\n"
)


def _counts(junit_path):
    """(passed, failed, skipped) from a pytest junit XML report."""
    if not os.path.exists(junit_path):
        return 0, 0, 0
    suite = ET.parse(junit_path).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    tests = int(suite.get("tests", 0))
    failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
    skipped = int(suite.get("skipped", 0))
    return tests - failed - skipped, failed, skipped


def passes(backends, pytest_args, jobs):
    """`(label, backend, pytest arguments)` of each pytest process to run.

    Side by side, with no test paths given, the tensorflow pass is two processes:
    tests/export (every export and TFLite conversion is TensorFlow's) and the rest.
    It is the longest pass, and alone it ran on one core at the end while the
    other core idled.
    """
    paths_given = any(os.path.exists(arg) for arg in pytest_args if not arg.startswith("-"))
    runs = []
    for backend in backends:
        if backend in SPLIT and jobs > 1 and not paths_given:
            runs.append((f"{backend}-export", backend, [str(SPLIT[backend]), *pytest_args]))
            runs.append((backend, backend, [f"--ignore={SPLIT[backend]}", *pytest_args]))
        else:
            runs.append((backend, backend, list(pytest_args)))
    return runs


def combined(results):
    """One backend's (exit code, seconds, counts, CPU seconds) from its processes' results.

    A process that collected nothing (exit 5) is fine when another one ran tests
    (a `-k` may select tests of one part only).
    """
    codes = [result[0] for result in results]
    if any(code == 0 for code in codes) and all(code in (0, 5) for code in codes):
        code = 0
    else:
        code = next((code for code in codes if code != 0), 0)
    counts = [sum(result[2][i] for result in results) for i in range(3)]
    cpu = sum(result[4] for result in results)
    return code, max(result[1] for result in results), counts, cpu


def _wait(process):
    """`(exit code, CPU seconds)` of `process` and the processes it waited for.

    CPU seconds, not wall time, are what the passes compete for on two cores,
    so they compare across runs on a machine shared with other work.
    """
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, usage.ru_utime + usage.ru_stime


def run_backend(label, backend, pytest_args, report_dir, live):
    """Runs pytest under `backend`; returns (exit code, seconds, counts, output, CPU seconds)."""
    junit = os.path.join(report_dir, f"{label}.xml")
    env = dict(os.environ, KERAS_BACKEND=backend)
    command = [sys.executable, "-m", "pytest", f"--junitxml={junit}", *pytest_args]
    start = time.perf_counter()
    if live:
        print(f"\n===== KERAS_BACKEND={backend} ({label}) =====", flush=True)
        process, output = subprocess.Popen(command, env=env), ""
    else:
        print(f"started KERAS_BACKEND={backend} ({label})", flush=True)
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        output = process.stdout.read()
        process.stdout.close()
    code, cpu = _wait(process)
    return code, time.perf_counter() - start, _counts(junit), output, cpu


def prepare_datasets():
    """Generates every embedded dataset into the test cache, once, before the passes."""
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    start = time.perf_counter()
    processes = [
        subprocess.Popen([sys.executable, "-c", PREPARE, str(part), str(PREPARERS)], env=env)
        for part in range(PREPARERS)
    ]
    codes = [process.wait() for process in processes]
    code = next((code for code in codes if code != 0), 0)
    print(f"embedded datasets ready in {time.perf_counter() - start:.0f}s", flush=True)
    return code


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--backends",
        default=",".join(BACKENDS),
        help="comma-separated Keras backends to run (default: all three)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        help="backend passes run at once (default: all of them)",
    )
    args, pytest_args = parser.parse_known_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = sorted(set(backends) - set(BACKENDS))
    if unknown:
        parser.error(f"unknown backend(s) {unknown}; expected some of {list(BACKENDS)}")

    if args.jobs is not None and args.jobs < 1:
        parser.error(f"--jobs must be at least 1; received {args.jobs}")
    jobs = min(args.jobs or len(backends), len(backends))

    os.environ.setdefault("TFDS_DATA_DIR", TFDS_DATA_DIR)
    if jobs > 1 and prepare_datasets() != 0:
        print("could not generate the embedded datasets; see the error above")
        return 1
    results = {}
    REPORTS.mkdir(exist_ok=True)
    runs = passes(backends, pytest_args, jobs)
    workers = len(runs) if args.jobs is None else jobs
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        futures = {
            pool.submit(run_backend, label, backend, run_args, REPORTS, jobs == 1): (label, backend)
            for label, backend, run_args in runs
        }
        for future in concurrent.futures.as_completed(futures):
            label, backend = futures[future]
            results[label] = future.result()
            if jobs > 1:
                print(
                    f"\n===== KERAS_BACKEND={backend} ({label}) =====\n{results[label][3]}", end=""
                )
                print("", flush=True)
    for label, _, _ in runs:
        code, seconds, _, _, cpu = results[label]
        print(f"{label}: pytest exit {code}, {seconds:.1f}s, {cpu:.0f} CPU-s")
    results = {
        backend: combined([results[label] for label, b, _ in runs if b == backend])
        for backend in backends
    }

    print("\n===== summary per backend =====")
    totals, cpu_total = [0, 0, 0], 0.0
    for backend, (code, seconds, counts, cpu) in results.items():
        status = "ok" if code == 0 else f"FAILED (pytest exit {code})"
        print(
            f"{backend:<11} {counts[0]:>4} passed {counts[1]:>3} failed "
            f"{counts[2]:>3} skipped  {seconds:7.1f}s {cpu:7.0f} CPU-s  {status}"
        )
        totals = [t + c for t, c in zip(totals, counts)]
        cpu_total += cpu
    print(
        f"all backends: {totals[0]} passed, {totals[1]} failed, {totals[2]} skipped; "
        f"{cpu_total:.0f} CPU-s (subprocesses included)"
    )
    # Any non-zero pytest exit fails the run, including 5 ("no tests collected").
    return 0 if all(result[0] == 0 for result in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
