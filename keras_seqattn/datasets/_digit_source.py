"""The handwritten digits of scikit-learn, split once into disjoint pools.

`digits` and `digit_scenes` draw from the same pools, so a digit image that is in
one dataset's test split is in no train split of either.
"""

import functools

import numpy as np
from sklearn.datasets import load_digits

DIGIT_WORDS = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
)  # fmt: skip
# 70 / 10 / 20 percent of the 1797 images.
POOL_SIZES = {"train": 1258, "validation": 180, "test": 359}
_SEED = 1797


@functools.lru_cache(maxsize=1)
def digit_pools():
    """The digit images of each split, from one fixed-seed permutation.

    Returns:
        dict from split name to `(images, labels)`: uint8 `(n, 8, 8)` images with
        values 0-255 (scikit-learn's 0-16 scaled) and int64 `(n,)` labels.
    """
    digits = load_digits()
    images = np.round(digits.images * (255 / 16)).astype(np.uint8)
    order = np.random.default_rng(_SEED).permutation(len(images))
    pools, start = {}, 0
    for name, size in POOL_SIZES.items():
        chosen = np.sort(order[start : start + size])
        pools[name] = (images[chosen], digits.target[chosen].astype(np.int64))
        start += size
    return pools


def upscale(image, factor):
    """Repeats each pixel of `image` `factor` times along both axes."""
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)
