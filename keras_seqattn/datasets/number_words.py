"""`number_words`: numbers written in English words, translated into German,
French or Spanish words with `num2words`."""

import copy
import functools
import re

import numpy as np
import tensorflow_datasets as tfds
from num2words import CONVERTER_CLASSES

LANGUAGES = ("de", "fr", "es")
# Every number up to this one is in train: the short sentences a model must know.
_LAST_SMALL_NUMBER = 100
_MAX_DIGITS = 12
_SEED = 1801


@functools.cache
def _converter(lang):
    """`num2words`' converter for `lang`, its table of words cut to our numbers.

    The converter scans its whole table on every call, and German lists words up
    to 10^600: the cut makes generation four times faster and changes no output
    (a test compares the text with `num2words()`).
    """
    converter = copy.copy(CONVERTER_CLASSES[lang])
    cards = getattr(converter, "cards", None)
    if isinstance(cards, dict):
        limit = 10 ** (_MAX_DIGITS + 3)
        converter.cards = type(cards)((k, v) for k, v in cards.items() if k <= limit)
    return converter


def number_words_text(number, lang):
    """`num2words` text, lowercased, without commas, hyphens split into words.

    `"forty-two"` becomes `"forty two"` (and French `"quatre-vingt-dix"` becomes
    `"quatre vingt dix"`), so whitespace tokens count the words a model reads.

    Args:
        number: int, from 0 to 10^12 - 1.
        lang: a `num2words` language code, such as `"en"` or `"de"`.

    Returns:
        The normalised text.
    """
    text = _converter(lang).to_cardinal(number)
    text = text.lower().replace(",", " ").replace("-", " ")
    return re.sub(r"\s+", " ", text).strip()


def split_numbers(sizes):
    """Disjoint arrays of numbers per split, a pure function of `sizes`.

    Draws the number of digits uniformly from 1 to 12, then a uniform number with
    that many digits; drops repeats and the numbers 0-100 (always in train), shuffles
    the rest with a fixed seed and cuts test, validation, then train from it.

    Args:
        sizes: dict with the number of examples of `"train"`, `"validation"` and
            `"test"`; train must hold at least the 101 numbers 0-100.

    Returns:
        dict from split name to an int64 array of distinct numbers.
    """
    rng = np.random.default_rng(_SEED)
    needed = sizes["test"] + sizes["validation"] + sizes["train"] - _LAST_SMALL_NUMBER - 1
    digits = rng.integers(1, _MAX_DIGITS + 1, size=2 * needed + 10_000)
    low = np.where(digits == 1, 0, 10 ** (digits - 1))
    drawn = np.unique(rng.integers(low, 10**digits))  # sorted: no draw-order bias
    drawn = rng.permutation(drawn[drawn > _LAST_SMALL_NUMBER])[:needed]
    test, validation = sizes["test"], sizes["test"] + sizes["validation"]
    small = np.arange(_LAST_SMALL_NUMBER + 1)
    return {
        "test": drawn[:test],
        "validation": drawn[test:validation],
        "train": np.concatenate([small, drawn[validation:]]),
    }


class NumberWords(tfds.core.GeneratorBasedBuilder):
    """Numbers written in English words, with their German, French or Spanish words.

    A translation task whose sentences run from 1 to 23 words, generated locally
    from the `num2words` package (no download). Config `en_to_de` pairs
    `"one hundred and one"` with `"einhunderteins"`; `en_to_fr` and `en_to_es` do
    the same for French and Spanish. All three configs share the same numbers.

    Numbers are drawn with a uniform number of digits (1 to 12), so the length of
    a sentence is spread evenly; each number appears in one split only, and train
    also holds every number from 0 to 100. Text is `num2words`' own, lowercased,
    commas removed, hyphens split into words (`"forty two"`), spaces collapsed.

    English source lengths in whitespace words, measured on version 1.0.0:
    train min 1, median 13, max 23 (12% of sources have 20 or more words);
    validation and test min 2 and 4 (every number up to 100 is in train), median
    13, max 23. Sources have 3 to 147 characters, median 81. German writes each
    group below a million as one compound word (`"zweiundvierzig"`), so its
    targets have 1 to 5 words but up to 140 characters: model them by character
    or subword. French targets have 1 to 24 words, Spanish 1 to 19.

    Features: `source` (English text), `target` (text), `number` (int64).
    Splits: train 40,000, validation 2,000, test 2,000.

    Example:

    >>> import keras_seqattn.datasets  # registers the builder
    >>> ds = tfds.load("number_words/en_to_de", split="train")
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release: num2words 0.5 text, 1 to 12 digits."}
    BUILDER_CONFIGS = [
        tfds.core.BuilderConfig(
            name=f"en_to_{lang}",
            description=f"English number words to `num2words` language {lang!r}.",
        )
        for lang in LANGUAGES
    ]
    SPLIT_SIZES = {"train": 40_000, "validation": 2_000, "test": 2_000}

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            description=self.__doc__.split("\n\n")[0],
            features=tfds.features.FeaturesDict(
                {
                    "source": tfds.features.Text(),
                    "target": tfds.features.Text(),
                    "number": tfds.features.Scalar(dtype=np.int64),
                }
            ),
            supervised_keys=("source", "target"),
            homepage="https://github.com/savoirfairelinux/num2words",
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # Generated locally: nothing to download.
        numbers = split_numbers(self.SPLIT_SIZES)
        return {name: self._generate_examples(numbers[name]) for name in numbers}

    def _generate_examples(self, numbers):
        target_lang = self.builder_config.name.split("_to_")[1]
        for number in numbers.tolist():
            yield (
                number,
                {
                    "source": number_words_text(number, "en"),
                    "target": number_words_text(number, target_lang),
                    "number": number,
                },
            )
