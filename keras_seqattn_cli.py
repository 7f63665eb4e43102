"""The `keras-seqattn` console script: its grammar, and the start that picks a backend.

    keras-seqattn train attention-seq2seq --dataset number_words/en_to_de --epochs 10 --out DIR
    keras-seqattn predict DIR/model.keras "forty two" "one hundred and seven"
    keras-seqattn evaluate DIR/model.keras --dataset number_words/en_to_de
    keras-seqattn export DIR/model.keras --out DIR/export --tflite --quantize float16
    keras-seqattn train vit --dataset digits --config vit_tiny_digits --epochs 30 --out DIR
    keras-seqattn --backend jax train attention-captioner --dataset digit_scenes --out DIR

This module sits beside the package, not in it, because importing anything inside
`keras_seqattn` imports Keras, and Keras fixes its backend when it is first
imported: `--backend` has to be read first. So the grammar lives here, with no
Keras or TensorFlow import, and `--help` or a usage error answers at once; only a
command that runs imports `keras_seqattn.cli`, which does the work. Every user
error ends in one line on stderr and a non-zero exit: 2 for a usage error, 1 for
one found while running (an unknown dataset, a refused folder).
"""

import argparse
import contextlib
import json
import os
import sys
import tempfile
import zipfile

# The registry's names stay reachable here too: packages of their own name
# `keras_seqattn_cli.Application` in their entry points (the registry lived here first).
from keras_seqattn_registry import (  # noqa: F401
    APPLICATIONS,
    BACKENDS,
    ENTRY_POINT_GROUP,
    NON_NEGATIVE,
    POSITIVE,
    TASKS,
    Application,
    Option,
    applications,
    finite_number,
    task_of,
)

# `export`'s default, which `check_usage` tells from a value given for the wrong model
# (--beam-width and --length-penalty default to None: the model's generation defaults).
EXPORT_TOP_K = 5


class Parser(argparse.ArgumentParser):
    """An `ArgumentParser` whose errors are one line: the message and where help is."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


class _Defaults(argparse.HelpFormatter):
    """Help that shows an option's default where it has one worth showing."""

    def _get_help_string(self, action):
        text = action.help or ""
        hidden = action.default is None or action.default is False
        shown = not hidden and action.default != argparse.SUPPRESS and "default" not in text
        return f"{text} (default: %(default)s)" if shown and action.option_strings else text


def _path(text):
    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected a path, got {text!r}")
    return text


def _add_common_training(parser, generative):
    parser.add_argument("--dataset", required=True, help="an embedded or TFDS dataset name")
    parser.add_argument(
        "--out",
        required=True,
        type=_path,
        help="folder for model.keras, metrics.json, attention.png",
    )
    parser.add_argument(
        "--epochs",
        type=POSITIVE,
        default=10,
        help="epochs in all (a finished run trains on to this)",
    )
    parser.add_argument("--batch-size", type=POSITIVE, default=64, help="examples per step")
    parser.add_argument(
        "--learning-rate",
        type=finite_number(float, above=0.0),
        default=1e-3,
        help="peak learning rate",
    )
    parser.add_argument("--train-limit", type=POSITIVE, help="train on the first N examples")
    parser.add_argument(
        "--eval-limit", type=POSITIVE, help="validate and test on the first N examples"
    )
    parser.add_argument(
        "--seed",
        type=finite_number(int, minimum=0),
        default=0,
        help="seed of weights and shuffling",
    )
    if generative:
        parser.add_argument(
            "--beam-width", type=POSITIVE, default=1, help="beams when testing (1: greedy)"
        )
    parser.add_argument(
        "--data-parallel",
        type=POSITIVE,
        default=1,
        help="devices the batch is split over (jax, tensorflow)",
    )
    parser.add_argument(
        "--model-parallel",
        type=POSITIVE,
        default=1,
        help="devices each Transformer's weights are split over (jax)",
    )


def _add_tokens(parser):
    parser.add_argument(
        "--tokens",
        choices=("word_piece", "character", "sentence_piece"),
        help="tokenisation of both sides (default: the dataset's)",
    )
    parser.add_argument(
        "--vocabulary-size",
        type=finite_number(int, minimum=5),
        help="per side (default: the dataset's, else 1000)",
    )


def _add_captioner_image(parser):
    parser.add_argument(
        "--image-size", type=POSITIVE, help="resize images to N x N (default: the dataset's size)"
    )
    parser.add_argument(
        "--vocabulary-size",
        type=finite_number(int, minimum=5),
        default=1000,
        help="caption vocabulary",
    )


class _Excludes(argparse.Action):
    """Stores the value; a usage error if the option of dest `excludes` was given too.

    Not a mutually exclusive group: argparse counts an option as given only if its
    value is not the default object itself, which a Python caller's literal may be.
    """

    def __init__(self, option_strings, dest, excludes, **kwargs):
        super().__init__(option_strings, dest, **kwargs)
        self.excludes = excludes

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        given = namespace.__dict__.setdefault("given_options", {})
        given[self.dest] = option_string
        if self.excludes in given:
            parser.error(f"{given[self.excludes]} and {option_string} exclude each other")


def _add_classifier_training(parser):
    # A checkpoint brings its own size, so --config beside --weights could not be
    # honoured; ignoring it silently would train another model than the one asked for.
    parser.add_argument(
        "--config", default="vit_tiny_digits", action=_Excludes, excludes="weights",
        help="a named size (e.g. vit_s16); not with --weights",
    )  # fmt: skip
    parser.add_argument(
        "--augmentation", choices=("auto", "none", "shift", "shift_flip"), default="auto",
        help="training augmentation (auto: none for digits)",
    )  # fmt: skip
    parser.add_argument("--warmup-epochs", type=NON_NEGATIVE, default=1.0, help="linear warm-up")
    parser.add_argument("--weight-decay", type=NON_NEGATIVE, default=0.05, help="AdamW decay")
    parser.add_argument(
        "--weights",
        action=_Excludes,
        excludes="config",
        help="fine-tune a pretrained checkpoint instead of --config: a Hugging Face or timm "
        "directory, a timm .safetensors file or a keras-hub preset directory",
    )
    parser.add_argument(
        "--image-size", type=POSITIVE,
        help="the model's N x N images, the data resized to it (default: the checkpoint's "
        "with --weights, else the dataset's)",
    )  # fmt: skip


# The options each task's training takes, besides the common ones and the model's.
_TASK_OPTIONS = {
    "translation": _add_tokens,
    "captioning": _add_captioner_image,
    "classification": _add_classifier_training,
}


def _add_option(parser, option):
    """`option` on `parser`, its value at `args.<option.argument>`."""
    if option.type is bool:
        parser.add_argument(
            option.flag,
            dest=option.argument,
            action="store_true",
            default=option.default,
            help=option.help,
        )
        return
    parser.add_argument(
        option.flag,
        dest=option.argument,
        type=option.type,
        default=option.default,
        choices=option.choices,
        help=option.help,
    )


def _add_train(commands):
    train = commands.add_parser(
        "train",
        help="train a model, evaluate it on the test split, save it",
        description="Train a model, evaluate it on the test split and save it. Run the same "
        "command again to resume after a crash, or with more --epochs to train on.",
    )
    models = train.add_subparsers(dest="model", required=True, metavar="MODEL", parser_class=Parser)

    try:
        registered = applications()
    except ValueError as error:  # a broken plugin: one line, as every user error
        raise SystemExit(f"keras-seqattn: error: {error}") from None
    for app in registered.values():
        parser = models.add_parser(
            app.name, help=app.help, description=app.help, formatter_class=_Defaults
        )
        _add_common_training(parser, generative=app.task != "classification")
        for option in app.options:
            _add_option(parser, option)
        _TASK_OPTIONS[app.task](parser)


# predict's and evaluate's --beam-width: not given, the model's own default holds.
_BEAMS_HELP = (
    "beams, 1: greedy (default: the model's, greedy or a converted checkpoint's num_beams)"
)


def build_parser():
    """The whole command-line grammar; importing nothing of Keras."""
    parser = Parser(
        prog="keras-seqattn",
        description="Train, evaluate, use and export the attention models of keras-seqattn.",
    )
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        help="Keras backend (default: $KERAS_BACKEND, else tensorflow)",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    _add_train(commands)
    formatter = _Defaults

    predict = commands.add_parser(
        "predict",
        help="translate texts, or caption or classify image files, with a saved model",
        formatter_class=formatter,
    )
    predict.add_argument("model_path", type=_path, help="a .keras file")
    predict.add_argument(
        "inputs", nargs="+", metavar="input", help="texts, or image files (captioners, vit)"
    )
    predict.add_argument("--beam-width", type=POSITIVE, help=_BEAMS_HELP)

    evaluate = commands.add_parser(
        "evaluate", help="score a saved model on a dataset split", formatter_class=formatter
    )
    evaluate.add_argument("model_path", type=_path, help="a .keras file")
    evaluate.add_argument("--dataset", required=True, help="a dataset of the model's kind")
    evaluate.add_argument("--split", default="test", help="split, e.g. test or validation[:500]")
    evaluate.add_argument("--limit", type=POSITIVE, help="score the first N examples")
    evaluate.add_argument("--beam-width", type=POSITIVE, help=_BEAMS_HELP)

    export = commands.add_parser(
        "export",
        help="write a TF Serving SavedModel (and a TFLite model); see serving.md",
        formatter_class=formatter,
    )
    export.add_argument("model_path", type=_path, help="a .keras file of any backend")
    export.add_argument("--out", required=True, type=_path, help="folder to write (must not exist)")
    export.add_argument("--tflite", action="store_true", help="also write model.tflite")
    export.add_argument("--quantize", choices=("float16", "dynamic"), help="TFLite weights")
    export.add_argument(
        "--overwrite", action="store_true", help="replace an earlier export at --out"
    )
    export.add_argument(
        "--beam-width",
        type=POSITIVE,
        help="beams of the beam signatures (1: none; default: the model's, as translate, else 4)",
    )
    export.add_argument(
        "--length-penalty",
        type=NON_NEGATIVE,
        help="length-penalty exponent (default: the model's, as translate, else 0)",
    )
    export.add_argument("--top-k", type=POSITIVE, default=EXPORT_TOP_K, help="vit: labels returned")
    export.add_argument("--labels", help="vit: a JSON file, the list of class names")
    return parser


def check_usage(parser, args):
    """Usage errors (exit 2) that lie in options together, or in an option and the backend.

    Decided here, before Keras is imported, so that they answer at once rather
    than after the seconds of loading Keras and a model.
    """
    backend = _backend(parser, args)
    _check_model_options(parser, args)
    if args.command == "export":
        if args.quantize and not args.tflite:
            parser.error(f"--quantize {args.quantize} applies to the TFLite model; add --tflite")
        if args.length_penalty and args.beam_width == 1:
            parser.error(
                f"--length-penalty {args.length_penalty:g} applies to the beam signatures, "
                f"which --beam-width 1 leaves out; give --beam-width 2 or more"
            )
    if args.command != "train":
        return
    devices = args.data_parallel * args.model_parallel
    if devices > 1 and backend == "torch":
        parser.error(
            f"Keras has no distribution for the torch backend, so training on {devices} "
            f"devices needs --backend jax (data and model parallel) or --backend tensorflow "
            f"(data parallel)"
        )
    if args.model_parallel > 1 and backend == "tensorflow":
        parser.error(
            f"--model-parallel {args.model_parallel}: TensorFlow trains data parallel only "
            f"(its MirroredStrategy copies the whole model to each device); use --backend jax"
        )
    if args.batch_size % args.data_parallel:
        parser.error(
            f"--batch-size {args.batch_size} is split over --data-parallel "
            f"{args.data_parallel} replicas, so it must divide by {args.data_parallel}"
        )
    # Under a distribution a short last batch is dropped: fewer examples than one
    # batch (training) or than one per replica (validation) would leave none.
    wholes = (
        ("--train-limit", args.train_limit, args.batch_size, f"--batch-size {args.batch_size}"),
        ("--eval-limit", args.eval_limit, args.data_parallel, "one per replica"),
    )
    for flag, limit, least, what in wholes:
        if args.data_parallel > 1 and limit is not None and limit < least:
            parser.error(
                f"{flag} {limit} is less than one whole batch ({what}) under --data-parallel "
                f"{args.data_parallel}, which drops a short batch, so none would be used"
            )


def _check_model_options(parser, args):
    """Options of one kind of model given for another (its kind from its config.json)."""
    if args.command == "train":
        return
    message = model_options_error(args, _saved_task(args.model_path))
    if message:
        parser.error(message)


def model_options_error(args, task):
    """The usage error of `args` giving options of another kind of model than `task`, or `None`.

    One rule at two moments: here, before Keras, with the task read from the
    archive (`_saved_task`); where that cannot tell (a subclass of an
    application), `keras_seqattn.cli` asks again with the loaded model's task.
    """
    if args.command == "train" or task is None:
        return None
    if args.command == "export":
        beams = args.beam_width is not None or args.length_penalty is not None
        flags = "--beam-width and --length-penalty apply"
    else:
        beams, flags = args.beam_width is not None, "--beam-width applies"
    if task == "classification" and beams:
        return (
            f"{flags} to translators and captioners, and {args.model_path!r} is an image "
            f"classifier, which has no search"
        )
    labels = args.command == "export" and (args.labels or args.top_k != EXPORT_TOP_K)
    if task in ("translation", "captioning") and labels:
        return (
            f"--top-k and --labels apply to an image classifier, and {args.model_path!r} is a "
            f"{'translator' if task == 'translation' else 'captioner'}"
        )
    return None


def _saved_task(path):
    """The task of the registered application saved at `path`, or `None` if unknown.

    Read from the `.keras` archive's config.json (its class and module), without
    Keras; a subclass or an unreadable file gives `None`, for the checks that
    follow loading.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
        target = f"{config['module']}:{config['class_name']}"
    except (OSError, KeyError, TypeError, ValueError, zipfile.BadZipFile):
        return None
    try:
        registered = applications()
    except ValueError:  # a broken plugin is reported where the grammar is built
        return None
    return next((app.task for app in registered.values() if app.target == target), None)


def _backend(parser, args):
    """The backend Keras will start on, refused unless keras-seqattn runs on it.

    Read as Keras reads it (`--backend`, `KERAS_BACKEND`, then the `backend` of
    Keras's keras.json), so that a name Keras cannot start (`JAX`, `nonsense`)
    or one of its backends this package does not run on (`numpy`, `openvino`)
    is one line, before Keras is imported, instead of a traceback.
    """
    if "keras" in sys.modules:
        import keras

        return args.backend or keras.backend.backend()
    if args.backend:
        return args.backend
    name, where = os.environ.get("KERAS_BACKEND"), "KERAS_BACKEND"
    if not name:
        name, where = _keras_json_backend()
    if name in BACKENDS:
        return name
    close = [b for b in BACKENDS if b == str(name).strip().lower()]
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    parser.error(
        f"{where} names the Keras backend {name!r}{hint}; keras-seqattn runs on "
        f"{', '.join(BACKENDS)}: set KERAS_BACKEND to one of them, or pass --backend"
    )


def _keras_json_backend():
    """`(backend, where)` from Keras's own config file, as Keras finds it."""
    if "KERAS_HOME" in os.environ:
        folder = os.environ["KERAS_HOME"]
    else:
        home = os.path.expanduser("~")
        folder = os.path.join(home if os.access(home, os.W_OK) else "/tmp", ".keras")
    path = os.path.expanduser(os.path.join(folder, "keras.json"))
    try:
        with open(path, encoding="utf-8") as file:
            name = json.load(file).get("backend")
    except (OSError, ValueError, AttributeError):  # no file, or one Keras ignores too
        name = None
    return ("tensorflow", "Keras's default") if name is None else (name, f"Keras's config {path}")


@contextlib.contextmanager
def _native_stderr_held():
    """Holds what native code writes to stderr meanwhile; replays it on an exception.

    TensorFlow's libraries log a few lines (no CUDA driver, CPU features) through
    absl before any log level applies; a user of the CLI has no use for them.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            sys.stderr.write(held.read().decode("utf-8", "replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def main(argv=None):
    """The console script: parses, fixes the backend, then runs `keras_seqattn.cli`."""
    parser = build_parser()
    args = parser.parse_args(argv)
    check_usage(parser, args)
    if args.backend:
        if "keras" in sys.modules:
            import keras

            if keras.backend.backend() != args.backend:
                raise SystemExit(
                    f"keras-seqattn: error: Keras already runs on {keras.backend.backend()}; "
                    f"--backend {args.backend} must be chosen before keras is imported"
                )
        os.environ["KERAS_BACKEND"] = args.backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _native_stderr_held():
        from keras_seqattn import cli
    return cli.run(args)


if __name__ == "__main__":
    # `python -m keras_seqattn_cli` runs this file as `__main__`: one grammar module
    # in the process, the one `keras_seqattn.cli` imports, not a second copy.
    import keras_seqattn_cli

    sys.exit(keras_seqattn_cli.main())
