"""`number_lists`: lists of numbers in English words, translated item by item.

The long-input data of the lecture's first claim: with one fixed context vector,
"when the input sequence is long, the early information is lost".
"""

import functools

import numpy as np
import tensorflow_datasets as tfds

from keras_seqattn.datasets.number_words import LANGUAGES, number_words_text

# Source lengths, in whitespace tokens (words and the `,` between items).
MAX_SOURCE_WORDS = 100
SEPARATOR = ","
_MAX_DIGITS = 6
_SEED = 1802
_DRAWS_PER_ITEM = 1000


@functools.cache
def _english_words(number):
    return len(number_words_text(number, "en").split())


def _draw_number(rng):
    """A number with a uniform count of digits, 1 to `_MAX_DIGITS`."""
    digits = int(rng.integers(1, _MAX_DIGITS + 1))
    low = 0 if digits == 1 else 10 ** (digits - 1)
    return int(rng.integers(low, 10**digits))


def _draw_list(rng, length):
    """Numbers whose English words, joined by `" , "`, are exactly `length` tokens.

    Each item is drawn as `_draw_number` does, and redrawn until it either fills
    the tokens left or leaves room for a separator and one more word; `None`
    when no draw fits (then the caller draws another length).
    """
    numbers, used = [], 0
    while used < length:
        room = length - used - (1 if numbers else 0)  # after the separator
        for _ in range(_DRAWS_PER_ITEM):
            number = _draw_number(rng)
            words = _english_words(number)
            if words == room or words <= room - 2:
                break
        else:
            return None
        used += words + (1 if numbers else 0)
        numbers.append(number)
    return numbers


def split_lists(sizes):
    """Lists of numbers per split, a pure function of `sizes`.

    Each example draws its source length uniformly from 1 to
    `MAX_SOURCE_WORDS` tokens, then items until the list has exactly that many
    (see `_draw_list`). Test is drawn first, then validation, then train, and
    a list drawn before is drawn again: no source is in two splits, nor twice
    in one.

    Args:
        sizes: dict with the number of examples of `"train"`, `"validation"`
            and `"test"`.

    Returns:
        dict from split name to a list of lists of ints.
    """
    return _split_lists(tuple(sorted(sizes.items())))


@functools.cache
def _split_lists(sizes):
    sizes = dict(sizes)
    rng = np.random.default_rng(_SEED)
    seen, splits = set(), {}
    for split in ("test", "validation", "train"):
        lists = []
        while len(lists) < sizes[split]:
            numbers = _draw_list(rng, int(rng.integers(1, MAX_SOURCE_WORDS + 1)))
            if numbers is not None and tuple(numbers) not in seen:
                seen.add(tuple(numbers))
                lists.append(numbers)
        splits[split] = lists
    return splits


def number_list_text(numbers, lang):
    """The words of each number (`number_words_text`), joined by `" , "`.

    Args:
        numbers: ints, from 0 to 10^12 - 1.
        lang: a `num2words` language code, such as `"en"` or `"fr"`.

    Returns:
        The text, e.g. `"forty two , seven"` for `[42, 7]` in English.
    """
    return f" {SEPARATOR} ".join(number_words_text(number, lang) for number in numbers)


class NumberLists(tfds.core.GeneratorBasedBuilder):
    """Lists of numbers in English words, each item translated into another language.

    The long-input task of Bahdanau et al. (2015, Fig. 2): sources run from 1
    to 100 tokens, and the target is every item of the source translated in
    order, so no prefix of the source determines it. Config `en_to_fr` pairs
    `"forty two , one hundred and five"` with `"quarante deux , cent cinq"`;
    `en_to_de` and `en_to_es` do the same for German and Spanish (all three
    share the same lists). Generated locally with `num2words`, in the same
    normalised text as `number_words` (no download).

    Each example's source length is drawn uniformly from 1 to 100 whitespace
    tokens (the `,` between items counts as one), then numbers of 1 to 6
    digits (the count of digits uniform) until the list has exactly that
    length. So every ten-token bucket holds a tenth of each split: 300 test
    examples per bucket. No list is in two splits. Train on its shorter
    sources (`load_translation_pairs(..., max_source_words=30)` or 50, as
    Bahdanau et al.'s RNNenc-30 and RNNenc-50) and test on all of them to see
    the fixed context fail on long inputs.

    Measured on version 1.0.0: 1 to 26 items per list (median 9; the last
    items of a list are drawn short more often, to fit), items of 1 to 11
    English words; French targets have 1 to 104 words (median 48), Spanish 1
    to 99 (median 44), German (one compound word per group below a thousand)
    1 to 51 (median 17).

    Features: `source` and `target` (text), `numbers` (int64, one per item),
    `length` (int64, source tokens). Splits: train 40,000, validation 1,000,
    test 3,000.

    Example:

    >>> import keras_seqattn.datasets  # registers the builder
    >>> ds = tfds.load("number_lists/en_to_fr", split="test")
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release: 1 to 100 source tokens, 1 to 6 digits."}
    BUILDER_CONFIGS = [
        tfds.core.BuilderConfig(
            name=f"en_to_{lang}",
            description=f"Lists of English number words to `num2words` language {lang!r}.",
        )
        for lang in LANGUAGES
    ]
    SPLIT_SIZES = {"train": 40_000, "validation": 1_000, "test": 3_000}

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            description=self.__doc__.split("\n\n")[0],
            features=tfds.features.FeaturesDict(
                {
                    "source": tfds.features.Text(),
                    "target": tfds.features.Text(),
                    "numbers": tfds.features.Tensor(shape=(None,), dtype=np.int64),
                    "length": tfds.features.Scalar(dtype=np.int64),
                }
            ),
            supervised_keys=("source", "target"),
            homepage="https://github.com/savoirfairelinux/num2words",
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # Generated locally: nothing to download.
        lists = split_lists(self.SPLIT_SIZES)
        return {name: self._generate_examples(name, lists[name]) for name in lists}

    def _generate_examples(self, split, lists):
        target_lang = self.builder_config.name.split("_to_")[1]
        for index, numbers in enumerate(lists):
            source = number_list_text(numbers, "en")
            yield (
                f"{split}-{index:05d}",
                {
                    "source": source,
                    "target": number_list_text(numbers, target_lang),
                    "numbers": np.asarray(numbers, np.int64),
                    "length": len(source.split()),
                },
            )
