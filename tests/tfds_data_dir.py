"""The suite's TFDS data dir: one folder per version of the dataset code.

The embedded datasets are generated once into it (by `scripts/test.py` before
the backend passes, or by the first test that needs one) and shared by every
pass and rerun. The folder is named after a hash of `keras_seqattn/datasets/`,
so editing a builder regenerates its data instead of testing a stale copy.
Standard library only: `scripts/test.py` imports it before any backend starts.
"""

import hashlib
import pathlib

REPO = pathlib.Path(__file__).resolve().parents[1]
CODE = REPO / "keras_seqattn" / "datasets"
CACHE = REPO / ".test_data" / "tensorflow_datasets"
PREFIX = "keras_seqattn_datasets-"


def code_digest():
    """12 hex digits of the dataset code (every `keras_seqattn/datasets/*.py`)."""
    digest = hashlib.sha256()
    for path in sorted(CODE.glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def current(base=CACHE):
    """`base`'s folder for the current dataset code."""
    return pathlib.Path(base) / f"{PREFIX}{code_digest()}"
