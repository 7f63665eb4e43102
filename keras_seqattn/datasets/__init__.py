"""Datasets for the attention models, as TFDS builders and loaders.

Importing this package registers the embedded builders with TFDS, so that
`tfds.load("number_words/en_to_de")` works. They generate their data locally
from packages that ship it (`num2words`, Babel's CLDR data, scikit-learn's
handwritten digits); nothing is downloaded.

- `number_words/en_to_{de,fr,es}`: numbers in English words to another language.
- `number_lists/en_to_{de,fr,es}`: lists of up to 100 tokens of them, item by item.
- `date_normalization`: dates in 15 locales' formats to ISO `YYYY-MM-DD`.
- `digit_scenes`: 2 to 5 handwritten digits on a canvas, captioned left to right.
- `digits`: the same handwritten digits, one per image, with its label.

`load()` and the `load_*` helpers take these names or any public TFDS name.
"""

from keras_seqattn.datasets.date_normalization import DateNormalization
from keras_seqattn.datasets.digit_scenes import DigitScenes
from keras_seqattn.datasets.digits import Digits
from keras_seqattn.datasets.loader import (
    EMBEDDED_DATASETS,
    check_caption_pairs,
    check_image_labels,
    load,
    load_caption_pairs,
    load_image_labels,
    load_translation_pairs,
    prepare,
)
from keras_seqattn.datasets.number_lists import NumberLists
from keras_seqattn.datasets.number_words import NumberWords

__all__ = [
    "EMBEDDED_DATASETS",
    "check_caption_pairs",
    "check_image_labels",
    "DateNormalization",
    "DigitScenes",
    "Digits",
    "NumberLists",
    "NumberWords",
    "load",
    "load_caption_pairs",
    "load_image_labels",
    "load_translation_pairs",
    "prepare",
]
