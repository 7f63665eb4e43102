import numpy as np
import pytest
import tensorflow_datasets as tfds

from keras_seqattn.datasets._digit_source import POOL_SIZES, digit_pools

pytestmark = pytest.mark.backend_independent(reason="data pipeline; no Keras backend involved")


def test_tfds_load_generates_it_offline(tmp_path):
    ds = tfds.load("digits", split="validation", data_dir=str(tmp_path))
    images, labels = zip(*[(ex["image"], ex["label"]) for ex in tfds.as_numpy(ds)], strict=True)
    assert len(images) == POOL_SIZES["validation"]
    assert images[0].shape == (32, 32, 1) and images[0].dtype == np.uint8
    assert set(labels) == set(range(10))


def test_splits_are_the_shared_pools(prepared):
    builder = prepared("digits")
    pools = digit_pools()
    assert builder.info.features["label"].names[7] == "seven"
    for split, (pool_images, pool_labels) in pools.items():
        examples = list(tfds.as_numpy(builder.as_dataset(split=split)))
        found = {ex["image"][::4, ::4, 0].tobytes(): ex["label"] for ex in examples}
        expected = {
            image.tobytes(): label for image, label in zip(pool_images, pool_labels, strict=True)
        }
        assert found == expected
