"""`keras-seqattn`: train, evaluate, use and export the lecture's models from a shell.

The grammar (every command and option, with its help) is `keras_seqattn_cli`,
which the console script runs so that `--backend` is read before Keras is
imported; this module does the work of a parsed command (`run`). `main(argv)`
parses and runs in this process, on the backend Keras already has:

    from keras_seqattn import cli
    cli.main(["predict", "runs/dates/model.keras", "3. Mai 2021"])

A user error (a bad option, an unknown dataset, a dataset of the wrong kind, an
unreadable file, a refused output folder) ends the command with one line on
stderr and a non-zero exit, never a traceback, and leaves every file as it was.
`KERAS_SEQATTN_TRACEBACK=1` shows the traceback instead, for debugging.
"""

import importlib
import json
import os
import re

import keras_seqattn_cli
import keras_seqattn_registry

# Suffixes of the image files `predict` reads; a translation model refuses them.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp")


def main(argv=None):
    """Parses `argv` (default: `sys.argv[1:]`) and runs the command in this process."""
    return keras_seqattn_cli.main(argv)


def run(args):
    """Runs a command parsed by `keras_seqattn_cli.build_parser()`; returns the exit code."""
    commands = {"train": _train, "predict": _predict, "evaluate": _evaluate, "export": _export}
    try:
        return commands[args.command](args)
    except (ValueError, TypeError, OSError) as error:
        if os.environ.get("KERAS_SEQATTN_TRACEBACK"):
            raise
        raise SystemExit(f"keras-seqattn: error: {_one_line(error)}") from None
    except KeyboardInterrupt:
        if os.environ.get("KERAS_SEQATTN_TRACEBACK"):
            raise
        again = " (run the same command again to resume)" if args.command == "train" else ""
        raise SystemExit(f"keras-seqattn: interrupted{again}") from None


def _one_line(error):
    if isinstance(getattr(error, "message", None), str):  # TensorFlow's op errors
        text = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", error.message)
        text = re.sub(r"\s*\[Op:\w+\]", "", text)
    elif isinstance(error, OSError) and error.filename is not None:
        text = f"{error.strerror or error}: {error.filename!r}"
    else:
        text = str(error)
    return " ".join(text.split()) or type(error).__name__


def _application(name):
    return keras_seqattn_registry.applications()[name]


def _model_kwargs(args):
    """The chosen model's constructor arguments, from its registered options."""
    app = _application(args.model)
    arguments = {}
    for option in app.options:
        value = getattr(args, option.argument)
        if option.configs:
            configs = importlib.import_module(app.target.partition(":")[0]).CONFIGS
            if value not in configs:
                raise ValueError(
                    f"{option.flag} must be one of {sorted(configs)}. Received: {value!r}"
                )
            arguments.update(configs[value])
        elif value is not None:  # None: not given, the constructor's default holds
            arguments[option.argument] = value
    return app.finish(arguments) if app.finish else arguments


def _distribution(args):
    """The engine for `--data-parallel` x `--model-parallel` devices, or `None` for one."""
    from keras_seqattn import distribute
    from keras_seqattn.models.transformer_layout_map import check_model_parallel

    app = _application(args.model)
    model_class = app.load_class()
    if app.task == "classification":
        sizes = importlib.import_module(app.target.partition(":")[0]).CONFIGS.get(args.config, {})
    else:
        sizes = _model_kwargs(args)
    distribution = distribute.make_distribution(
        args.data_parallel, args.model_parallel, model_class
    )
    if args.model_parallel > 1:
        sharded = ("num_heads", "hidden_dim", "intermediate_dim", "mlp_dim")
        check_model_parallel({k: sizes[k] for k in sharded if k in sizes}, args.model_parallel)
    return distribution


def _common(args):
    return dict(
        distribution=_distribution(args),
        out=args.out,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        train_limit=args.train_limit,
        eval_limit=args.eval_limit,
        seed=args.seed,
    )


def _train(args):
    from keras_seqattn import training

    task = _application(args.model).task
    if task == "classification":
        metrics = training.train_image_classifier(
            args.dataset,
            config=args.config,
            weight_decay=args.weight_decay,
            warmup_epochs=args.warmup_epochs,
            augmentation=None if args.augmentation == "none" else args.augmentation,
            weights=args.weights,
            image_size=args.image_size,
            model_class=_application(args.model).load_class(),
            **_common(args),
        )
        keys = ("test_accuracy", "parameters", "train_seconds")
    elif task == "captioning":
        metrics = training.train_captioner(
            _application(args.model).load_class(),
            args.dataset,
            vocabulary_size=args.vocabulary_size,
            beam_width=args.beam_width,
            image_size=(args.image_size, args.image_size) if args.image_size else None,
            **_common(args),
            **_model_kwargs(args),
        )
        keys = ("exact_match", "bleu", "cider", "attention_localization", "train_seconds")
    else:
        metrics = training.train_translation(
            _application(args.model).load_class(),
            args.dataset,
            tokens=args.tokens,
            vocabulary_size=args.vocabulary_size,
            beam_width=args.beam_width,
            **_common(args),
            **_model_kwargs(args),
        )
        keys = ("exact_match", "bleu", "train_seconds")
    print(json.dumps({k: metrics[k] for k in keys}))
    return 0


def _load(args):
    """The model at `args.model_path` (`keras_seqattn.saving.load_model`) and its task,
    once the options are checked against that task (`_check_model_options`)."""
    from keras_seqattn.saving import load_model

    model = load_model(args.model_path)
    task = task_of(model)
    _check_model_options(args, task)
    return model, task


def _check_model_options(args, task):
    """Refuses options of another kind of model than `task`, as the grammar does.

    The grammar decides it before Keras, from the task it reads in the archive
    (`keras_seqattn_cli.model_options_error`), but cannot tell the task of a
    subclass of an application; so the rule is applied again, with the same
    message and exit (2), once the model has loaded.
    """
    message = keras_seqattn_cli.model_options_error(args, task)
    if message:
        keras_seqattn_cli.build_parser().error(message)


def task_of(model):
    """The task of the registered application `model` is (or derives from)."""
    task = keras_seqattn_registry.task_of(type(model))
    if task is None:
        names = sorted(app.class_name for app in keras_seqattn_registry.applications().values())
        raise ValueError(
            f"{type(model).__name__} is no registered application "
            f"({', '.join(names)}); see keras_seqattn_registry.Application"
        )
    return task


def _predict(args):
    """One output line per input: a translation; `path<TAB>caption`; `path<TAB>class<TAB>p`."""
    model, kind = _load(args)
    if kind == "translation":
        images = [text for text in args.inputs if _is_image_file(text)]
        if images:
            raise ValueError(
                f"This model translates text; {images[0]!r} is an image file. Give it the "
                f"texts to translate (a model from `train vit` or a captioner reads images)."
            )
        beams = {} if args.beam_width is None else {"beam_width": args.beam_width}
        for text in model.translate(args.inputs, **beams).text:
            print(text)
        return 0
    if kind == "captioning":
        images = _read_images(args.inputs, model.image_size, model.num_channels)
        for path, text in zip(
            args.inputs, model.caption(images, beam_width=args.beam_width or 1).text
        ):
            print(f"{path}\t{text}")
        return 0
    import numpy as np

    images = _read_images(args.inputs, model.image_size, model.num_channels)
    logits = model.predict(images, verbose=0)
    probabilities = np.exp(logits - logits.max(-1, keepdims=True))
    probabilities /= probabilities.sum(-1, keepdims=True)
    for path, row in zip(args.inputs, probabilities):
        print(f"{path}\t{int(row.argmax())}\t{row.max():.4f}")
    return 0


def _is_image_file(text):
    return text.lower().endswith(IMAGE_SUFFIXES) and os.path.isfile(text)


def _read_images(paths, size, channels):
    """Image files as one `(batch, height, width, channels)` 0-255 float32 array.

    Decoded and resized as the exported `image_bytes` signature does
    (`keras_seqattn.text.decode_image`), so 16-bit PNGs come to the 0-255 scale too.
    """
    import numpy as np

    from keras_seqattn.text import decode_image

    size = (size, size) if isinstance(size, int) else tuple(size)
    images = []
    for path in paths:
        if not os.path.isfile(path):
            raise ValueError(f"This model takes image files; there is no file at {path!r}")
        with open(path, "rb") as file:
            data = file.read()
        try:
            images.append(np.asarray(decode_image(data, size, channels)))
        except Exception as error:  # TensorFlow raises several types for unreadable files
            raise ValueError(f"Cannot read {path!r} as an image: {_one_line(error)}") from None
    return np.stack(images)


def _evaluate(args):
    from keras_seqattn import datasets, evaluation

    model, kind = _load(args)
    if kind == "translation":
        pairs = datasets.load_translation_pairs(args.dataset, split=args.split)
        scores = evaluation.evaluate_translation(
            model, pairs, limit=args.limit, beam_width=args.beam_width
        )
        keys = ("exact_match", "bleu", "count")
    elif kind == "captioning":
        datasets.check_caption_pairs(datasets.prepare(args.dataset))
        examples = datasets.load(args.dataset, split=args.split)
        scores = evaluation.evaluate_captioning(
            model, examples, limit=args.limit, beam_width=args.beam_width or 1
        )
        keys = ("exact_match", "bleu", "cider", "attention_localization", "count")
    else:
        pairs = datasets.load_image_labels(args.dataset, split=args.split)
        scores = evaluation.evaluate_image_classification(model, pairs, limit=args.limit)
        keys = ("accuracy", "count")
    print(json.dumps({k: scores[k] for k in keys}))
    return 0


def _export(args):
    """`keras-seqattn export`: bad options and bad models end with a one-line error.

    Options that exclude each other are usage errors of the grammar
    (`keras_seqattn_cli.check_usage`); `export_model` checks `--out` before
    the model loads.
    """
    kinds = keras_seqattn_registry.TASKS
    if keras_seqattn_cli._saved_task(args.model_path) is None and any(
        keras_seqattn_cli.model_options_error(args, kind) for kind in kinds
    ):
        # The grammar could not tell the model's kind, and an option of only some
        # kinds was given: loaded here to learn it (`export_model` loads it again).
        _load(args)
    labels = None
    if args.labels:
        with open(args.labels, encoding="utf-8") as file:
            try:
                labels = json.load(file)
            except json.JSONDecodeError as error:
                raise ValueError(f"--labels {args.labels!r} is not JSON ({error})") from None
        if not isinstance(labels, list) or not all(isinstance(n, str) for n in labels):
            raise ValueError(
                f"--labels must be a JSON list of class names (strings). "
                f"Received: {json.dumps(labels)[:80]}"
            )
    from keras_seqattn.export import export_model

    out = export_model(
        args.model_path,
        args.out,
        tflite=args.tflite,
        quantize=args.quantize,
        overwrite=args.overwrite,
        beam_width=args.beam_width,
        length_penalty=args.length_penalty,
        top_k=args.top_k,
        label_names=labels,
    )
    print(json.dumps({"out": str(out), "files": sorted(p.name for p in out.iterdir())}))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
