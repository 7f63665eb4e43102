"""Lecture sections 1-2 and 5, measured: plain Seq2Seq, Bahdanau attention, Transformer.

Trains `Seq2SeqRNN`, `AttentionSeq2Seq` (same sizes) and `TransformerSeq2Seq`
(`--transformer-config`) with the same wall-clock budget on the embedded
number-words data, then reports test exact match, BLEU, and exact match by
source length (the shape of Bahdanau et al. 2015, Figure 2), and draws attention
heat maps of a German reordering (the Transformer's: last decoder block's
cross-attention, averaged over heads).

    KERAS_BACKEND=jax python benchmarks/seq2seq_quality.py --minutes 10
    python benchmarks/seq2seq_quality.py --smoke      # seconds; CI runs this

Writes `benchmarks/results/seq2seq_quality_<backend>.json`, `..._length.png` and
`..._heatmap.png`, and prints a table.
"""

import argparse
import json
import os
import pathlib
import platform
import time

RESULTS = pathlib.Path(__file__).resolve().parent / "results"


def run(model_name, args, train, validation, test):
    import keras

    from keras_seqattn import applications
    from keras_seqattn.evaluation import evaluate_translation, exact_match_by_length
    from keras_seqattn.training import TimeBudget
    from keras_seqattn.training.translation import tokenization

    keras.utils.set_random_seed(args.seed)
    cls = getattr(applications, model_name)
    mode, vocabulary_size = tokenization(args.dataset, args.tokens, args.vocabulary_size)
    if model_name == "TransformerSeq2Seq":
        sizes = dict(applications.transformer_seq2seq.CONFIGS[args.transformer_config])
        if args.smoke:
            sizes.update(hidden_dim=16, num_layers=1, num_heads=2, intermediate_dim=32)
        # The paper's Adam (beta_2 = 0.98) after a linear warm-up; the decay is so
        # slow that the rate stays at its peak for any budget this script runs.
        learning_rate = keras.optimizers.schedules.CosineDecay(
            0.0, decay_steps=10**9, warmup_target=args.transformer_learning_rate, warmup_steps=400
        )
        optimizer = keras.optimizers.Adam(learning_rate, beta_2=0.98)
    else:
        sizes = dict(
            embedding_dim=args.embedding_dim,
            hidden_dim=args.hidden_dim,
            bidirectional=args.bidirectional,
        )
        optimizer = keras.optimizers.Adam(args.learning_rate)
    model = cls.from_corpus(
        train, source_mode=mode, target_mode=mode, vocabulary_size=vocabulary_size, **sizes
    )
    model.compile(optimizer=optimizer)
    start = time.perf_counter()
    history = model.fit(
        model.prepare(train, batch_size=args.batch_size, shuffle=True, seed=args.seed),
        validation_data=model.prepare(validation, batch_size=256),
        epochs=args.epochs,
        callbacks=[TimeBudget(args.minutes * 60)],
        verbose=2,
    )
    train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    scores = evaluate_translation(model, test, batch_size=500)
    return model, {
        "model": model_name,
        "tokens": mode,
        "vocabulary_sizes": [
            model.source_tokenizer.vocabulary_size,
            model.target_tokenizer.vocabulary_size,
        ],
        "sizes": sizes,
        "parameters": int(model.count_params()),
        "epochs_run": len(history.history["loss"]),
        "train_seconds": round(train_seconds, 1),
        "eval_seconds": round(time.perf_counter() - start, 1),
        "exact_match": round(scores["exact_match"], 4),
        "bleu": round(scores["bleu"], 2),
        "by_source_words": exact_match_by_length(scores["examples"]),
        "final_val_loss": round(history.history["val_loss"][-1], 4),
        "failures": [e for e in scores["examples"] if e[1] != e[2]][:5],
    }


def plot_length_curve(results, path):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 4), layout="constrained")
    ax = figure.add_subplot()
    for result in results:
        rows = result["by_source_words"]
        ax.plot(
            [r["bucket"] for r in rows],
            [100 * r["exact_match"] for r in rows],
            marker="o",
            label=result["model"],
        )
    ax.set_xlabel("source length (English words)")
    ax.set_ylabel("test exact match (%)")
    ax.set_ylim(0, 101)
    ax.legend()
    ax.set_title("Quality against source length (cf. Bahdanau et al. 2015, Fig. 2)")
    figure.savefig(path, dpi=120)


def combine(paths, out):
    """One length curve, and one table, over the models of several result files."""
    reports = [json.loads(pathlib.Path(path).read_text()) for path in paths]
    backends = {report["backend"] for report in reports}
    if len(backends) != 1:
        raise SystemExit(f"--combine needs results of one backend. Received: {sorted(backends)}")
    results = [result for report in reports for result in report["results"]]
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"seq2seq_quality_{backends.pop()}_combined_length.png"
    plot_length_curve(results, path)
    print(
        f"{path}\n{'model':<18}"
        + "".join(f"{r['bucket']:>7}" for r in results[0]["by_source_words"])
    )
    for r in results:
        row = "".join(f"{100 * b['exact_match']:>7.1f}" for b in r["by_source_words"])
        print(f"{r['model']:<18}{row}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="number_words/en_to_de")
    parser.add_argument("--minutes", type=float, default=10.0, help="training budget per model")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--embedding-dim", type=int, default=128)
    parser.add_argument("--hidden-dim", type=int, default=256)
    parser.add_argument(
        "--bidirectional",
        action="store_true",
        help="bidirectional encoders (RNNsearch's; each h_i then centres on word i)",
    )
    parser.add_argument(
        "--transformer-config",
        default="transformer_tiny",
        help="TransformerSeq2Seq's size: a name in applications.transformer_seq2seq.CONFIGS",
    )
    parser.add_argument("--transformer-learning-rate", type=float, default=1e-3)
    parser.add_argument("--vocabulary-size", type=int, help="default: per dataset")
    parser.add_argument("--models", default="Seq2SeqRNN,AttentionSeq2Seq,TransformerSeq2Seq")
    parser.add_argument(
        "--tokens",
        choices=("word_piece", "character", "sentence_piece"),
        help="tokenisation (default: per dataset)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="tiny run: checks the script only")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument(
        "--combine",
        nargs="+",
        metavar="JSON",
        help="train nothing: draw the length curve of every model in these result "
        "files (e.g. the RNN run and a --models TransformerSeq2Seq run) into --out",
    )
    args = parser.parse_args()
    if args.combine:
        return combine(args.combine, pathlib.Path(args.out))
    if args.smoke:
        args.minutes, args.epochs, args.hidden_dim, args.embedding_dim = 0.2, 1, 16, 8

    import keras
    import keras_hub

    from keras_seqattn import datasets
    from keras_seqattn.visualization import plot_attention_heatmap

    backend = keras.backend.backend()
    limit = 256 if args.smoke else None
    split = (lambda s: f"{s}[:{limit}]") if limit else (lambda s: s)
    train = datasets.load_translation_pairs(args.dataset, split=split("train"))
    validation = datasets.load_translation_pairs(args.dataset, split=split("validation"))
    test = datasets.load_translation_pairs(args.dataset, split=split("test"))

    results, models = [], {}
    for name in args.models.split(","):
        models[name], result = run(name, args, train, validation, test)
        results.append(result)
        print(
            json.dumps(
                {
                    k: result[k]
                    for k in ("model", "exact_match", "bleu", "train_seconds", "epochs_run")
                }
            ),
            flush=True,
        )

    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"seq2seq_quality_{backend}" + ("_bidirectional" if args.bidirectional else "")
    stem += "_smoke" if args.smoke else ""
    plot_length_curve(results, out / f"{stem}_length.png")
    # A German number whose units come before its tens shows the reordering.
    example = "three hundred and forty two thousand five hundred and sixty seven"
    if not args.dataset.startswith("number_words"):
        example = next(test.as_numpy_iterator())[0].decode("utf-8")
    for name, suffix in (("AttentionSeq2Seq", ""), ("TransformerSeq2Seq", "_transformer")):
        if name not in models:
            continue
        translation = models[name].translate([example])
        plot_attention_heatmap(
            translation.attention[0],
            translation.input_tokens[0],
            translation.output_tokens[0],
            title=translation.text[0],
            path=out / f"{stem}_heatmap{suffix}.png",
        )
    report = {
        "benchmark": "seq2seq_quality",
        "dataset": args.dataset,
        "backend": backend,
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "versions": {"keras": keras.__version__, "keras_hub": keras_hub.__version__},
        "settings": {k: v for k, v in vars(args).items() if k != "out"},
        "results": results,
    }
    (out / f"{stem}.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(f"\n{'model':<18}{'params':>10}{'epochs':>8}{'train s':>9}{'exact':>8}{'BLEU':>7}")
    for r in results:
        print(
            f"{r['model']:<18}{r['parameters']:>10}{r['epochs_run']:>8}"
            f"{r['train_seconds']:>9}{r['exact_match']:>8.3f}{r['bleu']:>7.1f}"
        )


if __name__ == "__main__":
    main()
