"""Checks of a dataset version and split as a user writes them, before TFDS reads them.

TFDS answers a reversed slice (`"test[50%:10%]"`) with a dataset that fails when
read ("expected to contain -800 elements"), an empty one (`"test[:0]"`) with
"Instruction [] corresponds to no data!", and an unknown version with an
`AssertionError`; here each is one `ValueError` that says what was expected.
"""

import re

import tensorflow_datasets as tfds

_SLICES = "slices like 'train[:10%]' or 'test[100:200]' work too"


def check_version(dataset, config, version, name):
    """Refuses a `version` (the `1.0.0` of `"ds/config:1.0.0"`) that TFDS cannot load.

    The versions are those TFDS picks from (`DatasetBuilder._pick_version`): the
    config's own version and supported versions where the config has them (as
    `wmt14_translate`'s configs do), else the class's; `experimental_latest` too.
    """
    if version == "experimental_latest":
        return
    builder_class = tfds.builder_cls(dataset)
    chosen = _config(builder_class, config)
    try:
        versions = [
            str(tfds.core.dataset_builder.canonical_version_for_config(builder_class, chosen))
        ]
    except ValueError:  # a builder without a version: TFDS itself will say so
        return
    supported = (chosen.supported_versions if chosen else None) or builder_class.SUPPORTED_VERSIONS
    versions += [str(v) for v in supported or ()]
    if any(_matches(known, version) for known in versions):
        return
    raise ValueError(
        f"Unknown version {version!r} of dataset {dataset!r}: expected one of "
        f"{', '.join(versions)} (or a pattern such as '1.*.*', or 'experimental_latest'). "
        f"Received: name={name!r}"
    )


def _config(builder_class, config):
    """The `BuilderConfig` named `config`, or the one TFDS takes by default (`None`: none)."""
    configs = {c.name: c for c in builder_class.BUILDER_CONFIGS}
    if not configs:
        return None
    if config is None:
        config = getattr(builder_class, "DEFAULT_BUILDER_CONFIG_NAME", None) or next(iter(configs))
    return configs.get(config)


def _matches(known, version):
    try:
        return tfds.core.Version(known).match(version)
    except ValueError:  # not x.y.z with wildcards
        return False


def check_split(builder, split):
    """Refuses an unknown, malformed, out-of-range or empty `split` of `builder`."""
    known = list(builder.info.splits)
    if split is not None and not isinstance(split, (str, list, tuple)):
        raise TypeError(
            "`split` must be a split name such as 'train' or 'train[:10%]'. "
            f"Valid splits: {', '.join(known)}. Received: split={split!r}"
        )
    if not known or not isinstance(split, str):
        return  # Split names are unknown (e.g. under `tfds.testing.mock_data`).
    for part in split.split("+"):
        part = part.strip()
        base = re.sub(r"\[.*\]$", "", part)
        if base not in known:
            raise ValueError(
                f"Unknown split {base!r} of dataset {builder.info.full_name!r}. "
                f"Valid splits: {', '.join(known)} ({_SLICES}). Received: split={split!r}"
            )
        _check_slice(builder, base, part, split)


def _check_slice(builder, base, part, split):
    total = builder.info.splits[base].num_examples
    if not total or part == base:
        return  # The whole split, or one whose size the dataset does not say.
    try:
        count = builder.info.splits[part].num_examples
    except (ValueError, KeyError):
        count = None
    if count is None:
        raise ValueError(
            f"Cannot read the split {part!r}: expected {base}[from:to] with from and to "
            f"ints within its {total} examples or percents in [-100%, 100%] ({_SLICES}). "
            f"Received: split={split!r}"
        )
    if count <= 0 and _in_order(part, total):
        raise ValueError(
            f"The split {part!r} selects no examples of the {total} in {base!r}: its "
            f"bounds round to the same example; expected a wider slice, or counts such as "
            f"{base}[:{max(1, total // 10)}] ({_SLICES}). Received: split={split!r}"
        )
    if count <= 0:
        raise ValueError(
            f"The split {part!r} selects no examples of the {total} in {base!r}: "
            f"expected {base}[from:to] with from before to ({_SLICES}). "
            f"Received: split={split!r}"
        )


def _in_order(part, total):
    """Whether the slice of `part` has its `from` before its `to` as written."""
    bounds = re.fullmatch(r".*\[\s*(-?\d+%?)?\s*:\s*(-?\d+%?)?\s*\]", part)
    if bounds is None:
        return False

    def where(bound, default):  # as a fraction of the split
        if bound is None:
            return default
        scale = 100 if bound.endswith("%") else total
        number = int(bound.rstrip("%"))
        return (number + scale if number < 0 else number) / scale

    return where(bounds.group(1), 0.0) < where(bounds.group(2), 1.0)
