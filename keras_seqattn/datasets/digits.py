"""`digits`: scikit-learn's handwritten digits as a small image classification set."""

import numpy as np
import tensorflow_datasets as tfds

from keras_seqattn.datasets._digit_source import DIGIT_WORDS, digit_pools, upscale

SCALE = 4


class Digits(tfds.core.GeneratorBasedBuilder):
    """Handwritten digits, 32x32 grey images with labels `"zero"` to `"nine"`.

    The 1797 8x8 images that ship inside scikit-learn (`load_digits`, from the
    UCI "Optical Recognition of Handwritten Digits" set), each pixel repeated 4x4
    times and scaled from 0-16 to 0-255. No download.

    The splits are fixed pools of the images (70/10/20 percent, one fixed-seed
    permutation) shared with `digit_scenes`: a test digit is in no train split of
    either dataset.

    Features: `image` (uint8 `(32, 32, 1)`), `label` (`ClassLabel`, names
    `"zero"` to `"nine"`). Splits: train 1,258, validation 180, test 359.

    Example:

    >>> import keras_seqattn.datasets  # registers the builder
    >>> ds = tfds.load("digits", split="train", as_supervised=True)
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}

    def _info(self):
        size = 8 * SCALE
        return tfds.core.DatasetInfo(
            builder=self,
            description=self.__doc__.split("\n\n")[0],
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(size, size, 1)),
                    "label": tfds.features.ClassLabel(names=DIGIT_WORDS),
                }
            ),
            supervised_keys=("image", "label"),
            homepage="https://scikit-learn.org/stable/datasets/toy_dataset.html",
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # Generated locally: nothing to download.
        return {name: self._generate_examples(name) for name in digit_pools()}

    def _generate_examples(self, split):
        images, labels = digit_pools()[split]
        for key, (image, label) in enumerate(zip(images, labels, strict=True)):
            yield (
                key,
                {
                    "image": upscale(image, SCALE)[..., np.newaxis],
                    "label": int(label),
                },
            )
