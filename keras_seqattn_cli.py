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
import math
import os
import sys
import tempfile

BACKENDS = ("tensorflow", "jax", "torch")
TRANSLATION_MODELS = ("seq2seq-rnn", "attention-seq2seq", "transformer-seq2seq")
IMAGE_MODELS = ("vit",)
CAPTION_MODELS = ("rnn-captioner", "attention-captioner", "transformer-captioner")
MODELS = TRANSLATION_MODELS + IMAGE_MODELS + CAPTION_MODELS


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


def _number(kind, minimum=None, above=None):
    """An argparse `type`: a finite `kind` >= `minimum` (or > `above`)."""
    bound = f" >= {minimum}" if minimum is not None else f" > {above}" if above is not None else ""

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = None
        ok = value is not None and math.isfinite(value)
        ok = ok and (minimum is None or value >= minimum) and (above is None or value > above)
        if not ok:
            raise argparse.ArgumentTypeError(
                f"expected a finite {kind.__name__}{bound}, got {text!r}"
            )
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its own messages
    return parse


def _path(text):
    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected a path, got {text!r}")
    return text


POSITIVE = _number(int, minimum=1)
NON_NEGATIVE = _number(float, minimum=0.0)


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
        "--learning-rate", type=_number(float, above=0.0), default=1e-3, help="peak learning rate"
    )
    parser.add_argument("--train-limit", type=POSITIVE, help="train on the first N examples")
    parser.add_argument(
        "--eval-limit", type=POSITIVE, help="validate and test on the first N examples"
    )
    parser.add_argument(
        "--seed", type=_number(int, minimum=0), default=0, help="seed of weights and shuffling"
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


def _add_rnn_sizes(parser):
    parser.add_argument("--embedding-dim", type=POSITIVE, default=128, help="token embedding width")
    parser.add_argument("--hidden-dim", type=POSITIVE, default=256, help="RNN state width")
    parser.add_argument("--rnn-type", choices=("gru", "lstm"), default="gru", help="recurrent cell")


def _add_tokens(parser):
    parser.add_argument(
        "--tokens",
        choices=("word_piece", "character", "sentence_piece"),
        help="tokenisation of both sides (default: the dataset's)",
    )
    parser.add_argument(
        "--vocabulary-size",
        type=_number(int, minimum=5),
        help="per side (default: the dataset's, else 1000)",
    )


def _add_captioner_image(parser):
    parser.add_argument(
        "--image-size", type=POSITIVE, help="resize images to N x N (default: the dataset's size)"
    )
    parser.add_argument(
        "--vocabulary-size", type=_number(int, minimum=5), default=1000, help="caption vocabulary"
    )


def _add_train(commands):
    train = commands.add_parser(
        "train",
        help="train a model, evaluate it on the test split, save it",
        description="Train a model, evaluate it on the test split and save it. Run the same "
        "command again to resume after a crash, or with more --epochs to train on.",
    )
    models = train.add_subparsers(dest="model", required=True, metavar="MODEL", parser_class=Parser)

    def model(name, help):
        parser = models.add_parser(name, help=help, description=help, formatter_class=_Defaults)
        _add_common_training(parser, generative=name != "vit")
        return parser

    for name, help in (
        ("seq2seq-rnn", "RNN encoder-decoder with one fixed context (Sutskever et al., 2014)"),
        (
            "attention-seq2seq",
            "RNN encoder-decoder with Bahdanau attention (Bahdanau et al., 2015)",
        ),
    ):
        parser = model(name, help)
        _add_rnn_sizes(parser)
        parser.add_argument("--bidirectional", action="store_true", help="bidirectional encoder")
        _add_tokens(parser)

    parser = model("transformer-seq2seq", "the Transformer encoder-decoder (Vaswani et al., 2017)")
    parser.add_argument("--hidden-dim", type=POSITIVE, default=256, help="model width d")
    parser.add_argument("--num-layers", type=POSITIVE, default=3, help="blocks per stack")
    parser.add_argument(
        "--num-heads", type=POSITIVE, default=4, help="attention heads (divide --hidden-dim)"
    )
    parser.add_argument("--intermediate-dim", type=POSITIVE, help="MLP width (default: 4 x hidden)")
    parser.add_argument("--normalize-first", action="store_true", help="pre-norm blocks")
    _add_tokens(parser)

    parser = model("vit", "Vision Transformer image classifier (Dosovitskiy et al., 2021)")
    parser.add_argument("--config", default="vit_tiny_digits", help="a named size (e.g. vit_s16)")
    parser.add_argument(
        "--augmentation", choices=("auto", "none", "shift", "shift_flip"), default="auto",
        help="training augmentation (auto: none for digits)",
    )  # fmt: skip
    parser.add_argument("--warmup-epochs", type=NON_NEGATIVE, default=1.0, help="linear warm-up")
    parser.add_argument("--weight-decay", type=NON_NEGATIVE, default=0.05, help="AdamW decay")
    parser.add_argument(
        "--weights",
        help="fine-tune a pretrained checkpoint instead of --config: a Hugging Face or timm "
        "directory, a timm .safetensors file or a keras-hub preset directory",
    )
    parser.add_argument(
        "--image-size", type=POSITIVE,
        help="the model's N x N images, the data resized to it (default: the checkpoint's "
        "with --weights, else the dataset's)",
    )  # fmt: skip

    for name, help in (
        ("rnn-captioner", "CNN features + RNN decoder, one context (Vinyals et al., 2015)"),
        ("attention-captioner", "Show, Attend and Tell (Xu et al., 2015)"),
    ):
        parser = model(name, help)
        _add_rnn_sizes(parser)
        parser.add_argument("--feature-dim", type=POSITIVE, default=128, help="CNN feature width")
        _add_captioner_image(parser)
        if name == "attention-captioner":
            parser.add_argument(
                "--attention-regularization", type=NON_NEGATIVE, default=0.0,
                help="doubly stochastic attention lambda",
            )  # fmt: skip

    parser = model("transformer-captioner", "Transformer decoder over image patches")
    parser.add_argument(
        "--config", default="transformer_captioner_tiny_digits", help="a named size"
    )
    parser.add_argument("--normalize-first", action="store_true", help="pre-norm blocks")
    _add_captioner_image(parser)


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
    predict.add_argument("--beam-width", type=POSITIVE, default=1, help="beams (1: greedy)")

    evaluate = commands.add_parser(
        "evaluate", help="score a saved model on a dataset split", formatter_class=formatter
    )
    evaluate.add_argument("model_path", type=_path, help="a .keras file")
    evaluate.add_argument("--dataset", required=True, help="a dataset of the model's kind")
    evaluate.add_argument("--split", default="test", help="split, e.g. test or validation[:500]")
    evaluate.add_argument("--limit", type=POSITIVE, help="score the first N examples")
    evaluate.add_argument("--beam-width", type=POSITIVE, default=1, help="beams (1: greedy)")

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
        "--beam-width", type=POSITIVE, default=4, help="beams of the beam signatures (1: none)"
    )
    export.add_argument("--length-penalty", type=NON_NEGATIVE, default=0.0, help="GNMT exponent")
    export.add_argument("--top-k", type=POSITIVE, default=5, help="vit: labels returned")
    export.add_argument("--labels", help="vit: a JSON file, the list of class names")
    return parser


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
    args = build_parser().parse_args(argv)
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
    sys.exit(main())
