"""Loads embedded and public TFDS datasets by name, checking every argument."""

import logging
import re

import tensorflow as tf
import tensorflow_datasets as tfds

from keras_seqattn.datasets._cache import find_damage
from keras_seqattn.datasets._names import check_split, check_version
from keras_seqattn.datasets.date_normalization import DateNormalization
from keras_seqattn.datasets.digit_scenes import DigitScenes
from keras_seqattn.datasets.digits import Digits
from keras_seqattn.datasets.number_lists import NumberLists
from keras_seqattn.datasets.number_words import NumberWords

_BUILDERS = (NumberWords, NumberLists, DateNormalization, DigitScenes, Digits)
EMBEDDED_DATASETS = tuple(
    f"{builder.name}/{config.name}" if builder.BUILDER_CONFIGS else builder.name
    for builder in _BUILDERS
    for config in (builder.BUILDER_CONFIGS or [None])
)
_EMBEDDED_NAMES = tuple(builder.name for builder in _BUILDERS)
_TEXT_PAIR_KEYS = {
    name: ("source", "target") for name in ("number_words", "number_lists", "date_normalization")
}
_REUSE = tfds.download.GenerateMode.REUSE_DATASET_IF_EXISTS

logger = logging.getLogger(__name__)


def _parse(name):
    """`"ds/config:1.0.0"` -> `("ds", "config", "1.0.0")`; `None` for what is absent.

    An empty part after its `/` or `:` stays `""`, to be refused by name (TFDS
    answers it with its whole grammar of builder names).
    """
    name, colon, version = name.partition(":")
    dataset, slash, config = name.partition("/")
    return dataset, config if slash else None, version if colon else None


def _builder(name, data_dir=None):
    """An unprepared builder for `name`, after checking the dataset and config."""
    if not isinstance(name, str):
        raise TypeError(
            "`name` must be a dataset name string such as 'number_words/en_to_de'. "
            f"Embedded datasets: {', '.join(EMBEDDED_DATASETS)}. Received: name={name!r}"
        )
    dataset, config, version = _parse(name)
    if dataset not in tfds.list_builders(with_community_datasets=False):
        raise ValueError(
            f"Unknown dataset {dataset!r}. Embedded datasets: "
            f"{', '.join(EMBEDDED_DATASETS)}; or any name in `tfds.list_builders()`. "
            f"Received: name={name!r}"
        )
    configs = [c.name for c in tfds.builder_cls(dataset).BUILDER_CONFIGS]
    if config is not None and config not in configs:
        valid = ", ".join(configs) if configs else "none (use the bare name)"
        raise ValueError(
            f"Unknown config {config!r} of dataset {dataset!r}. Valid configs: "
            f"{valid}. Received: name={name!r}"
        )
    if version is not None:
        check_version(dataset, config, version, name)
    return tfds.builder(name, data_dir=data_dir)


def prepare(name, data_dir=None, download_mode=None):
    """Returns the prepared `tfds.core.DatasetBuilder` for `name`.

    A damaged prepared dataset (a missing `dataset_info.json` or shard file, or
    shard files of the wrong size) is generated again when it is embedded; for a
    public dataset, a `ValueError` says how to download it again.

    Args:
        name: `"dataset"` or `"dataset/config"`, embedded or public.
        data_dir: TFDS data directory. Defaults to TFDS' own (`TFDS_DATA_DIR`
            or `~/tensorflow_datasets`).
        download_mode: a `tfds.download.GenerateMode` or its string value, such
            as `"force_redownload"`. Defaults to `"reuse_dataset_if_exists"`.

    Returns:
        The prepared builder.
    """
    modes = [m.value for m in tfds.download.GenerateMode]
    if download_mode is not None and download_mode not in [*modes, *tfds.download.GenerateMode]:
        raise ValueError(
            f"`download_mode` must be None, a tfds.download.GenerateMode or one of "
            f"{modes}. Received: download_mode={download_mode!r}"
        )
    builder = _builder(name, data_dir)
    mode = tfds.download.GenerateMode(download_mode or _REUSE)
    damage = find_damage(builder) if mode == _REUSE else None
    if damage and builder.name in _EMBEDDED_NAMES:
        logger.warning("Regenerating %s: %s.", name, damage)
        builder.data_path.rmtree()
        builder = _builder(name, data_dir)  # Its info was read from the damage.
    elif damage:
        raise ValueError(
            f"The prepared dataset {name!r} is damaged: {damage}. Delete "
            f"{builder.data_dir} or pass download_mode='force_redownload' to "
            f"download and prepare it again."
        )
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(download_mode=mode))
    return builder


def _check_keys(builder, keys, purpose):
    features = list(builder.info.features.keys())
    missing = [key for key in keys if key not in features]
    if missing:
        raise ValueError(
            f"Dataset {builder.info.full_name!r} has no feature {missing[0]!r} for "
            f"{purpose}. Its features: {', '.join(features)}. This needs "
            f"{_KINDS[purpose][0]} features, e.g. {_KINDS[purpose][1]}. Received: keys={keys}"
        )


# Per purpose: the feature types it reads, and datasets that have them.
_KINDS = {
    "translation pairs": ("text", "number_words/en_to_de, date_normalization"),
    "caption pairs": ("image and text", "digit_scenes, coco_captions"),
    "image labels": ("image and class label", "digits, mnist, cifar10"),
}


def _is_text(feature):
    """A `Text` feature, or a string `Tensor` (as coco_captions' caption texts are)."""
    if isinstance(feature, tfds.features.Text):
        return True
    return isinstance(feature, tfds.features.Tensor) and feature.dtype == tf.string


_TYPES = {
    "Text": _is_text,
    "Image": lambda feature: isinstance(feature, tfds.features.Image),
    "ClassLabel": lambda feature: isinstance(feature, tfds.features.ClassLabel),
}


def _check_types(builder, types, purpose):
    """Each feature of `types` (`{key: "Text" | "Image" | "ClassLabel"}`) must be one."""
    features = builder.info.features
    for key, kind in types.items():
        feature = features[key]
        if isinstance(feature, tfds.features.Sequence):  # coco_captions' captions
            inner = feature.feature
            names = list(inner.keys()) if isinstance(inner, tfds.features.FeaturesDict) else []
            feature = inner["text"] if "text" in names else inner
        if not _TYPES[kind](feature):
            needs, examples = _KINDS[purpose]
            raise ValueError(
                f"Dataset {builder.info.full_name!r} holds no {purpose}: its feature "
                f"{key!r} is {type(feature).__name__}, not {kind}. This needs "
                f"{needs} features, e.g. {examples}. Its features: "
                f"{', '.join(f'{k} ({type(v).__name__})' for k, v in features.items())}"
            )


def _text_pair_keys(builder):
    """Default `(source, target)` keys: known, from `X_to_Y`, or supervised."""
    if builder.name in _TEXT_PAIR_KEYS:
        return _TEXT_PAIR_KEYS[builder.name]
    config = builder.builder_config.name if builder.builder_config else ""
    if re.fullmatch(r"\w+_to_\w+", config):
        return tuple(config.split("_to_", 1))
    keys = builder.info.supervised_keys
    if isinstance(keys, tuple) and len(keys) == 2 and all(isinstance(k, str) for k in keys):
        return keys
    return None, None


def load(name, split="train", data_dir=None, download_mode=None, **kwargs):
    """Loads an embedded or public TFDS dataset as a `tf.data.Dataset` of dicts.

    Prepares the dataset first if needed (embedded ones are generated locally,
    public ones downloaded), regenerating an embedded dataset whose cache is
    damaged (see `prepare()`).

    Args:
        name: `"dataset"` or `"dataset/config"`: one of `EMBEDDED_DATASETS`
            (`"number_words/en_to_de"`, `"digit_scenes"`, ...) or a public TFDS
            name such as `"ted_hrlr_translate/pt_to_en"`.
        split: a split name, optionally sliced (`"train[:10%]"`) or summed
            (`"train+validation"`). Defaults to `"train"`.
        data_dir: TFDS data directory. Defaults to TFDS' own.
        download_mode: see `prepare()`. Defaults to reusing a prepared dataset.
        **kwargs: passed to `builder.as_dataset`, e.g. `shuffle_files=True`.

    Returns:
        A `tf.data.Dataset` of feature dicts.

    Raises:
        ValueError: for an unknown dataset, config, split or download mode;
            each message lists the valid names.
        TypeError: for a `name` or `split` that is not a string.

    Example:

    >>> ds = load("number_words/en_to_de", split="validation[:10]")
    >>> sorted(next(iter(ds)))
    ['number', 'source', 'target']
    """
    builder = prepare(name, data_dir, download_mode)
    check_split(builder, split)
    return builder.as_dataset(split=split, **kwargs)


def load_translation_pairs(
    name, split="train", source=None, target=None, data_dir=None, max_source_words=None
):
    """Loads `(source_text, target_text)` string pairs of a translation dataset.

    Args:
        name: an embedded text dataset (`"number_words/en_to_fr"`,
            `"date_normalization"`) or a public one with one text feature per
            language (`"ted_hrlr_translate/pt_to_en"`).
        split: a split, as in `load()`. Defaults to `"train"`.
        source: feature key of the source text. Defaults to `"source"` for the
            embedded datasets, and to `X` of a config named `X_to_Y`.
        target: feature key of the target text, as `source` (`Y` of `X_to_Y`).
        data_dir: TFDS data directory. Defaults to TFDS' own.
        max_source_words: optional int >= 1: keep only the pairs whose source has
            at most this many whitespace words, as Bahdanau et al. train RNNenc-30
            on sentences of at most 30 words (`number_lists` counts its `,` as a
            word, as its `length` feature does).

    Returns:
        A `tf.data.Dataset` of `(source, target)` scalar string tensors. With
        `max_source_words` it is filtered, so its length is unknown to tf.data.

    Example:

    >>> pairs = load_translation_pairs("number_words/en_to_de", "train")
    >>> source, target = next(iter(pairs))
    >>> short = load_translation_pairs("number_lists/en_to_fr", "train", max_source_words=30)
    """
    builder = prepare(name, data_dir)
    defaults = _text_pair_keys(builder)
    source, target = source or defaults[0], target or defaults[1]
    if source is None or target is None:
        raise ValueError(
            f"Pass `source` and `target` for dataset {name!r}: its keys cannot be "
            f"told from its name. Its features: "
            f"{', '.join(builder.info.features.keys())}. "
            f"Received: source={source!r}, target={target!r}"
        )
    _check_keys(builder, [source, target], "translation pairs")
    _check_types(builder, {source: "Text", target: "Text"}, "translation pairs")
    check_split(builder, split)
    is_int = isinstance(max_source_words, int) and not isinstance(max_source_words, bool)
    if max_source_words is not None and not (is_int and max_source_words >= 1):
        raise ValueError(
            "`max_source_words` must be None or an int >= 1. "
            f"Received: max_source_words={max_source_words!r}"
        )
    ds = builder.as_dataset(split=split)
    pairs = ds.map(lambda ex: (ex[source], ex[target]), num_parallel_calls=tf.data.AUTOTUNE)
    if max_source_words is None:
        return pairs
    return pairs.filter(lambda s, t: tf.size(tf.strings.split(s)) <= max_source_words)


def load_caption_pairs(name, split="train", data_dir=None):
    """Loads `(image, caption)` pairs; one pair per caption where there are several.

    Args:
        name: a dataset with an `image` and either a `caption` text feature
            (`"digit_scenes"`) or a `captions` sequence of `{"text": ...}`
            (`"coco_captions"`).
        split: a split, as in `load()`. Defaults to `"train"`.
        data_dir: TFDS data directory. Defaults to TFDS' own.

    Returns:
        A `tf.data.Dataset` of `(image, caption)`: uint8 `(height, width,
        channels)` and a scalar string.

    Example:

    >>> image, caption = next(iter(load_caption_pairs("digit_scenes", "test")))
    >>> tuple(image.shape)
    (64, 64, 1)
    """
    builder = prepare(name, data_dir)
    many = check_caption_pairs(builder)
    check_split(builder, split)
    ds = builder.as_dataset(split=split)
    if not many:
        return ds.map(lambda ex: (ex["image"], ex["caption"]))

    def one_pair_per_caption(example):
        texts = tf.data.Dataset.from_tensor_slices(example["captions"]["text"])
        return texts.map(lambda text: (example["image"], text))

    return ds.flat_map(one_pair_per_caption)


def check_caption_pairs(builder):
    """Raises a `ValueError` unless `builder` has an `image` and a caption text.

    Returns:
        Whether the captions are a `captions` sequence (several per image).
    """
    many = "captions" in builder.info.features
    caption = "captions" if many else "caption"
    _check_keys(builder, ["image", caption], "caption pairs")
    _check_types(builder, {"image": "Image", caption: "Text"}, "caption pairs")
    return many


def check_image_labels(builder):
    """Raises a `ValueError` unless `builder` has an `image` and a class `label`."""
    _check_keys(builder, ["image", "label"], "image labels")
    _check_types(builder, {"image": "Image", "label": "ClassLabel"}, "image labels")


def load_image_labels(name, split="train", data_dir=None):
    """Loads `(image, label)` pairs of an image classification dataset.

    Args:
        name: a dataset with `image` and `label` features: `"digits"`,
            `"mnist"`, `"cifar10"`, ...
        split: a split, as in `load()`. Defaults to `"train"`.
        data_dir: TFDS data directory. Defaults to TFDS' own.

    Returns:
        A `tf.data.Dataset` of `(image, label)`: uint8 `(height, width,
        channels)` and a scalar int64 class index.

    Example:

    >>> ds = load_image_labels("digits", "validation")
    >>> image, label = next(iter(ds))
    >>> tuple(image.shape)
    (32, 32, 1)
    """
    builder = prepare(name, data_dir)
    check_image_labels(builder)
    check_split(builder, split)
    ds = builder.as_dataset(split=split)
    return ds.map(lambda ex: (ex["image"], ex["label"]), num_parallel_calls=tf.data.AUTOTUNE)
