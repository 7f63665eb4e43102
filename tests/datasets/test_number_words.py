import numpy as np
import pytest
import tensorflow_datasets as tfds
from num2words import num2words

from keras_seqattn.datasets import NumberWords
from keras_seqattn.datasets.number_words import number_words_text, split_numbers

pytestmark = pytest.mark.backend_independent(reason="data pipeline; no Keras backend involved")

CONFIGS = [f"number_words/{config.name}" for config in NumberWords.BUILDER_CONFIGS]


def _split(builder, split):
    """The whole split as a dict of arrays (one batch: fast)."""
    return tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1))


@pytest.fixture(scope="module")
def en_to_de(prepared):
    builder = prepared("number_words/en_to_de")
    return {split: _split(builder, split) for split in builder.info.splits}


@pytest.mark.parametrize("name", CONFIGS)
def test_tfds_load_reads_each_config(prepared, data_dir, name):
    builder = prepared(name)
    sizes = {split: info.num_examples for split, info in builder.info.splits.items()}
    assert sizes == {"train": 40_000, "validation": 2_000, "test": 2_000}
    example = next(iter(tfds.as_numpy(tfds.load(name, split="test", data_dir=data_dir))))
    assert number_words_text(int(example["number"]), "en") == example["source"].decode()


def test_german_words_of_42(en_to_de):
    train = en_to_de["train"]
    (index,) = np.flatnonzero(train["number"] == 42)
    assert train["source"][index] == b"forty two"
    assert "zweiundvierzig" in train["target"][index].decode()


def test_source_lengths_run_from_1_to_over_20_words(en_to_de):
    lengths = [len(source.split()) for source in en_to_de["train"]["source"]]
    assert min(lengths) == 1
    assert max(lengths) >= 20
    assert 10 <= np.median(lengths) <= 16


def test_splits_hold_disjoint_numbers(en_to_de):
    numbers = {split: set(columns["number"].tolist()) for split, columns in en_to_de.items()}
    assert [len(numbers[s]) for s in ("train", "validation", "test")] == [40_000, 2_000, 2_000]
    assert not numbers["train"] & numbers["test"]
    assert not numbers["train"] & numbers["validation"]
    assert not numbers["validation"] & numbers["test"]
    assert set(range(101)) <= numbers["train"]


def test_configs_share_their_numbers(prepared):
    numbers = [sorted(_split(prepared(name), "test")["number"]) for name in CONFIGS]
    assert numbers[0] == numbers[1] == numbers[2]


@pytest.mark.parametrize("lang", ["en", "de", "fr", "es"])
def test_text_is_num2words_text_normalised(lang):
    numbers = split_numbers({"train": 200, "validation": 100, "test": 100})
    for number in np.concatenate(list(numbers.values())).tolist() + [0, 10**12 - 1]:
        expected = " ".join(
            num2words(number, lang=lang).lower().replace(",", " ").replace("-", " ").split()
        )
        assert number_words_text(number, lang) == expected


def test_split_numbers_is_a_pure_function_of_sizes():
    sizes = {"train": 500, "validation": 50, "test": 50}
    first, second = split_numbers(sizes), split_numbers(sizes)
    for split in sizes:
        np.testing.assert_array_equal(first[split], second[split])
        assert len(first[split]) == sizes[split]
