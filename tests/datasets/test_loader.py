import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_seqattn import datasets

pytestmark = pytest.mark.backend_independent(reason="data pipeline; no Keras backend involved")


def test_embedded_names_list_every_config():
    assert datasets.EMBEDDED_DATASETS == (
        "number_words/en_to_de",
        "number_words/en_to_fr",
        "number_words/en_to_es",
        "number_lists/en_to_de",
        "number_lists/en_to_fr",
        "number_lists/en_to_es",
        "date_normalization",
        "digit_scenes",
        "digits",
    )


def test_load_returns_feature_dicts_of_a_slice(prepared, data_dir):
    prepared("number_words/en_to_de")
    ds = datasets.load("number_words/en_to_de", split="validation[:10]", data_dir=data_dir)
    examples = list(tfds.as_numpy(ds))
    assert len(examples) == 10
    assert sorted(examples[0]) == ["number", "source", "target"]


def test_unknown_name_lists_the_embedded_datasets(data_dir):
    with pytest.raises(ValueError, match="Unknown dataset 'number_wordz'") as error:
        datasets.load("number_wordz/en_to_de", data_dir=data_dir)
    for name in datasets.EMBEDDED_DATASETS:
        assert name in str(error.value)


def test_unknown_config_lists_the_configs(data_dir):
    with pytest.raises(ValueError, match="en_to_de, en_to_fr, en_to_es"):
        datasets.load("number_words/en_to_it", data_dir=data_dir)
    with pytest.raises(ValueError, match="Valid configs: none"):
        datasets.load("digits/large", data_dir=data_dir)


@pytest.mark.parametrize("split", ["tran", "train[:10%]+tset", "dev[:10]"])
def test_unknown_split_lists_the_splits(prepared, data_dir, split):
    prepared("digits")
    with pytest.raises(ValueError, match="Valid splits: train, validation, test"):
        datasets.load("digits", split=split, data_dir=data_dir)


def test_translation_pairs_of_embedded_datasets(prepared, data_dir):
    for name in ("number_words/en_to_fr", "date_normalization"):
        prepared(name)
        pairs = datasets.load_translation_pairs(name, "test[:3]", data_dir=data_dir)
        assert pairs.element_spec == (tf.TensorSpec((), tf.string), tf.TensorSpec((), tf.string))
        assert len(list(pairs)) == 3


def test_translation_pairs_with_unknown_keys_list_the_features(prepared, data_dir):
    prepared("date_normalization")
    with pytest.raises(ValueError, match="Its features: source, target, locale, format"):
        datasets.load_translation_pairs(
            "date_normalization", "test", source="text", data_dir=data_dir
        )


def test_caption_pairs_of_digit_scenes(prepared, data_dir):
    prepared("digit_scenes")
    (image, caption), *_ = list(
        datasets.load_caption_pairs("digit_scenes", "test[:2]", data_dir=data_dir)
    )
    assert image.shape == (64, 64, 1)
    assert 2 <= len(caption.numpy().split()) <= 5


def test_image_labels_of_digits(prepared, data_dir):
    prepared("digits")
    images, labels = next(
        iter(datasets.load_image_labels("digits", "test", data_dir=data_dir).batch(359))
    )
    assert images.shape == (359, 32, 32, 1)
    assert set(np.unique(labels.numpy())) == set(range(10))


def test_pairs_of_the_wrong_kind_of_dataset_list_the_features(prepared, data_dir):
    prepared("number_words/en_to_de")
    with pytest.raises(
        ValueError, match="has no feature 'image'.*Its features: source, target, number"
    ):
        datasets.load_image_labels("number_words/en_to_de", data_dir=data_dir)
    with pytest.raises(ValueError, match="has no feature 'image'"):
        datasets.load_caption_pairs("number_words/en_to_de", data_dir=data_dir)


# Public datasets, mocked by TFDS: no metadata files ship with TFDS, so the mock
# builds features from the builder's code (`MockPolicy.USE_CODE`).
def test_public_translation_pairs_take_keys_from_the_config_name():
    with tfds.testing.mock_data(num_examples=4, policy=tfds.testing.MockPolicy.USE_CODE):
        pairs = datasets.load_translation_pairs("ted_hrlr_translate/pt_to_en", "train")
        assert len(list(pairs)) == 4
        assert pairs.element_spec == (tf.TensorSpec((), tf.string), tf.TensorSpec((), tf.string))
        with pytest.raises(ValueError, match="Its features: pt, en"):
            datasets.load_translation_pairs("ted_hrlr_translate/pt_to_en", source="de")


def test_public_caption_pairs_give_one_pair_per_caption():
    with tfds.testing.mock_data(num_examples=3, policy=tfds.testing.MockPolicy.USE_CODE):
        examples = list(datasets.load("coco_captions", "train"))
        pairs = list(datasets.load_caption_pairs("coco_captions", "train"))
    assert len(pairs) == sum(len(ex["captions"]["text"]) for ex in examples) > 3
    image, caption = pairs[0]
    assert image.shape[-1] == 3 and caption.dtype == tf.string


def test_public_image_labels():
    with tfds.testing.mock_data(num_examples=5, policy=tfds.testing.MockPolicy.USE_CODE):
        images, labels = next(iter(datasets.load_image_labels("cifar10", "test").batch(5)))
    assert images.shape == (5, 32, 32, 3)
    assert labels.dtype == tf.int64
