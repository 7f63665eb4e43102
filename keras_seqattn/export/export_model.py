"""`export_model`: any application to a TF Serving SavedModel and a builtins-only TFLite."""

import os
import pathlib
import tempfile

import keras

from keras_seqattn import _folder_lock
from keras_seqattn.export import _staging, _subprocess, _write
from keras_seqattn.export._write import SEARCH_DEFAULTS, search_settings  # noqa: F401 (its API)
from keras_seqattn.generation._decoding import check_beam_width, check_length_penalty


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
    """`export_model` for a caller that holds `out`."""
    if keras.backend.backend() == "tensorflow":
        return _write.export_here(model_or_path, out, options)
    # Before any saving or subprocess: the folder, and a model object's task.
    _staging.sweep(out)
    _write.check_out(model_or_path, out, options["overwrite"])
    if not isinstance(model_or_path, (str, os.PathLike)):
        _write.check_task(model_or_path)
    return _export_elsewhere(model_or_path, out, options)


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
