"""Bad names, configs, splits and keys for the dataset loader: a table of
case id -> (call, exception, message regex); every message lists the valid names."""

import types

import pytest

from keras_seqattn import datasets
from keras_seqattn.datasets import _names

pytestmark = pytest.mark.backend_independent(reason="data pipeline; no Keras backend involved")
NAME = "number_words/en_to_de"
EMBEDDED = ", ".join(datasets.EMBEDDED_DATASETS)
# Split names in the order of the dataset info, which varies by dataset.
SPLITS = r"Valid splits: (?=[^.]*train)(?=[^.]*validation)(?=[^.]*test)"

CASES = {
    "name_none": (
        lambda d: datasets.load(None, data_dir=d),
        TypeError,
        f"Embedded datasets: {EMBEDDED}. Received: name=None$",
    ),
    "max_source_words_zero": (
        lambda d: datasets.load_translation_pairs(NAME, data_dir=d, max_source_words=0),
        ValueError,
        "`max_source_words` must be None or an int >= 1. Received: max_source_words=0$",
    ),
    "max_source_words_float": (
        lambda d: datasets.load_translation_pairs(NAME, data_dir=d, max_source_words=30.0),
        ValueError,
        "Received: max_source_words=30.0$",
    ),
    "name_int": (lambda d: datasets.load(5, data_dir=d), TypeError, "Received: name=5$"),
    "name_empty": (
        lambda d: datasets.load("", data_dir=d),
        ValueError,
        f"Unknown dataset ''. Embedded datasets: {EMBEDDED};",
    ),
    "name_unknown": (
        lambda d: datasets.load("number_wordz/en_to_de", data_dir=d),
        ValueError,
        f"Embedded datasets: {EMBEDDED};.*Received: name='number_wordz/en_to_de'$",
    ),
    "pairs_name_unknown": (
        lambda d: datasets.load_translation_pairs("nope", data_dir=d),
        ValueError,
        "Unknown dataset 'nope'",
    ),
    "captions_name_none": (
        lambda d: datasets.load_caption_pairs(None, data_dir=d),
        TypeError,
        "Received: name=None$",
    ),
    "config_unknown": (
        lambda d: datasets.load("number_words/en_to_it", data_dir=d),
        ValueError,
        "Valid configs: en_to_de, en_to_fr, en_to_es. Received: name='number_words/en_to_it'$",
    ),
    "config_of_configless_dataset": (
        lambda d: datasets.load("digits/large", data_dir=d),
        ValueError,
        r"Valid configs: none \(use the bare name\)",
    ),
    "split_unknown": (
        lambda d: datasets.load(NAME, split="tran", data_dir=d),
        ValueError,
        f"Unknown split 'tran'.*{SPLITS}.*Received: split='tran'$",
    ),
    "split_unknown_in_a_sum": (
        lambda d: datasets.load(NAME, split="train+dev[:10]", data_dir=d),
        ValueError,
        f"Unknown split 'dev'.*{SPLITS}",
    ),
    "split_int": (
        lambda d: datasets.load(NAME, split=0, data_dir=d),
        TypeError,
        f"{SPLITS}.*Received: split=0$",
    ),
    "pairs_split_unknown": (
        lambda d: datasets.load_translation_pairs(NAME, split="dev", data_dir=d),
        ValueError,
        SPLITS,
    ),
    "split_reversed_slice": (
        lambda d: datasets.load(NAME, split="test[50%:10%]", data_dir=d),
        ValueError,
        r"The split 'test\[50%:10%\]' selects no examples of the \d+ in 'test': expected "
        r"test\[from:to\] with from before to .*Received: split='test\[50%:10%\]'$",
    ),
    "split_empty_slice": (
        lambda d: datasets.load(NAME, split="test[:0]", data_dir=d),
        ValueError,
        r"'test\[:0\]' selects no examples.*Received: split='test\[:0\]'$",
    ),
    "pairs_split_empty_part_of_a_sum": (
        lambda d: datasets.load_translation_pairs(NAME, split="test+train[5:5]", data_dir=d),
        ValueError,
        r"'train\[5:5\]' selects no examples.*Received: split='test\+train\[5:5\]'$",
    ),
    "split_slice_past_the_end": (
        lambda d: datasets.load(NAME, split="test[99999:]", data_dir=d),
        ValueError,
        r"Cannot read the split 'test\[99999:\]': expected test\[from:to\] with from and "
        r"to ints within its \d+ examples or percents in \[-100%, 100%\]",
    ),
    "split_malformed_slice": (
        lambda d: datasets.load(NAME, split="test[abc]", data_dir=d),
        ValueError,
        r"Cannot read the split 'test\[abc\]'.*Received: split='test\[abc\]'$",
    ),
    "version_unknown": (
        lambda d: datasets.load(NAME + ":9.9.9", data_dir=d),
        ValueError,
        "Unknown version '9.9.9' of dataset 'number_words': expected one of 1.0.0 "
        r".*Received: name='number_words/en_to_de:9.9.9'$",
    ),
    "pairs_version_malformed": (
        lambda d: datasets.load_translation_pairs(NAME + ":latest", data_dir=d),
        ValueError,
        "Unknown version 'latest'.*Received: name='number_words/en_to_de:latest'$",
    ),
    "version_empty": (
        lambda d: datasets.load("number_words/en_to_de:", data_dir=d),
        ValueError,
        "Unknown version '' of dataset 'number_words'.*Received: name='number_words/en_to_de:'$",
    ),
    "config_empty": (
        lambda d: datasets.load("number_words/", data_dir=d),
        ValueError,
        "Unknown config '' of dataset 'number_words'. Valid configs: en_to_de, en_to_fr, en_to_es",
    ),
    "download_mode_unknown": (
        lambda d: datasets.load(NAME, download_mode="always", data_dir=d),
        ValueError,
        r"\['reuse_dataset_if_exists', .*'force_redownload'\]. Received: download_mode='always'$",
    ),
    "pairs_key_unknown": (
        lambda d: datasets.load_translation_pairs(NAME, source="english", data_dir=d),
        ValueError,
        "no feature 'english' .*Its features: source, target, number",
    ),
    "captions_of_a_text_dataset": (
        lambda d: datasets.load_caption_pairs(NAME, data_dir=d),
        ValueError,
        "has no feature 'image' for caption pairs. Its features: source, target, number",
    ),
    "labels_of_a_text_dataset": (
        lambda d: datasets.load_image_labels(NAME, data_dir=d),
        ValueError,
        "has no feature 'image' for image labels",
    ),
}


@pytest.mark.parametrize(
    "call, error, message", [pytest.param(*case, id=name) for name, case in CASES.items()]
)
def test_bad_input_raises_a_clear_error(prepared, data_dir, call, error, message):
    prepared(NAME)
    with pytest.raises(error, match=message) as raised:
        call(data_dir)
    assert "\n" not in str(raised.value)  # one line, as the CLI shows it


def test_a_version_and_a_slice_that_hold_load(prepared, data_dir):
    prepared(NAME)
    for name in (NAME + ":1.0.0", NAME + ":1.*.*"):
        assert len(datasets.load(name, split="test[-5:]", data_dir=data_dir)) == 5


def test_versions_come_from_the_config_where_it_has_them():
    """wmt14_translate keeps its version on each config (the class's VERSION is None),
    as glue does; TFDS also takes 'experimental_latest'. Nothing is read or built."""
    for dataset, config, version in (
        ("wmt14_translate", "de-en", "1.0.0"),
        ("wmt14_translate", None, "1.*.*"),
        ("glue", "cola", "2.0.0"),
        ("number_words", None, "experimental_latest"),
    ):
        _names.check_version(dataset, config, version, name=f"{dataset}:{version}")
    with pytest.raises(ValueError, match="Unknown version '9.0.0' of dataset 'wmt14_translate'"):
        _names.check_version("wmt14_translate", "de-en", "9.0.0", name="wmt14_translate:9.0.0")


class _Split:
    def __init__(self, num_examples):
        self.num_examples = num_examples


def test_a_percent_slice_that_rounds_to_nothing_says_so():
    """10% of 4 examples is none: not a reversed slice, as the message said before."""
    splits = {"test": _Split(4), "test[:10%]": _Split(0), "test[3:1]": _Split(0)}
    builder = types.SimpleNamespace(info=types.SimpleNamespace(splits=splits, full_name="x"))
    with pytest.raises(ValueError, match=r"its bounds round to the same example.*test\[:1\]"):
        _names.check_split(builder, "test[:10%]")
    with pytest.raises(ValueError, match="with from before to"):
        _names.check_split(builder, "test[3:1]")
