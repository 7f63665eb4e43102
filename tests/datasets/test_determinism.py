"""Generation depends only on the builder version: not on the run, nor on hashing."""

import hashlib
import json
import os
import pathlib
import subprocess
import sys

import pytest
import tensorflow as tf

from keras_seqattn import datasets

pytestmark = [
    pytest.mark.backend_independent(reason="data pipeline; no Keras backend involved"),
    pytest.mark.slow,  # Two generations, one in a fresh Python process: about 20 s.
]

REPO = pathlib.Path(__file__).resolve().parents[2]
SMALL = {"train": 150, "validation": 20, "test": 20}
SHRINKABLE = (
    datasets.NumberWords,
    datasets.NumberLists,
    datasets.DateNormalization,
    datasets.DigitScenes,
)


def generate_all(data_dir):
    """Generates every embedded dataset into `data_dir`; digests of its records.

    Digests of re-serialized records, not of files: protobuf writes the feature
    map of a `tf.train.Example` in an order that varies between processes.
    """
    digests = {}
    for name in datasets.EMBEDDED_DATASETS:
        datasets.prepare(name, str(data_dir))
    for path in sorted(pathlib.Path(data_dir).rglob("*.tfrecord-*")):
        digest = hashlib.sha256()
        for record in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
            example = tf.train.Example.FromString(record)
            digest.update(example.SerializeToString(deterministic=True))
        digests[path.relative_to(data_dir).as_posix()] = digest.hexdigest()
    return digests


SUBPROCESS = f"""
import json, sys
from keras_seqattn import datasets
from tests.datasets.test_determinism import SHRINKABLE, generate_all
for builder in SHRINKABLE:
    builder.SPLIT_SIZES = {SMALL!r}
print(json.dumps(generate_all(sys.argv[1])))
"""


def test_two_generations_write_identical_files(tmp_path, monkeypatch):
    for builder in SHRINKABLE:
        monkeypatch.setattr(builder, "SPLIT_SIZES", SMALL)
    here = generate_all(tmp_path / "here")
    # Another process, with another string hash seed than this one's.
    seed = "1" if os.environ.get("PYTHONHASHSEED") != "1" else "2"
    env = dict(os.environ, PYTHONHASHSEED=seed, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, "-c", SUBPROCESS, str(tmp_path / "there")],
        cwd=REPO, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    there = json.loads(result.stdout.strip().splitlines()[-1])
    # 9 datasets (3 configs each of number_words and number_lists), 3 splits each.
    assert len(here) == 9 * 3
    assert here == there
