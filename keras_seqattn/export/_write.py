"""Writing an export in this process, on the TensorFlow backend.

`export_model` comes here on TensorFlow; on JAX and PyTorch its subprocess
(`_subprocess`) does, so that neither imports the other. The folder checks, the
model's task, the search settings, and the write: staged beside `out`, then moved
into place.
"""

import json
import os
import pathlib
import shutil
import warnings

import keras

import keras_seqattn_registry
from keras_seqattn.export import _staging

# The search of the `beam` signatures of a model without `generation_defaults`.
SEARCH_DEFAULTS = dict(beam_width=4, length_penalty=0.0)


def export_here(model_or_path, out, options):
    """Exports on this process's TensorFlow backend, for a caller that holds `out`.

    `options` are `export_model`'s, checked. Returns `out`.
    """
    _staging.sweep(out)
    check_out(model_or_path, out, options["overwrite"])
    model = _load(model_or_path) if isinstance(model_or_path, (str, os.PathLike)) else model_or_path
    _write_export(model, out, options)
    return out


def check_out(model_or_path, out, overwrite):
    """Refuses every target `out` (a path) whose replacement would lose files.

    An export may replace only an earlier export (a folder holding `export.json`),
    and never a folder that holds the model being exported.
    """
    if isinstance(model_or_path, (str, os.PathLike)):
        model = pathlib.Path(model_or_path).resolve()
        if out.resolve() == model or out.resolve() in model.parents:
            raise ValueError(
                "`out` must not be the model file or a folder that holds it: the export "
                f"replaces `out` whole. Received: out={str(out)!r}, model={str(model_or_path)!r}"
            )
    if not out.exists() and not out.is_symlink():
        return out
    # Checked before `overwrite`: suggesting it for what it then refuses misleads.
    if out.is_symlink() or not out.is_dir() or not (out / "export.json").is_file():
        kind = "a file" if out.is_file() else "a folder without export.json"
        kind = "a symbolic link" if out.is_symlink() else kind
        raise ValueError(
            f"`out` is {kind}, which an export leaves untouched (`overwrite` replaces only "
            f"an earlier export, a folder holding export.json): choose another path. "
            f"Received: out={str(out)!r}"
        )
    if not overwrite:
        raise ValueError(
            f"`out` already exists; pass overwrite=True (--overwrite) to replace an earlier "
            f"export. Received: out={str(out)!r}"
        )
    return out


def check_task(model):
    """The registered task of `model` (`keras_seqattn_registry.task_of`), checked for export."""
    task = keras_seqattn_registry.task_of(type(model))
    if task is None:
        names = sorted(app.class_name for app in keras_seqattn_registry.applications().values())
        raise ValueError(
            "Only registered applications (keras_seqattn_registry.Application) export: "
            f"{', '.join(names)}. Received: a {type(model).__name__}"
        )
    if task == "captioning" and getattr(model, "tokenizer", None) is None:
        raise ValueError(f"A captioner needs its tokenizer (vocabulary). Received: {model.name}")
    if task == "translation" and None in (
        getattr(model, "source_tokenizer", None),
        getattr(model, "target_tokenizer", None),
    ):
        raise ValueError(
            "A translation model needs its source and target tokenizers (vocabularies). "
            f"Received: {model.name}"
        )
    return task


def _load(path):
    from keras_seqattn.saving import load_model

    return load_model(path)


def _plan(model, options):
    from keras_seqattn.export._captioning import captioning_plan
    from keras_seqattn.export._translation import translation_plan
    from keras_seqattn.export._vision import vision_plan

    task = check_task(model)
    if task == "classification":
        return vision_plan(model, options["top_k"], options["label_names"])
    generation = search_settings(model, options["beam_width"], options["length_penalty"])
    if task == "captioning":
        return captioning_plan(model, **generation)
    return translation_plan(model, **generation)


def search_settings(model, beam_width=None, length_penalty=None):
    """The `beam_width` and `length_penalty` of the export: each given one, else the
    model's `generation_defaults` (what `translate()` uses), else `SEARCH_DEFAULTS`."""
    defaults = {**SEARCH_DEFAULTS, **(getattr(model, "generation_defaults", None) or {})}
    return dict(
        beam_width=defaults["beam_width"] if beam_width is None else beam_width,
        length_penalty=float(
            defaults["length_penalty"] if length_penalty is None else length_penalty
        ),
    )


def _write_export(model, out, options):
    """Writes everything into a fresh folder beside `out`, then moves it into place."""
    from keras_seqattn.export._plan import checked
    from keras_seqattn.export._tflite import convert

    plan = _plan(model, options)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = _staging.make(out)  # marked, so that a killed export's is swept
    previous = _staging.previous_of(staging)
    try:
        # The variables the signatures use are tracked by the archive itself; the
        # model is not, since its tokenizers hold traced functions that cannot be saved.
        archive = keras.export.ExportArchive()
        for resource in plan.trackables:
            archive.track(resource)
        for name, fn, signature in plan.endpoints:
            archive.add_endpoint(
                name, checked(fn, signature, plan.id_limits), input_signature=signature
            )
        archive.write_out(str(staging / "saved_model"), verbose=False)
        tflite_files = []
        if options["tflite"]:
            for name, fn, signature in plan.tflite:
                content = convert(fn, signature, options["quantize"])
                (staging / name).write_bytes(content)
                tflite_files.append(name)
        for name, value in plan.files.items():
            if isinstance(value, bytes):  # a SentencePiece model, as it is
                (staging / name).write_bytes(value)
                continue
            if name == "export.json":
                value = {
                    "model_class": type(model).__name__,
                    **value,
                    "tflite": tflite_files,
                    "quantize": options["quantize"],
                    "notes": plan.notes,
                }
            (staging / name).write_text(json.dumps(value, indent=1, ensure_ascii=False) + "\n")
        # `mkdtemp` made the folder 0700; a server running as another user must read it.
        os.chmod(staging, 0o777 & ~_umask())
        # The old export moves aside before the new one moves in, and is deleted
        # only then: a crash at any point leaves a complete export on disk.
        if out.exists():
            _staging.move_aside(out, staging)
        _staging.move_in(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
        if previous.exists() and not out.exists():
            _staging.put_back(previous, out)  # The new export failed to move in.
        elif previous.exists():
            shutil.rmtree(previous) if previous.is_dir() else previous.unlink()
    for note in plan.notes:
        warnings.warn(note, stacklevel=3)


def _umask():
    """The process's umask (read by setting it, then putting it back)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return umask
