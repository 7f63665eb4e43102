"""Generates each embedded dataset once per test session, with the network closed.

The data lives under `TFDS_DATA_DIR` (the repository's test cache, see
tests/conftest.py) in a folder named after a hash of the dataset code, so
editing a builder regenerates its data instead of testing a stale copy.
"""

import contextlib
import hashlib
import os
import pathlib
import shutil
import socket

import pytest

from keras_seqattn import datasets
from tests.conftest import _is_local

_CODE = pathlib.Path(datasets.__file__).parent


def _code_digest():
    digest = hashlib.sha256()
    for path in sorted(_CODE.glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


@contextlib.contextmanager
def closed_network():
    """Session fixtures start before the per-test network block: close it here too."""
    real_connect = socket.socket.connect

    def connect(sock, address):
        if not _is_local(address):
            raise OSError(f"Network access is blocked in tests. Received: address={address}")
        return real_connect(sock, address)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", connect)
        yield


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    """A TFDS data dir for the embedded datasets of the current dataset code."""
    base = os.environ.get("TFDS_DATA_DIR")
    base = pathlib.Path(base) if base else tmp_path_factory.mktemp("tfds")
    current = base / f"keras_seqattn_datasets-{_code_digest()}"
    for stale in base.glob("keras_seqattn_datasets-*"):
        if stale != current:
            shutil.rmtree(stale, ignore_errors=True)
    return str(current)


@pytest.fixture(scope="session")
def prepared(data_dir):
    """`prepared(name)`: the builder of an embedded dataset, generated on first use."""
    builders = {}

    def get(name):
        if name not in builders:
            with closed_network():
                builders[name] = datasets.prepare(name, data_dir)
        return builders[name]

    return get
