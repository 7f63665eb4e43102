"""`digit_scenes`: 2 to 5 handwritten digits on a canvas, captioned left to right."""

import numpy as np
import tensorflow_datasets as tfds

from keras_seqattn.datasets._digit_source import DIGIT_WORDS, digit_pools, upscale

CANVAS = 64
SCALE = 2
DIGIT_SIZE = 8 * SCALE
MIN_DIGITS, MAX_DIGITS = 2, 5
# Digits closer than this in x would make "left to right" a coin toss.
MIN_CENTRE_GAP = 4
_SEED = 64
_SPLIT_SEEDS = {"train": 0, "validation": 1, "test": 2}


def _place(rng, count):
    """Top-left corners of `count` boxes that do not overlap, sorted by x.

    Draws corners uniformly and keeps one only if its box overlaps no earlier box
    and its x-centre is `MIN_CENTRE_GAP` px from theirs; starts the scene anew
    after 100 misses (rare: five boxes cover under a third of the canvas).
    """
    corners = []
    while len(corners) < count:
        for _ in range(100):
            y, x = rng.integers(0, CANVAS - DIGIT_SIZE + 1, size=2).tolist()
            if all(
                abs(x - cx) >= MIN_CENTRE_GAP
                and (abs(x - cx) >= DIGIT_SIZE or abs(y - cy) >= DIGIT_SIZE)
                for cy, cx in corners
            ):
                corners.append((y, x))
                break
        else:
            corners = []
    return sorted(corners, key=lambda corner: corner[1])


def make_scene(rng, images, labels):
    """One scene from a pool of digit images.

    Args:
        rng: `np.random.Generator`.
        images: uint8 `(n, 8, 8)` digit images, values 0-255.
        labels: int `(n,)` digit classes.

    Returns:
        dict with `image` (uint8 `(64, 64, 1)`), `caption` (str), `digits` (list
        of ints) and `bboxes` (list of `tfds.features.BBox`), the last three in
        reading order.
    """
    count = int(rng.integers(MIN_DIGITS, MAX_DIGITS + 1))
    chosen = rng.choice(len(images), size=count, replace=False)
    canvas = np.zeros((CANVAS, CANVAS, 1), np.uint8)
    bboxes = []
    for index, (y, x) in zip(chosen, _place(rng, count), strict=True):
        canvas[y : y + DIGIT_SIZE, x : x + DIGIT_SIZE, 0] = upscale(images[index], SCALE)
        ymin, xmin, ymax, xmax = np.array([y, x, y + DIGIT_SIZE, x + DIGIT_SIZE]) / CANVAS
        bboxes.append(tfds.features.BBox(ymin, xmin, ymax, xmax))
    digits = [int(labels[index]) for index in chosen]
    return {
        "image": canvas,
        "caption": " ".join(DIGIT_WORDS[digit] for digit in digits),
        "digits": digits,
        "bboxes": bboxes,
    }


class DigitScenes(tfds.core.GeneratorBasedBuilder):
    """Scenes of 2 to 5 handwritten digits, captioned in reading order.

    A small image-captioning set for attention over image regions (as in
    Show, Attend and Tell), generated locally from the handwritten digits that ship
    inside scikit-learn. Each 64x64 grey scene holds 2 to 5 digits (the count is
    uniform), each a 16x16 upscaled digit placed at random so that boxes do not
    overlap and x-centres are at least 4 px apart. The caption names the digits
    from left to right, e.g. `"seven three one"`.

    A scene of a split uses only digit images of that split's pool (shared with
    `digits`, 70/10/20 percent), so no test digit image is ever seen in training.

    Features: `image` (uint8 `(64, 64, 1)`), `caption` (text), `digits`
    (sequence of `ClassLabel`) and `bboxes` (sequence of normalised
    `(ymin, xmin, ymax, xmax)` boxes), both in caption order.
    Splits: train 20,000, validation 1,000, test 1,000.

    Example:

    >>> import keras_seqattn.datasets  # registers the builder
    >>> ds = tfds.load("digit_scenes", split="train")
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}
    SPLIT_SIZES = {"train": 20_000, "validation": 1_000, "test": 1_000}

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            description=self.__doc__.split("\n\n")[0],
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(CANVAS, CANVAS, 1)),
                    "caption": tfds.features.Text(),
                    "digits": tfds.features.Sequence(tfds.features.ClassLabel(num_classes=10)),
                    "bboxes": tfds.features.Sequence(tfds.features.BBoxFeature()),
                }
            ),
            supervised_keys=("image", "caption"),
            homepage="https://scikit-learn.org/stable/datasets/toy_dataset.html",
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # Generated locally: nothing to download.
        return {name: self._generate_examples(name) for name in self.SPLIT_SIZES}

    def _generate_examples(self, split):
        images, labels = digit_pools()[split]
        rng = np.random.default_rng([_SEED, _SPLIT_SEEDS[split]])
        for key in range(self.SPLIT_SIZES[split]):
            yield key, make_scene(rng, images, labels)
