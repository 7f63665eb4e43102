"""`date_normalization`: dates written the way 15 locales write them, to ISO 8601."""

import datetime
import functools
import itertools

import numpy as np
import tensorflow_datasets as tfds
from babel import Locale
from babel.dates import format_date

LOCALES = (
    "en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "pt_BR", "nl_NL",
    "sv_SE", "pl_PL", "cs_CZ", "tr_TR", "fi_FI", "da_DK", "ro_RO",
)  # fmt: skip
FORMATS = ("short", "medium", "long", "full")
# en_US short (M/d/yy) is the only month-first pattern: "3/7/49" would also be
# es_ES and it_IT short (d/M/yy) for 3 July, so one source would have two targets.
EXCLUDED = (("en_US", "short"),)
FIRST_DATE = datetime.date(1950, 1, 1)
LAST_DATE = datetime.date(2049, 12, 31)
_SEED = 2049


def locale_formats():
    """The `(locale, format)` pairs that are generated, in a fixed order."""
    pairs = itertools.product(LOCALES, FORMATS)
    return [pair for pair in pairs if pair not in EXCLUDED]


def split_days(sizes):
    """Disjoint arrays of day numbers (days since 1950-01-01) per split.

    One fixed-seed permutation of all 36,525 days gives test as many days as it
    has examples, then validation, and train every other day.

    Args:
        sizes: dict with the number of examples of `"validation"` and `"test"`.

    Returns:
        dict from split name to an int64 array of distinct day numbers.
    """
    num_days = (LAST_DATE - FIRST_DATE).days + 1
    days = np.random.default_rng(_SEED).permutation(num_days)
    test, validation = sizes["test"], sizes["test"] + sizes["validation"]
    return {
        "test": days[:test],
        "validation": days[test:validation],
        "train": days[validation:],
    }


@functools.cache
def _locale(name):
    return Locale.parse(name)


class DateNormalization(tfds.core.GeneratorBasedBuilder):
    """Dates as people write them, to be rewritten as ISO 8601 `YYYY-MM-DD`.

    A translation task with real formats: each source is `babel.dates.format_date`
    of a date in one of 15 locales and one of the CLDR formats `short`,
    `medium`, `long` and `full` (`"Sunday, March 7, 2049"`, `"7. März 2049"`,
    `"07.03.49"`); the target is `"2049-03-07"`. Generated locally from the CLDR
    data that ships inside Babel; no download.

    Every locale writes in the Latin script, which keeps the character vocabulary
    small (84 characters in the sources, accents included). en_US `short` (`3/7/49`) is
    left out: it is the one month-first pattern, so its sources would collide with
    es_ES and it_IT `short` (day-first) and have two targets. Dates are uniform in
    1950-01-01 to 2049-12-31, so two-digit years (`yy`) are unambiguous: 50-99 is
    19xx, 00-49 is 20xx. Splits are by date: no test or validation date is in
    train. Sources have 6 to 38 characters (median 13) and 1 to 6 words.

    Features: `source`, `target`, `locale` (e.g. `"de_DE"`), `format` (e.g.
    `"long"`), all text. Splits: train 40,000, validation 2,000, test 2,000.

    Example:

    >>> import keras_seqattn.datasets  # registers the builder
    >>> ds = tfds.load("date_normalization", split="train")
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release: Babel 2 CLDR patterns, 15 locales."}
    SPLIT_SIZES = {"train": 40_000, "validation": 2_000, "test": 2_000}

    def _info(self):
        text = tfds.features.Text()
        return tfds.core.DatasetInfo(
            builder=self,
            description=self.__doc__.split("\n\n")[0],
            features=tfds.features.FeaturesDict(
                {"source": text, "target": text, "locale": text, "format": text}
            ),
            supervised_keys=("source", "target"),
            homepage="https://babel.pocoo.org/en/latest/dates.html",
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # Generated locally: nothing to download.
        days = split_days(self.SPLIT_SIZES)
        return {name: self._generate_examples(name, days[name]) for name in days}

    def _generate_examples(self, split, days):
        """`SPLIT_SIZES[split]` distinct `(day, locale, format)` drawn uniformly."""
        pairs = locale_formats()
        rng = np.random.default_rng([_SEED, list(self.SPLIT_SIZES).index(split)])
        size = self.SPLIT_SIZES[split]
        for flat in rng.choice(len(days) * len(pairs), size, replace=False).tolist():
            day, (locale, form) = int(days[flat // len(pairs)]), pairs[flat % len(pairs)]
            date = FIRST_DATE + datetime.timedelta(days=day)
            yield (
                f"{date.isoformat()}/{locale}/{form}",
                {
                    "source": format_date(date, format=form, locale=_locale(locale)),
                    "target": date.isoformat(),
                    "locale": locale,
                    "format": form,
                },
            )
