"""Runs the test suite once per Keras backend and prints one combined summary.

Keras fixes its backend when it is first imported, so each backend gets its own
pytest process. Tests marked `backend_independent` run only in the tensorflow pass
(see tests/conftest.py). Extra arguments go to pytest unchanged:

    python scripts/test.py                       # all three backends
    python scripts/test.py --backends jax -k tokenizer
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

BACKENDS = ("tensorflow", "jax", "torch")


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


def run_backend(backend, pytest_args, report_dir):
    junit = os.path.join(report_dir, f"{backend}.xml")
    env = dict(os.environ, KERAS_BACKEND=backend)
    print(f"\n===== KERAS_BACKEND={backend} =====", flush=True)
    start = time.perf_counter()
    code = subprocess.call(
        [sys.executable, "-m", "pytest", f"--junitxml={junit}", *pytest_args], env=env
    )
    return code, time.perf_counter() - start, _counts(junit)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--backends",
        default=",".join(BACKENDS),
        help="comma-separated Keras backends to run (default: all three)",
    )
    args, pytest_args = parser.parse_known_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = sorted(set(backends) - set(BACKENDS))
    if unknown:
        parser.error(f"unknown backend(s) {unknown}; expected some of {list(BACKENDS)}")

    results = {}
    with tempfile.TemporaryDirectory() as report_dir:
        for backend in backends:
            results[backend] = run_backend(backend, pytest_args, report_dir)

    print("\n===== summary per backend =====")
    totals = [0, 0, 0]
    for backend, (code, seconds, counts) in results.items():
        status = "ok" if code == 0 else f"FAILED (pytest exit {code})"
        print(
            f"{backend:<11} {counts[0]:>4} passed {counts[1]:>3} failed "
            f"{counts[2]:>3} skipped  {seconds:7.1f}s  {status}"
        )
        totals = [t + c for t, c in zip(totals, counts)]
    print(f"all backends: {totals[0]} passed, {totals[1]} failed, {totals[2]} skipped")
    # Any non-zero pytest exit fails the run, including 5 ("no tests collected").
    return 0 if all(code == 0 for code, _, _ in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
