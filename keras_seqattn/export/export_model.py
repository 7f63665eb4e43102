"""`export_model`: any application to a TF Serving SavedModel and a builtins-only TFLite."""

import json
import os
import pathlib
import shutil
import tempfile
import warnings

import keras

from keras_seqattn import _folder_lock
from keras_seqattn.export import _staging, _subprocess
from keras_seqattn.generation._decoding import check_beam_width, check_length_penalty

# The search of the `beam` signatures of a model without `generation_defaults`.
SEARCH_DEFAULTS = dict(beam_width=4, length_penalty=0.0)


def export_model(
    model_or_path,
    out,
    tflite=False,
    quantize=None,
    overwrite=False,
    beam_width=None,
    length_penalty=None,
    top_k=5,
    label_names=None,
):
    """Exports an application for TensorFlow Serving and, optionally, for LiteRT.

    Writes, under the folder `out`:

    - `saved_model/`: a SavedModel whose signatures run the whole model,
      generation loop and detokenisation included, with core TensorFlow ops only
      (a process that imports nothing but `tensorflow` serves it):
      - image classifiers (`VisionTransformer`): `serving_default`, images ->
        probabilities, top-k.
      - captioners: `serving_default` (float images), `image_bytes` (JPEG/PNG),
        `beam` and, for attention models, `attention`; captions out.
      - translation models: `serving_default` and `beam` (strings in,
        tokenised in the graph with core TensorFlow ops in every tokenizer
        mode, and for a converted MarianMT model's SentencePiece unigram
        model), `token_ids`, `token_ids_beam` and, for attention models,
        `attention`.
    - `model.tflite` (with `tflite=True`): batch 1, builtin ops only, greedy
      search; images in for image models, token ids in for text models, ids out.
    - `vocabulary.json` (and `source_vocabulary.json`): the token of each id;
      for translation models `source_tokenizer.json` (and, for sentence
      pieces, `source_tokenizer.model`): what a LiteRT client needs to tokenise
      as `translate()` does (`serving.md` has the client).
    - `export.json`: the signatures, sizes, special ids and notes.

    See `serving.md` for the request of each signature. The `.keras` format is
    backend portable: on the JAX or PyTorch backend, the export runs again in a
    subprocess on the TensorFlow backend, from the `.keras` file (a model object
    is saved to a temporary one first).

    Args:
        model_or_path: an application model, or the path of its `.keras` file.
        out: str or path, the folder to write; it must not exist unless
            `overwrite=True`, and may then only be an earlier export (a folder
            holding `export.json`) that does not hold the model.
        tflite: bool, also write `model.tflite`. Defaults to `False`.
        quantize: `None`, `"float16"` or `"dynamic"` (int8 weights), applied
            to the TFLite model. Defaults to `None`.
        overwrite: bool, replace an earlier export at `out`. Defaults to `False`.
        beam_width: int, the beams of the `beam` signatures; `1` leaves them
            out. Defaults to `None`: the model's `generation_defaults` (a
            converted MarianMT model's `num_beams`, what `translate()` uses),
            else `4`.
        length_penalty: float, GNMT length-penalty exponent of beam search
            (the exponent of `length ** alpha` for a model whose
            `generation_options` say `length_penalty_form="power"`, as a
            converted MarianMT model's). Defaults to `None`: the model's
            `generation_defaults` likewise, else `0.0`. `export.json` records
            the values used.
        top_k: int, the labels the image classifier returns. Defaults to `5`.
        label_names: list of str, the name of each class (image classifier).
            Defaults to `None` (the model's `label_names`, if any).

    Returns:
        The `out` folder, as a `pathlib.Path`.

    Example:

    ```python
    export_model("run/model.keras", "run/export", tflite=True)
    # run/export/saved_model, run/export/model.tflite, run/export/vocabulary.json
    ```
    """
    options = _check_options(
        tflite, quantize, overwrite, beam_width, length_penalty, top_k, label_names
    )
    if not isinstance(out, (str, os.PathLike)) or not os.fspath(out).strip():
        raise ValueError(f"`out` must be a folder path. Received: out={out!r}")
    out = pathlib.Path(out)
    # Held before `out` is looked at: two exports that both found it free would
    # both write it, and the second would replace the first.
    with _folder_lock.hold(out):
        return _export(model_or_path, out, options)


def _export(model_or_path, out, options):
    """`export_model` for a caller that holds `out` (or whose parent process does)."""
    _staging.sweep(out)
    _check_out(model_or_path, out, options["overwrite"])
    if not isinstance(model_or_path, (str, os.PathLike)):
        _task(model_or_path)  # a clear error before any saving or subprocess
    if keras.backend.backend() != "tensorflow":
        return _export_elsewhere(model_or_path, out, options)
    model = _load(model_or_path) if isinstance(model_or_path, (str, os.PathLike)) else model_or_path
    _write(model, out, options)
    return out


def _check_out(model_or_path, out, overwrite):
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


def _check_options(tflite, quantize, overwrite, beam_width, length_penalty, top_k, label_names):
    if quantize not in (None, "float16", "dynamic"):
        raise ValueError(
            f"`quantize` must be None, 'float16' or 'dynamic'. Received: quantize={quantize!r}"
        )
    if quantize is not None and not tflite:
        raise ValueError(
            "`quantize` applies to the TFLite model; pass tflite=True. "
            f"Received: quantize={quantize!r}"
        )
    if beam_width is not None:
        check_beam_width(beam_width)
    if length_penalty is not None:
        check_length_penalty(length_penalty)
    if not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1:
        raise ValueError(f"`top_k` must be a positive int. Received: top_k={top_k!r}")
    return dict(
        tflite=bool(tflite),
        quantize=quantize,
        overwrite=bool(overwrite),
        beam_width=None if beam_width is None else int(beam_width),
        length_penalty=None if length_penalty is None else float(length_penalty),
        top_k=top_k,
        label_names=None if label_names is None else [str(n) for n in label_names],
    )


def _task(model):
    """The registered task of `model` (`keras_seqattn_cli.task_of`), checked for export."""
    import keras_seqattn_cli

    task = keras_seqattn_cli.task_of(type(model))
    if task is None:
        names = sorted(app.class_name for app in keras_seqattn_cli.applications().values())
        raise ValueError(
            "Only registered applications (keras_seqattn_cli.Application) export: "
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


def _export_elsewhere(model_or_path, out, options):
    """Saves a model object if need be, then exports it on the TensorFlow backend."""
    with tempfile.TemporaryDirectory() as folder:
        path = model_or_path
        if not isinstance(model_or_path, (str, os.PathLike)):
            path = os.path.join(folder, "model.keras")
            model_or_path.save(path)
        lock = _folder_lock.descriptor(out)
        _subprocess.export_under_tensorflow(str(path), str(out), options, lock)
    return out


def _plan(model, options):
    from keras_seqattn.export._captioning import captioning_plan
    from keras_seqattn.export._translation import translation_plan
    from keras_seqattn.export._vision import vision_plan

    task = _task(model)
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


def _write(model, out, options):
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
