"""A damaged prepared dataset is regenerated (embedded) or explained (public)."""

import logging
import os
import shutil

import pytest
import tensorflow_datasets as tfds

from keras_seqattn import datasets
from keras_seqattn.datasets import loader

pytestmark = pytest.mark.backend_independent(reason="data pipeline; no Keras backend involved")


@pytest.fixture
def damaged(prepared, tmp_path):
    """`damaged(how)`: a copy of the prepared `digits`, broken one way."""
    source = prepared("digits").data_path

    def damage(how):
        variant = tmp_path / "digits" / source.name
        shutil.copytree(source, variant)
        shard = variant / "digits-train.tfrecord-00000-of-00001"
        if how == "deleted shard":
            shard.unlink()
        elif how == "truncated shard":
            os.truncate(shard, shard.stat().st_size // 2)
        elif how == "no dataset_info.json":
            (variant / "dataset_info.json").unlink()
        return str(tmp_path)

    return damage


HOW = ["deleted shard", "truncated shard", "no dataset_info.json"]


@pytest.mark.parametrize("how", HOW)
def test_embedded_dataset_is_regenerated(damaged, how, caplog):
    data_dir = damaged(how)
    with caplog.at_level(logging.WARNING, logger=loader.__name__):
        ds = datasets.load("digits", split="train", data_dir=data_dir)
    assert len(list(ds)) == 1258
    assert "Regenerating digits" in caplog.text


@pytest.mark.parametrize("how", HOW)
def test_public_dataset_says_how_to_fix_it(damaged, how, monkeypatch):
    monkeypatch.setattr(loader, "_EMBEDDED_NAMES", ())  # Treat `digits` as public.
    data_dir = damaged(how)
    with pytest.raises(ValueError, match="force_redownload") as error:
        datasets.load("digits", split="train", data_dir=data_dir)
    assert os.path.join(data_dir, "digits", "1.0.0") in str(error.value)
    # The advice works (digits regenerate locally, offline).
    ds = datasets.load("digits", "train", data_dir=data_dir, download_mode="force_redownload")
    assert len(list(ds)) == 1258


def test_whole_dataset_is_not_damaged(prepared):
    for name in datasets.EMBEDDED_DATASETS:
        assert loader.find_damage(prepared(name)) is None
    assert tfds.builder("digits", data_dir="/nonexistent").is_prepared() is False
