import numpy as np
import pytest
import tensorflow_datasets as tfds

from keras_seqattn.datasets._digit_source import DIGIT_WORDS, digit_pools
from keras_seqattn.datasets.digit_scenes import CANVAS, DIGIT_SIZE, MIN_CENTRE_GAP

pytestmark = pytest.mark.backend_independent(reason="data pipeline; no Keras backend involved")


@pytest.fixture(scope="module")
def scenes(prepared):
    builder = prepared("digit_scenes")
    splits = {"train": "train[:2000]", "validation": "validation", "test": "test"}
    return {
        name: list(tfds.as_numpy(builder.as_dataset(split=split))) for name, split in splits.items()
    }


def _pixel_boxes(bboxes):
    return np.round(np.asarray(bboxes) * CANVAS).astype(int)  # (n, 4): y0, x0, y1, x1


def test_tfds_load_reads_it(prepared, data_dir):
    builder = prepared("digit_scenes")
    assert {s: i.num_examples for s, i in builder.info.splits.items()} == {
        "train": 20_000,
        "validation": 1_000,
        "test": 1_000,
    }
    example = next(iter(tfds.as_numpy(tfds.load("digit_scenes", split="test", data_dir=data_dir))))
    assert example["image"].shape == (64, 64, 1) and example["image"].dtype == np.uint8


def test_captions_name_the_digits_in_order(scenes):
    counts = set()
    for ex in scenes["train"]:
        words = ex["caption"].decode().split()
        assert words == [DIGIT_WORDS[d] for d in ex["digits"]]
        assert len(ex["bboxes"]) == len(words)
        counts.add(len(words))
    assert counts == {2, 3, 4, 5}


def test_boxes_are_sorted_apart_and_inside(scenes):
    for ex in scenes["train"]:
        boxes = _pixel_boxes(ex["bboxes"])
        assert (boxes >= 0).all() and (boxes <= CANVAS).all()
        assert ((boxes[:, 2:] - boxes[:, :2]) == DIGIT_SIZE).all()
        centres = (boxes[:, 1] + boxes[:, 3]) / 2
        assert (np.diff(centres) >= MIN_CENTRE_GAP).all()
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                apart_x = abs(boxes[i, 1] - boxes[j, 1]) >= DIGIT_SIZE
                apart_y = abs(boxes[i, 0] - boxes[j, 0]) >= DIGIT_SIZE
                assert apart_x or apart_y


def test_each_box_holds_its_digit_from_the_split_pool(scenes):
    pools = digit_pools()
    for split, split_scenes in scenes.items():
        pool_images, pool_labels = pools[split]
        by_bytes = {
            image.tobytes(): label for image, label in zip(pool_images, pool_labels, strict=True)
        }
        for ex in split_scenes:
            for (y0, x0, y1, x1), digit in zip(
                _pixel_boxes(ex["bboxes"]), ex["digits"], strict=True
            ):
                crop = ex["image"][y0:y1, x0:x1, 0]
                assert crop.any()
                small = crop[::2, ::2]  # Undo the 2x upscaling.
                assert by_bytes.get(small.tobytes()) == digit, split


def test_no_digit_image_is_in_two_pools():
    pools = digit_pools()
    seen = [{image.tobytes() for image in images} for images, _ in pools.values()]
    assert sum(len(s) for s in seen) == len(set().union(*seen)) == 1797
