import numpy as np
import pytest
import tensorflow_datasets as tfds
from num2words import num2words

from keras_seqattn import datasets
from keras_seqattn.datasets import NumberLists, number_lists
from keras_seqattn.datasets.number_lists import split_lists

pytestmark = pytest.mark.backend_independent(reason="data pipeline; no Keras backend involved")

CONFIGS = [f"number_lists/{config.name}" for config in NumberLists.BUILDER_CONFIGS]
SIZES = {"train": 40_000, "validation": 1_000, "test": 3_000}

_UNITS = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
    "eighteen", "nineteen",
)  # fmt: skip
_TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
WORD_VALUES = {word: value for value, word in enumerate(_UNITS)}
WORD_VALUES.update({word: 20 + 10 * i for i, word in enumerate(_TENS)})


def english_number(words):
    """Reads English number words back as an int (our own reader, not num2words)."""
    total, group = 0, 0
    for word in words:
        if word in WORD_VALUES:
            group += WORD_VALUES[word]
        elif word == "hundred":
            group *= 100
        elif word in ("thousand", "million"):
            total += group * (1000 if word == "thousand" else 10**6)
            group = 0
        else:
            assert word == "and", f"not a number word: {word!r}"
    return total + group


def normalised(number, lang):
    text = num2words(number, lang=lang).lower().replace(",", " ").replace("-", " ")
    return " ".join(text.split())


def _split(builder, split):
    return tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1))


@pytest.fixture(scope="module")
def en_to_fr(prepared):
    builder = prepared("number_lists/en_to_fr")
    return {split: _split(builder, split) for split in builder.info.splits}


def test_sizes_and_every_length_from_1_to_100(prepared, data_dir, en_to_fr):
    builder = prepared("number_lists/en_to_fr")
    assert {s: i.num_examples for s, i in builder.info.splits.items()} == SIZES
    for split, columns in en_to_fr.items():
        lengths = [len(source.split()) for source in columns["source"]]
        np.testing.assert_array_equal(lengths, columns["length"])
        assert sorted(set(lengths)) == list(range(1, 101)), split
    # The test curve has >= 200 examples in each ten-token bucket, up to 100.
    buckets = np.bincount((en_to_fr["test"]["length"] - 1) // 10)
    assert len(buckets) == 10 and buckets.min() >= 200
    # Both training settings of Bahdanau et al. have thousands of examples.
    train = en_to_fr["train"]["length"]
    assert np.sum(train <= 30) > 10_000 and np.sum(train <= 50) > 18_000
    example = next(iter(tfds.as_numpy(tfds.load(CONFIGS[1], split="test", data_dir=data_dir))))
    assert example["length"] == len(example["source"].split())


def test_every_target_is_recoverable_from_its_whole_source(en_to_fr):
    for split, columns in en_to_fr.items():
        rows = range(len(columns["source"])) if split != "train" else range(0, 40_000, 7)
        for row in rows:
            source = columns["source"][row].decode()
            items = [item.split() for item in source.split(" , ")]
            numbers = [english_number(words) for words in items]
            padded = columns["numbers"][row]  # One batch: zeros after the last item.
            np.testing.assert_array_equal(numbers, padded[: len(numbers)])
            assert not padded[len(numbers) :].any()
            # Every item of the source is in the target, in order, in French.
            expected = " , ".join(normalised(number, "fr") for number in numbers)
            assert columns["target"][row].decode() == expected
            assert source == " , ".join(normalised(number, "en") for number in numbers)


def test_no_source_is_in_two_splits_nor_twice_in_one(en_to_fr):
    sources = {split: columns["source"].tolist() for split, columns in en_to_fr.items()}
    for split, texts in sources.items():
        assert len(set(texts)) == len(texts), split
    assert not set(sources["train"]) & set(sources["test"])
    assert not set(sources["train"]) & set(sources["validation"])
    assert not set(sources["validation"]) & set(sources["test"])


def test_configs_share_their_lists(prepared):
    sources = [_split(prepared(name), "test")["source"].tolist() for name in CONFIGS]
    assert sources[0] == sources[1] == sources[2]
    german = prepared("number_lists/en_to_de").as_dataset(split="test").take(50)
    for example in tfds.as_numpy(german):
        expected = " , ".join(normalised(int(n), "de") for n in example["numbers"])
        assert example["target"].decode() == expected


def test_split_lists_is_a_pure_function_and_test_depends_on_its_size_only():
    small = {"train": 300, "validation": 40, "test": 60}
    first = split_lists(small)
    number_lists._split_lists.cache_clear()  # Drawn again, not read from the cache.
    assert first == split_lists(dict(small))
    assert [len(first[s]) for s in ("train", "validation", "test")] == [300, 40, 60]
    assert split_lists({**small, "train": 100})["test"] == first["test"]


def test_max_source_words_keeps_the_training_settings_of_bahdanau_et_al(data_dir, en_to_fr):
    for limit in (30, 50):
        pairs = datasets.load_translation_pairs(
            "number_lists/en_to_fr", "train", data_dir=data_dir, max_source_words=limit
        )
        sources = [source for source, _ in pairs.as_numpy_iterator()]
        expected = en_to_fr["train"]["source"][en_to_fr["train"]["length"] <= limit]
        assert sources == expected.tolist()
