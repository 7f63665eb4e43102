"""`load_model`: opens a `.keras` file of this package safely, or says why it will not.

Every layer and application of keras-seqattn serialises to plain configs and
weights: no `Lambda` layer, no pickled Python. So a file is always loaded with
`safe_mode=True`, and a file that asks for more (a `Lambda`, or a class that
neither Keras nor this package registers, which would have to be imported from
somewhere) is refused before any of it is deserialised, with an error that names
the offending entry. Keras's own errors for these cases name neither the class
nor the file (an unknown class surfaces as "Sequential could not be
deserialized properly", a corrupt archive as "File not found").
"""

import importlib
import json
import os
import pathlib
import zipfile

import keras

# Classes a file of this package never needs, whatever module they claim.
REFUSED_CLASSES = ("Lambda", "TFSMLayer")


def load_model(path, compile=True):
    """Loads a `.keras` file written by keras-seqattn, on any backend.

    Args:
        path: path of a `.keras` file (from `model.save`, the CLI's `train`,
            on any backend).
        compile: bool, restore the optimizer and loss as saved. Defaults to
            `True`.

    Returns:
        The model, with its weights (and tokenizers' vocabularies).

    Raises:
        ValueError: the path is no `.keras` file, the archive or the weights in
            it are unreadable, or its config names a `Lambda` or a class nobody
            registers.

    Example:

    >>> import tempfile, os
    >>> from keras_seqattn.applications import VisionTransformer
    >>> model = VisionTransformer(image_size=8, patch_size=4, num_classes=2, hidden_dim=8,
    ...                           num_layers=1, num_heads=2, mlp_dim=8, num_channels=1)
    >>> path = os.path.join(tempfile.mkdtemp(), "vit.keras")
    >>> model.save(path)
    >>> load_model(path).count_params() == model.count_params()
    True
    """
    import keras_seqattn.applications  # noqa: F401  (registers the application classes)

    path = pathlib.Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"Expected the path of a `.keras` file. Received: path={str(path)!r}")
    if not path.is_file():
        raise ValueError(f"No model file at this path. Received: path={str(path)!r}")
    _check_config(path, _read_config(path))
    try:
        return keras.saving.load_model(path, compile=compile, safe_mode=True)
    except OSError as error:  # h5py, for weights damaged inside a sound zip
        raise ValueError(
            f"The weights in this `.keras` file are unreadable; the file is damaged "
            f"({' '.join(str(error).split())}). Received: path={str(path)!r}"
        ) from None


def _read_config(path):
    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read("config.json"))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise ValueError(
            f"Expected a `.keras` archive (a zip file holding config.json); this file is "
            f"not one or is damaged ({error}). Received: path={os.fspath(path)!r}"
        ) from None


def _check_config(path, config):
    for entry in _class_entries(config):
        name = entry["class_name"]
        if name in REFUSED_CLASSES:
            raise ValueError(
                f"Refusing to load {os.fspath(path)!r}: its config holds a `{name}` layer, "
                f"which runs code stored in or imported by the file; keras-seqattn models "
                f"never contain one. Received: class_name={name!r}"
            )
        if not _resolves(entry):
            claimed = entry.get("registered_name") or f"{entry.get('module')}.{name}"
            raise ValueError(
                f"Refusing to load {os.fspath(path)!r}: its config names a class that neither "
                f"Keras nor keras-seqattn registers (saved by another package, or by a newer "
                f"keras-seqattn?). Received: class={claimed!r}"
            )


def _class_entries(value):
    """Every serialised-object dict (one with a `class_name`) inside `value`."""
    if isinstance(value, dict):
        if isinstance(value.get("class_name"), str) and "config" in value:
            yield value
        for item in value.values():
            yield from _class_entries(item)
    elif isinstance(value, list):
        for item in value:
            yield from _class_entries(item)


def _resolves(entry):
    """Whether Keras can find the class without importing anything new."""
    name, module = entry["class_name"], entry.get("module") or ""
    registered = entry.get("registered_name")
    if registered and keras.saving.get_registered_object(registered) is not None:
        return True
    if module == "builtins" or name == "function" or name.startswith("__"):
        return True  # Plain values and Keras functions, which Keras resolves by name.
    if module.split(".")[0] != "keras":
        return False
    try:  # Keras's own modules: already imported with keras.
        return hasattr(importlib.import_module(module), name)
    except ImportError:
        return False
