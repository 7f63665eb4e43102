"""`keras-seqattn`: train, evaluate and use the lecture's models from a shell.

    keras-seqattn train attention-seq2seq --dataset number_words/en_to_de --epochs 10 --out DIR
    keras-seqattn predict DIR/model.keras "forty two" "one hundred and seven"
    keras-seqattn evaluate DIR/model.keras --dataset number_words/en_to_de
    keras-seqattn export DIR/model.keras --out DIR/export --tflite --quantize float16
    keras-seqattn train vit --dataset digits --config vit_tiny_digits --epochs 30 --out DIR
    keras-seqattn train attention-captioner --dataset digit_scenes --epochs 10 --out DIR
    keras-seqattn train transformer-captioner --dataset digit_scenes --epochs 10 --out DIR

The backend is `KERAS_BACKEND`, or `--backend` before the command.
"""

import argparse
import json
import os
import sys

TRANSLATION_MODELS = ("seq2seq-rnn", "attention-seq2seq", "transformer-seq2seq")
IMAGE_MODELS = ("vit",)
CAPTION_MODELS = ("rnn-captioner", "attention-captioner", "transformer-captioner")


def _model_class(name):
    from keras_seqattn import applications

    return {
        "seq2seq-rnn": applications.Seq2SeqRNN,
        "attention-seq2seq": applications.AttentionSeq2Seq,
        "transformer-seq2seq": applications.TransformerSeq2Seq,
    }[name]


def _model_kwargs(args):
    """The constructor arguments of the chosen model, from its command-line options."""
    if args.model == "transformer-seq2seq":
        return dict(
            hidden_dim=args.hidden_dim,
            num_layers=args.num_layers,
            num_heads=args.num_heads,
            intermediate_dim=args.intermediate_dim or 4 * args.hidden_dim,
            normalize_first=args.normalize_first,
        )
    return dict(
        embedding_dim=args.embedding_dim,
        hidden_dim=args.hidden_dim,
        rnn_type=args.rnn_type,
        bidirectional=args.bidirectional,
    )


def _parser():
    parser = argparse.ArgumentParser(prog="keras-seqattn", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--backend",
        choices=("tensorflow", "jax", "torch"),
        help="Keras backend (default: $KERAS_BACKEND or tensorflow)",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a model, evaluate it, save it")
    train.add_argument("model", choices=TRANSLATION_MODELS + IMAGE_MODELS + CAPTION_MODELS)
    train.add_argument("--dataset", required=True, help="e.g. number_words/en_to_de")
    train.add_argument("--out", required=True, help="folder for model.keras, metrics.json")
    train.add_argument("--epochs", type=int, default=10)
    train.add_argument("--batch-size", type=int, default=64)
    train.add_argument("--learning-rate", type=float, default=1e-3)
    train.add_argument("--embedding-dim", type=int, default=128)
    train.add_argument("--hidden-dim", type=int, default=256)
    train.add_argument("--rnn-type", choices=("gru", "lstm"), default="gru")
    train.add_argument("--bidirectional", action="store_true")
    transformer = "transformer-seq2seq only: "
    train.add_argument("--num-layers", type=int, default=3, help=transformer + "blocks per stack")
    train.add_argument("--num-heads", type=int, default=4, help=transformer + "attention heads")
    train.add_argument(
        "--intermediate-dim", type=int, help=transformer + "MLP width (default: 4 x hidden)"
    )
    train.add_argument(
        "--normalize-first", action="store_true", help="both Transformers: pre-norm blocks"
    )
    train.add_argument(
        "--tokens",
        choices=("word_piece", "character", "sentence_piece"),
        help="tokenisation of both sides (default: per dataset)",
    )
    train.add_argument(
        "--vocabulary-size", type=int, help="per side (default: per dataset, else 1000)"
    )
    train.add_argument("--train-limit", type=int, help="train on the first N examples")
    train.add_argument("--eval-limit", type=int, help="evaluate on the first N examples")
    train.add_argument("--beam-width", type=int, default=1)
    train.add_argument("--seed", type=int, default=0)
    image = train.add_argument_group("vit (image classification), transformer-captioner")
    image.add_argument(
        "--config",
        help="a named size: vit (default vit_tiny_digits, e.g. vit_s16) or "
        "transformer-captioner (default transformer_captioner_tiny_digits)",
    )
    image.add_argument(
        "--augmentation", choices=("auto", "none", "shift", "shift_flip"), default="auto"
    )
    image.add_argument("--warmup-epochs", type=float, default=1.0)
    image.add_argument("--weight-decay", type=float, default=0.05)
    captioner = train.add_argument_group("rnn-captioner, attention-captioner (and --image-size)")
    captioner.add_argument(
        "--image-size", type=int, help="resize images to N x N (default: the dataset's size)"
    )
    captioner.add_argument("--feature-dim", type=int, default=128, help="CNN feature width")
    captioner.add_argument(
        "--attention-regularization", type=float, default=0.0, help="doubly stochastic lambda"
    )

    predict = commands.add_parser(
        "predict", help="translate texts, or caption or classify image files, with a saved model"
    )
    predict.add_argument("model_path")
    predict.add_argument(
        "texts", nargs="+", metavar="input", help="texts, or image files (captioners, vit)"
    )
    predict.add_argument("--beam-width", type=int, default=1)

    evaluate = commands.add_parser("evaluate", help="score a saved model on a split")
    evaluate.add_argument("model_path")
    evaluate.add_argument("--dataset", required=True)
    evaluate.add_argument("--split", default="test")
    evaluate.add_argument("--limit", type=int)
    evaluate.add_argument("--beam-width", type=int, default=1)

    export = commands.add_parser(
        "export", help="write a TF Serving SavedModel (and a TFLite model); see serving.md"
    )
    export.add_argument("model_path", help="a .keras file of any backend")
    export.add_argument("--out", required=True, help="folder to write (must not exist)")
    export.add_argument("--tflite", action="store_true", help="also write model.tflite")
    export.add_argument("--quantize", choices=("float16", "dynamic"), help="TFLite weights")
    export.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    export.add_argument(
        "--beam-width", type=int, default=4, help="beams of the beam signatures (1: none)"
    )
    export.add_argument("--length-penalty", type=float, default=0.0)
    export.add_argument("--top-k", type=int, default=5, help="vit: labels returned")
    export.add_argument("--labels", help="vit: a JSON file, the list of class names")
    return parser


def _positive(parser, **values):
    for name, value in values.items():
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1. Received: {value}")


def _load(path):
    """The model at `path`, or a one-line error (see `keras_seqattn.saving.load_model`)."""
    from keras_seqattn.saving import load_model

    try:
        return load_model(path)
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None


def _train_image_classifier(args):
    from keras_seqattn.training import train_image_classifier

    metrics = train_image_classifier(
        args.dataset,
        args.out,
        config=args.config or "vit_tiny_digits",
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        weight_decay=args.weight_decay,
        warmup_epochs=args.warmup_epochs,
        augmentation=None if args.augmentation == "none" else args.augmentation,
        train_limit=args.train_limit,
        eval_limit=args.eval_limit,
        seed=args.seed,
    )
    print(json.dumps({k: metrics[k] for k in ("test_accuracy", "parameters", "train_seconds")}))
    return 0


def _captioner_kwargs(parser, args):
    """The captioner class and its constructor arguments, from the command-line options."""
    from keras_seqattn import applications
    from keras_seqattn.applications.transformer_captioner import CONFIGS

    if args.model == "transformer-captioner":
        config = args.config or "transformer_captioner_tiny_digits"
        if config not in CONFIGS:
            parser.error(f"--config must be one of {sorted(CONFIGS)}. Received: {config}")
        sizes = dict(CONFIGS[config])
        if args.normalize_first:
            sizes["normalize_first"] = True
        return applications.TransformerCaptioner, sizes
    sizes = dict(
        embedding_dim=args.embedding_dim,
        hidden_dim=args.hidden_dim,
        rnn_type=args.rnn_type,
        feature_dim=args.feature_dim,
    )
    if args.model == "attention-captioner":
        sizes["attention_regularization"] = args.attention_regularization
        return applications.AttentionCaptioner, sizes
    return applications.RNNCaptioner, sizes


def _train_captioner(parser, args):
    from keras_seqattn.training import train_captioner

    model_class, sizes = _captioner_kwargs(parser, args)
    metrics = train_captioner(
        model_class,
        args.dataset,
        args.out,
        epochs=args.epochs,
        batch_size=args.batch_size,
        train_limit=args.train_limit,
        eval_limit=args.eval_limit,
        vocabulary_size=args.vocabulary_size or 1000,
        learning_rate=args.learning_rate,
        beam_width=args.beam_width,
        image_size=(args.image_size, args.image_size) if args.image_size else None,
        seed=args.seed,
        **sizes,
    )
    keys = ("exact_match", "bleu", "cider", "attention_localization", "train_seconds")
    print(json.dumps({k: metrics[k] for k in keys}))
    return 0


def _evaluate_captioner(model, args):
    from keras_seqattn import datasets
    from keras_seqattn.evaluation import evaluate_captioning

    examples = datasets.load(args.dataset, split=args.split)
    scores = evaluate_captioning(model, examples, limit=args.limit, beam_width=args.beam_width)
    keys = ("exact_match", "bleu", "cider", "attention_localization", "count")
    print(json.dumps({k: scores[k] for k in keys}))
    return 0


def _predict(parser, args):
    """One output line per input: a translation; `path<TAB>caption`; `path<TAB>class<TAB>p`."""
    model = _load(args.model_path)
    if hasattr(model, "translate"):
        for text in model.translate(args.texts, beam_width=args.beam_width).text:
            print(text)
        return 0
    if hasattr(model, "caption"):
        images = _read_images(parser, args.texts, model.image_size, model.num_channels)
        for path, text in zip(args.texts, model.caption(images, beam_width=args.beam_width).text):
            print(f"{path}\t{text}")
        return 0
    import numpy as np

    config = model.get_config()
    size = config["image_size"]
    size = (size, size) if isinstance(size, int) else tuple(size)
    images = _read_images(parser, args.texts, size, config["num_channels"])
    logits = model.predict(images, verbose=0)
    probabilities = np.exp(logits - logits.max(-1, keepdims=True))
    probabilities /= probabilities.sum(-1, keepdims=True)
    for path, row in zip(args.texts, probabilities):
        print(f"{path}\t{int(row.argmax())}\t{row.max():.4f}")
    return 0


def _read_images(parser, paths, size, channels):
    """Image files as one `(batch, height, width, channels)` 0-255 float32 array."""
    import keras
    import numpy as np

    images = []
    for path in paths:
        if not os.path.isfile(path):
            parser.error(f"this model takes image files; no file at {path!r}")
        try:
            image = keras.utils.load_img(
                path, color_mode="grayscale" if channels == 1 else "rgb", target_size=size
            )
        except Exception as error:  # PIL raises several types for unreadable files
            parser.error(f"cannot read {path!r} as an image ({type(error).__name__}: {error})")
        images.append(keras.utils.img_to_array(image, dtype="float32"))
    return np.stack(images)


def _export(parser, args):
    """`keras-seqattn export`: bad options and bad models end with a one-line error."""
    _positive(parser, beam_width=args.beam_width, top_k=args.top_k)
    if args.quantize and not args.tflite:
        parser.error("--quantize applies to the TFLite model; add --tflite")
    labels = None
    if args.labels:
        with open(args.labels, encoding="utf-8") as file:
            labels = json.load(file)
    from keras_seqattn.export import export_model

    try:
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
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    print(json.dumps({"out": str(out), "files": sorted(p.name for p in out.iterdir())}))
    return 0


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    if args.backend:
        if "keras" in sys.modules and os.environ.get("KERAS_BACKEND") != args.backend:
            parser.error("--backend must be chosen before keras is imported")
        os.environ["KERAS_BACKEND"] = args.backend
    if args.command == "train":
        _positive(
            parser,
            epochs=args.epochs,
            batch_size=args.batch_size,
            train_limit=args.train_limit,
            eval_limit=args.eval_limit,
            beam_width=args.beam_width,
            num_layers=args.num_layers,
            num_heads=args.num_heads,
            intermediate_dim=args.intermediate_dim,
        )
        if args.model in IMAGE_MODELS:
            return _train_image_classifier(args)
        if args.model in CAPTION_MODELS:
            return _train_captioner(parser, args)
        from keras_seqattn.training import train_translation

        metrics = train_translation(
            _model_class(args.model),
            args.dataset,
            args.out,
            epochs=args.epochs,
            batch_size=args.batch_size,
            train_limit=args.train_limit,
            eval_limit=args.eval_limit,
            tokens=args.tokens,
            vocabulary_size=args.vocabulary_size,
            learning_rate=args.learning_rate,
            beam_width=args.beam_width,
            seed=args.seed,
            **_model_kwargs(args),
        )
        summary = {k: metrics[k] for k in ("exact_match", "bleu", "train_seconds")}
        print(json.dumps(summary))
    elif args.command == "export":
        return _export(parser, args)
    elif args.command == "predict":
        _positive(parser, beam_width=args.beam_width)
        return _predict(parser, args)
    else:
        _positive(parser, limit=args.limit, beam_width=args.beam_width)
        from keras_seqattn import datasets
        from keras_seqattn.evaluation import evaluate_translation

        model = _load(args.model_path)
        if hasattr(model, "caption"):
            return _evaluate_captioner(model, args)
        pairs = datasets.load_translation_pairs(args.dataset, split=args.split)
        scores = evaluate_translation(model, pairs, limit=args.limit, beam_width=args.beam_width)
        print(json.dumps({k: scores[k] for k in ("exact_match", "bleu", "count")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
