"""Shared test set-up: backend selection, backend markers, a closed network.

The backend is fixed per process, so `scripts/test.py` runs this suite once per
backend. Two markers decide what runs where:

- `backend_independent(reason=...)`: the test touches no Keras backend (data
  pipelines, packaging, lint), so it runs once, in the tensorflow pass.
- `only_backend(name, reason=...)`: the test is meaningful on one backend only.
- `own_processes(reason=...)`: the test only starts processes of its own, which
  choose their backend themselves (notebooks, benchmark scripts); it runs once,
  in the torch pass, CI's shortest.
"""

import os
import socket

from tests import tfds_data_dir

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
if os.environ["KERAS_BACKEND"] == "torch":
    # One intra-op thread (inherited by subprocesses too). The suite's models are
    # tiny, so PyTorch's thread pool only adds synchronisation, and with the other
    # backends' passes on the same cores its threads wait on each other: a train
    # step of a small AttentionSeq2Seq took 4.3 s with two threads, 0.11 s with one.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
# The same for TensorFlow's kernels (its inter-op pool keeps its size: MirroredStrategy's
# collectives wait on one another there). The passes run side by side on CI's two
# cores, so a pool of two per process only adds waiting.
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
# XLA compiles every JAX program of the suite (each fit, each eager op's shape) and
# most run a few steps, so LLVM's optimisation costs more than it saves: 80 s -> 48 s
# for two layer test files, 111 -> 77 CPU-s for three fits. Semantics are XLA's; only
# the machine code is less tuned. Users' runs keep XLA's defaults.
XLA_TEST_FLAGS = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
os.environ.setdefault("XLA_FLAGS", XLA_TEST_FLAGS)
# Embedded datasets are generated once into the repository's test cache, a folder
# per version of the dataset code, and shared by the backend passes and reruns.
os.environ.setdefault("TFDS_DATA_DIR", str(tfds_data_dir.current()))

import keras  # noqa: E402
import pytest  # noqa: E402

BACKEND = keras.backend.backend()
PRIMARY_BACKEND = "tensorflow"
# The pass that takes the tests which only start processes of their own (with their
# own KERAS_BACKEND): the torch pass, the shortest, so the three passes that run side
# by side end near one another.
OWN_PROCESSES_PASS = "torch"


def pytest_addoption(parser):
    parser.addoption(
        "--benchmark-smokes",
        action="store_true",
        help="also run the benchmark scripts' --smoke modes (tests/test_benchmark*.py)",
    )


def pytest_report_header(config):
    return f"keras backend: {BACKEND} (keras {keras.__version__})"


def pytest_collection_modifyitems(config, items):
    for item in items:
        marker = item.get_closest_marker("backend_independent")
        if marker is not None and BACKEND != PRIMARY_BACKEND:
            item.add_marker(
                pytest.mark.skip(reason=f"backend independent; runs in the {PRIMARY_BACKEND} pass")
            )
        marker = item.get_closest_marker("own_processes")
        if marker is not None and BACKEND != OWN_PROCESSES_PASS:
            item.add_marker(
                pytest.mark.skip(reason=f"runs its own processes; in the {OWN_PROCESSES_PASS} pass")
            )
        marker = item.get_closest_marker("only_backend")
        if marker is not None:
            wanted = marker.args[0]
            reason = marker.kwargs.get("reason", "")
            if wanted != BACKEND:
                item.add_marker(pytest.mark.skip(reason=f"{wanted} only: {reason}"))


def _is_local(address):
    if not isinstance(address, tuple):
        return True  # AF_UNIX paths and the like never leave the machine.
    host = str(address[0])
    return host in ("localhost", "::1") or host.startswith("127.")


@pytest.fixture(autouse=True)
def _closed_network(monkeypatch):
    """Fail loudly if a test reaches for the network: CI and users may have none."""
    real_connect = socket.socket.connect

    def connect(sock, address):
        if not _is_local(address):
            raise OSError(f"Network access is blocked in tests. Received: address={address}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.fixture(autouse=True)
def _seeded():
    keras.utils.set_random_seed(1234)
    yield
    # Without a forced `gc.collect()`: with TensorFlow, JAX and torch loaded it
    # took 0.3-3 s per test, a quarter of CI's time; Python's own collector
    # still frees the models between tests.
    keras.backend.clear_session(free_memory=False)
