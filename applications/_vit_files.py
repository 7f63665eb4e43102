"""The files of a ViT checkpoint, read or refused in one line that names the file.

A part of `vit_pretrained`. `check_checkpoint_path` is cheap (a config.json and
the header of a `.safetensors` file, not its tensors), so that a training job
tells a wrong `--weights` before it prepares any data.
"""

import json
import pathlib
import struct

# The names that tell a state dict's format before any tensor is read.
_HUGGING_FACE_NAMES = ("embeddings.cls_token", "vit.embeddings.cls_token")
_TIMM_NAMES = ("patch_embed.proj.weight", "pos_embed")
_EXPECTED = (
    "Expected a checkpoint directory with a config.json (a Hugging Face ViT's with "
    "model.safetensors and optionally preprocessor_config.json, a timm model's with "
    "model.safetensors, or a keras-hub preset) or a timm state dict as a bare .safetensors "
    "file (cls_token, pos_embed, patch_embed.proj.weight, blocks.N...)"
)


def check_checkpoint_path(source):
    """`source` as a path, if it can be a checkpoint: a timm `.safetensors` file,
    or a directory with a readable config.json. Cheap, so a job checks it before
    its data. Raises a `ValueError` saying what was expected and what came."""
    path = pathlib.Path(source)
    if path.is_file() and path.suffix == ".safetensors":
        names = safetensors_names(path)
        if any(name in names for name in _HUGGING_FACE_NAMES):
            raise ValueError(
                f"{path} holds the weights of a Hugging Face ViT, which are read with the "
                "config.json beside them: pass the directory that holds both. "
                f"Received: source={str(source)!r}"
            )
        if not all(name in names for name in _TIMM_NAMES):
            raise ValueError(
                f"{_EXPECTED}. Received: a .safetensors file of {len(names)} tensors without "
                f"timm's names, e.g. {sorted(names)[:4]}, source={str(source)!r}"
            )
        return path
    if not (path / "config.json").is_file():
        what = (
            "a file not named .safetensors"
            if path.is_file()
            else "a directory without a config.json"
            if path.is_dir()
            else "no such file or directory"
        )
        raise ValueError(f"{_EXPECTED}. Received: {what}, source={str(source)!r}")
    read_json(path / "config.json")
    weights = path / "model.safetensors"
    if weights.is_file():
        safetensors_names(weights)
    return path


def read_json(file):
    """The JSON object in `file`; a `ValueError` naming the file and the position if not."""
    try:
        value = json.loads(pathlib.Path(file).read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{file} is not UTF-8 text. Received: byte {error.object[error.start]:#x} at "
            f"position {error.start}"
        ) from None
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{file} is not valid JSON. Received: {error.msg} at line {error.lineno}, "
            f"column {error.colno} (character {error.pos})"
        ) from None
    if not isinstance(value, dict):
        raise ValueError(f"{file} must hold a JSON object. Received: a JSON {type(value).__name__}")
    return value


def _unreadable(path, reason):
    return ValueError(f"{path} is not a readable safetensors file. Received: {reason}")


def safetensors_names(path):
    """The tensor names in a `.safetensors` header, after checking that the file
    holds every byte the header promises (a truncated download does not)."""
    size = path.stat().st_size
    with open(path, "rb") as file:
        prefix = file.read(8)
        if len(prefix) < 8:
            raise _unreadable(path, f"a file of {size} bytes, shorter than its 8-byte header size")
        (length,) = struct.unpack("<Q", prefix)
        if length > size - 8:
            raise _unreadable(path, f"a header of {length} bytes in a file of {size} bytes")
        try:
            header = json.loads(file.read(length))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise _unreadable(path, "a header that is not JSON") from None
    if not isinstance(header, dict):
        raise _unreadable(path, f"a header that is a JSON {type(header).__name__}")
    header.pop("__metadata__", None)
    try:
        end = max((int(entry["data_offsets"][1]) for entry in header.values()), default=0)
    except (TypeError, KeyError, IndexError, ValueError):
        raise _unreadable(path, "a header without data_offsets for every tensor") from None
    if 8 + length + end > size:
        raise _unreadable(
            path, f"{size} bytes where its header needs {8 + length + end} (truncated)"
        )
    return list(header)


def load_safetensors(path):
    """Every tensor of `path` as NumPy arrays of floating point."""
    try:
        from safetensors import SafetensorError
        from safetensors.numpy import load_file
    except ImportError:  # pragma: no cover - the extra is in dev
        raise ImportError(
            "Reading .safetensors checkpoints needs the `safetensors` package: "
            "pip install 'keras-seqattn[pretrained]'"
        ) from None
    safetensors_names(path)
    try:
        arrays = load_file(str(path))
    except (SafetensorError, OSError, TypeError) as error:
        first = next(iter(str(error).splitlines()), "") or type(error).__name__
        raise _unreadable(path, first) from None
    # bfloat16 (ml_dtypes) is kind "V"; integers, booleans and strings are not weights.
    not_float = sorted(f"{k}: {v.dtype}" for k, v in arrays.items() if v.dtype.kind in "biucOSU")
    if not_float:
        raise ValueError(
            f"{path} holds tensors that are not floating point, which no ViT weight is. "
            f"Received: {not_float[:4]}"
        )
    return arrays
