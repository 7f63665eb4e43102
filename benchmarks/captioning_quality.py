"""Lecture sections 3-4 and 7, measured: CNN + RNN, Show, Attend and Tell, Transformer.

Trains `RNNCaptioner` and `AttentionCaptioner` with the same sizes, and
`TransformerCaptioner` (patches, no CNN) in a named config, with the same
wall-clock budget on the embedded `digit_scenes` data (64x64 scenes of 2-5
handwritten digits, captioned left to right), then reports on the test split:
exact caption match, BLEU-4, CIDEr, and the attention models' localisation (the
share of a word's attention inside the box of the digit it names). The issue's
targets for `AttentionCaptioner`: >= 95% exact match and >= 0.7 localisation
within 15 minutes of training on the fastest backend.

    KERAS_BACKEND=jax python benchmarks/captioning_quality.py --minutes 15
    python benchmarks/captioning_quality.py --smoke      # seconds; CI runs this

Writes `benchmarks/results/captioning_quality_<backend>.json` and
`..._attention.png` (the attention of every generated word over a test image;
`..._transformer_attention.png` for `TransformerCaptioner`),
and prints a table.
"""

import argparse
import json
import os
import pathlib
import platform
import shutil
import tempfile
import time

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
MODELS = ("RNNCaptioner", "AttentionCaptioner", "TransformerCaptioner")
# The file suffix of each attention model's plot.
PLOTS = {"AttentionCaptioner": "attention", "TransformerCaptioner": "transformer_attention"}


def run(model_name, args, workdir):
    from keras_seqattn import applications
    from keras_seqattn.applications.transformer_captioner import CONFIGS
    from keras_seqattn.training import TimeBudget, train_captioner

    sizes = dict(
        embedding_dim=args.embedding_dim, hidden_dim=args.hidden_dim, feature_dim=args.feature_dim
    )
    if model_name == "AttentionCaptioner":
        sizes["attention_regularization"] = args.attention_regularization
    if model_name == "TransformerCaptioner":
        if args.transformer_config not in CONFIGS:
            raise ValueError(
                f"--transformer-config must be one of {sorted(CONFIGS)}. "
                f"Received: {args.transformer_config}"
            )
        sizes = dict(CONFIGS[args.transformer_config])
        if args.smoke:  # one block a side, as narrow as the smoke's RNNs
            sizes.update(hidden_dim=16, num_encoder_layers=1, num_decoder_layers=1)
            sizes.update(num_heads=2, intermediate_dim=32)
    learning_rate = args.learning_rate
    if model_name == "TransformerCaptioner":
        import keras

        # A linear warm-up, then the peak rate (the decay is too slow to matter
        # within any budget here). Without it, Adam at 2e-3 left the post-norm
        # Transformer at the unigram loss (1.85) for its first 5 epochs.
        learning_rate = keras.optimizers.schedules.CosineDecay(
            0.0,
            decay_steps=10**9,
            warmup_target=args.transformer_learning_rate,
            warmup_steps=args.transformer_warmup_steps,
        )
    callbacks = [TimeBudget(args.minutes * 60)]
    if args.plateau_patience and model_name != "TransformerCaptioner":
        import keras

        # At a constant rate the validation loss of the RNN captioners swung by 3x
        # between epochs late in the budget, and the last epoch's weights are the
        # ones scored: halving the rate when it stalls settles them. (The
        # Transformer follows its own warm-up schedule.)
        callbacks.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor="val_loss", factor=0.5, patience=args.plateau_patience, min_lr=1e-5
            )
        )
    metrics = train_captioner(
        getattr(applications, model_name),
        args.dataset,
        workdir / model_name,
        epochs=args.epochs,
        batch_size=args.batch_size,
        train_limit=args.train_limit,
        eval_limit=args.eval_limit,
        learning_rate=learning_rate,
        seed=args.seed,
        verbose=2,
        callbacks=callbacks,
        **sizes,
    )
    history = metrics.pop("history")
    metrics["final_val_loss"] = round(history["val_loss"][-1], 4)
    metrics["failures"] = [e for e in metrics.pop("examples") if e[0] != e[1]][:5]
    return metrics


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digit_scenes")
    parser.add_argument("--minutes", type=float, default=15.0, help="training budget per model")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--embedding-dim", type=int, default=64)
    parser.add_argument("--hidden-dim", type=int, default=256)
    parser.add_argument("--feature-dim", type=int, default=128)
    parser.add_argument("--attention-regularization", type=float, default=0.0)
    parser.add_argument(
        "--transformer-config",
        default="transformer_captioner_tiny_digits",
        help="TransformerCaptioner's sizes; the three above size the CNN + RNN captioners",
    )
    parser.add_argument("--train-limit", type=int)
    parser.add_argument("--eval-limit", type=int)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument(
        "--plateau-patience",
        type=int,
        default=1,
        help="RNN captioners: halve the learning rate after this many epochs without "
        "a lower validation loss (ReduceLROnPlateau); 0 keeps it constant",
    )
    parser.add_argument("--transformer-learning-rate", type=float, default=5e-4)
    parser.add_argument("--transformer-warmup-steps", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="tiny run: checks the script only")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    if args.smoke:
        args.minutes, args.epochs, args.train_limit, args.eval_limit = 0.2, 1, 256, 32
        args.hidden_dim, args.embedding_dim, args.feature_dim = 16, 8, 16

    import keras
    import keras_hub

    backend = keras.backend.backend()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"captioning_quality_{backend}" + ("_smoke" if args.smoke else "")
    results = []
    with tempfile.TemporaryDirectory() as workdir:
        workdir = pathlib.Path(workdir)
        for name in args.models.split(","):
            results.append(run(name, args, workdir))
            keys = ("model", "exact_match", "bleu", "cider", "attention_localization")
            print(json.dumps({k: results[-1][k] for k in keys + ("train_seconds",)}), flush=True)
            if (workdir / name / "attention.png").exists():
                shutil.copy(workdir / name / "attention.png", out / f"{stem}_{PLOTS[name]}.png")
    report = {
        "benchmark": "captioning_quality",
        "dataset": args.dataset,
        "backend": backend,
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "versions": {"keras": keras.__version__, "keras_hub": keras_hub.__version__},
        "settings": {k: v for k, v in vars(args).items() if k != "out"},
        "targets": {"AttentionCaptioner": {"exact_match": 0.95, "attention_localization": 0.7}},
        "results": results,
    }
    (out / f"{stem}.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(
        f"\n{'model':<20}{'params':>9}{'epochs':>8}{'train s':>9}{'exact':>8}{'BLEU':>7}"
        f"{'CIDEr':>7}{'local.':>8}"
    )
    for r in results:
        local = r["attention_localization"]
        print(
            f"{r['model']:<20}{r['parameters']:>9}{r['epochs']:>8}{r['train_seconds']:>9}"
            f"{r['exact_match']:>8.3f}{r['bleu']:>7.1f}{r['cider']:>7.2f}"
            f"{'-' if local is None else f'{local:.3f}':>8}"
        )


if __name__ == "__main__":
    main()
