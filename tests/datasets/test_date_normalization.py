import collections
import datetime

import pytest
import tensorflow_datasets as tfds

from keras_seqattn.datasets.date_normalization import FORMATS, LOCALES

pytestmark = pytest.mark.backend_independent(reason="data pipeline; no Keras backend involved")


@pytest.fixture(scope="module")
def examples(prepared):
    """Each split as a list of `{feature: bytes}` dicts (read in one batch: fast)."""
    builder = prepared("date_normalization")
    found = {}
    for split in builder.info.splits:
        columns = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1))
        found[split] = [
            dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)
        ]
    return found


def test_tfds_load_reads_it(prepared, data_dir):
    prepared("date_normalization")
    ds = tfds.load("date_normalization", split="validation", data_dir=data_dir)
    assert sorted(ds.element_spec) == ["format", "locale", "source", "target"]
    assert ds.cardinality().numpy() == 2_000


def test_targets_are_iso_dates_in_range(examples):
    for split, split_examples in examples.items():
        for ex in split_examples:
            date = datetime.date.fromisoformat(ex["target"].decode())
            assert datetime.date(1950, 1, 1) <= date <= datetime.date(2049, 12, 31), split


def test_splits_hold_disjoint_dates(examples):
    dates = {
        split: {ex["target"] for ex in split_examples} for split, split_examples in examples.items()
    }
    assert len(examples["train"]) == 40_000
    assert not dates["train"] & dates["test"]
    assert not dates["train"] & dates["validation"]
    assert not dates["validation"] & dates["test"]


def test_every_locale_and_format_is_used(examples):
    pairs = {(ex["locale"].decode(), ex["format"].decode()) for ex in examples["train"]}
    assert len(pairs) == len(LOCALES) * len(FORMATS) - 1
    assert ("en_US", "short") not in pairs


def test_no_source_has_two_targets(examples):
    targets = collections.defaultdict(set)
    for split_examples in examples.values():
        for ex in split_examples:
            targets[ex["source"]].add(ex["target"])
    assert max(len(found) for found in targets.values()) == 1
