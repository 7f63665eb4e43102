"""Generates each embedded dataset once per test session, with the network closed.

The data lives in the suite's TFDS data dir for the current dataset code
(`tests/tfds_data_dir.py`), where `scripts/test.py` generates it before the
passes, so these tests read what every other test reads instead of making a
second copy.
"""

import contextlib
import os
import pathlib
import shutil
import socket

import pytest

from keras_seqattn import datasets
from tests import tfds_data_dir
from tests.conftest import _is_local


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
    """A TFDS data dir for the embedded datasets of the current dataset code.

    `TFDS_DATA_DIR` when it is already that folder (tests/conftest.py's
    default), else that folder under it (or under a temporary folder); older
    folders of other code versions beside it are removed.
    """
    base = os.environ.get("TFDS_DATA_DIR")
    base = pathlib.Path(base) if base else tmp_path_factory.mktemp("tfds")
    current = tfds_data_dir.current(base)
    if base.name == current.name:  # already the current version's folder
        base, current = base.parent, base
    for stale in base.glob(f"{tfds_data_dir.PREFIX}*"):
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
