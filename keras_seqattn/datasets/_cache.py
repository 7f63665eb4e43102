"""Finds prepared TFDS datasets that were damaged after TFDS finished them.

TFDS writes a dataset into a temporary folder and renames it when done, so an
interrupted generation never looks finished. Damage comes later (a partial copy
or sync, a full disk, a deleted file), and TFDS reuses the folder as it is, then
fails on read. What `dataset_info.json` records lets us check the folder first.
"""

from tensorflow_datasets.core import file_adapters

# A TFRecord frames each record with a length (8 bytes) and two CRCs (4 each);
# `SplitInfo.num_bytes` counts only the serialized examples.
TFRECORD_OVERHEAD = 16


def find_damage(builder):
    """Says what is wrong with `builder`'s prepared dataset, if anything.

    Args:
        builder: a `tfds.core.DatasetBuilder`.

    Returns:
        `None` when the dataset is whole or was never prepared (its folder does
        not exist); otherwise a sentence naming the missing or damaged file.
    """
    path = builder.data_path
    if not path.exists():
        return None
    if not (path / "dataset_info.json").exists():
        return f"{path} has no dataset_info.json"
    for split in builder.info.splits.values():
        files = split.filepaths
        missing = [file.name for file in files if not file.exists()]
        if missing:
            return f"split {split.name!r} misses shard file {missing[0]}"
        num_bytes = int(split.num_bytes)  # 0 when TFDS did not record it.
        if num_bytes and builder.info.file_format == file_adapters.FileFormat.TFRECORD:
            expected = num_bytes + TFRECORD_OVERHEAD * split.num_examples
            found = sum(file.stat().length for file in files)
            if found != expected:
                return (
                    f"the shard files of split {split.name!r} hold {found} bytes "
                    f"where dataset_info.json records {expected}"
                )
    return None
