"""Lecture sections 1-2, where they bite: quality against input length (Bahdanau et al., Fig. 2).

Trains `Seq2SeqRNN` (RNNenc: the fixed context), `AttentionSeq2Seq` (RNNsearch:
a bidirectional encoder and Bahdanau attention), `LuongSeq2Seq` (Luong et al.,
2015: their unidirectional encoder, `general` scores of the current state, input
feeding) and `TransformerSeq2Seq` at equal parameter counts (within 5%), each
on the `number_lists` sources of at most 30 and at most 50 tokens (RNNenc-30 /
RNNenc-50), each for the same wall-clock budget, then scores the whole test
split (1 to 100 tokens) by exact match and BLEU per ten-token bucket. For the
attention models it also measures, on every test source of 60 tokens or more,
how much attention each output token puts on the source item it translates
(`keras_seqattn.evaluation.item_alignment`).

    python benchmarks/long_inputs.py                 # ~75 minutes on a 2-core CPU
    python benchmarks/long_inputs.py --minutes 20    # a larger budget (e.g. a GPU)
    python benchmarks/long_inputs.py --smoke         # about 1.5 minutes; CI runs this
    python benchmarks/long_inputs.py --models LuongSeq2Seq --merge   # add one model

`--merge` keeps the results of the other models in the existing JSON (which
must have been run with the same settings) and redraws the plot with them all.

Writes `benchmarks/results/long_inputs.json` (`"results"`: one entry per model
and training length, with its `"buckets"`), `long_inputs.png` (the Fig. 2 plot)
and `long_inputs_heatmap.png` (AttentionSeq2Seq on a long test input).
"""

import argparse
import json
import os
import pathlib
import platform
import time
from importlib import metadata

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
MODELS = ("Seq2SeqRNN", "AttentionSeq2Seq", "LuongSeq2Seq", "TransformerSeq2Seq")
BUCKET_EDGES = tuple(range(10, 101, 10))
LONG = 60  # Sources of at least this many tokens are scored for alignment.
PARAMETER_TOLERANCE = 0.05


def texts_of(pairs):
    sources, targets = [], []
    for source, target in pairs.as_numpy_iterator():
        sources.append(source.decode("utf-8"))
        targets.append(target.decode("utf-8"))
    return sources, targets


def longest(tokenizer, texts):
    """The longest tokenised text, plus its `[STOP]` (or `[START]`)."""
    from keras import ops

    return int(ops.shape(tokenizer(texts))[1]) + 1


def build(name, tokenizers, lengths, args, size):
    """`name` at one free size: the hidden width (the RNNs) or model width (Transformer)."""
    from keras_seqattn import applications

    if name == "TransformerSeq2Seq":
        sizes = dict(
            hidden_dim=size,
            num_layers=args.transformer_layers,
            num_heads=args.transformer_heads,
            intermediate_dim=4 * size,
            dropout=0.1,
        )
    else:
        # RNNsearch's encoder is bidirectional; RNNenc's and Luong et al.'s are not.
        bidirectional = name == "AttentionSeq2Seq"
        sizes = dict(embedding_dim=args.embedding_dim, hidden_dim=size, bidirectional=bidirectional)
    model = getattr(applications, name)(
        *tokenizers, max_source_length=lengths[0], max_target_length=lengths[1], **sizes
    )
    return model, sizes


def matched(name, tokenizers, lengths, args, target):
    """The free size of `name` whose parameter count is nearest `target` (bisection)."""
    step = args.transformer_heads if name == "TransformerSeq2Seq" else 1
    low, high = 1, 4 * args.hidden_dim // step + 1  # A model 4x as wide is far too big.
    while high - low > 1:
        middle = (low + high) // 2
        model, _ = build(name, tokenizers, lengths, args, middle * step)
        low, high = (middle, high) if model.count_params() <= target else (low, middle)
    candidates = [build(name, tokenizers, lengths, args, s * step) for s in (low, high)]
    model, sizes = min(candidates, key=lambda c: abs(c[0].count_params() - target))
    off = abs(model.count_params() - target) / target
    if off > PARAMETER_TOLERANCE and not args.smoke:  # Tiny smoke sizes cannot match.
        raise SystemExit(
            f"{name}: no size within {PARAMETER_TOLERANCE:.0%} of {target} parameters "
            f"(nearest {model.count_params()}); change --hidden-dim or the Transformer's shape"
        )
    return sizes["hidden_dim"]


def optimizer(name, args):
    import keras

    if name != "TransformerSeq2Seq":
        return keras.optimizers.Adam(args.learning_rate)
    # The paper's Adam (beta_2 = 0.98) after a linear warm-up, as seq2seq_quality.py.
    learning_rate = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=10**9, warmup_target=args.transformer_learning_rate, warmup_steps=400
    )
    return keras.optimizers.Adam(learning_rate, beta_2=0.98)


def alignment(model, examples, batch_size):
    """`item_alignment` means over `examples` (`(source, reference, prediction)`)."""
    import numpy as np

    from keras_seqattn.evaluation import item_alignment

    sources = [source for source, _, _ in examples]
    masses, monotone, heat = [], [], None
    for start in range(0, len(sources), batch_size):
        result = model.translate(sources[start : start + batch_size])
        for i in range(len(result.text)):
            scores = item_alignment(
                result.attention[i], result.input_tokens[i], result.output_tokens[i]
            )
            if scores["tokens"]:
                masses.append(scores["item_mass"])
                monotone.append(scores["monotone"])
        if heat is None:
            heat = (result.attention[0], result.input_tokens[0], result.output_tokens[0])
    return {
        "sources": len(sources),
        "min_source_words": LONG,
        "item_mass": round(float(np.mean(masses)), 4) if masses else None,
        "monotone": round(float(np.mean(monotone)), 4) if monotone else None,
    }, heat


def run(name, train_max_length, data, tokenizers, lengths, sizes, args):
    import keras

    from keras_seqattn import datasets
    from keras_seqattn.evaluation import evaluate_translation, quality_by_length
    from keras_seqattn.training import TimeBudget

    keras.utils.set_random_seed(args.seed)
    model, sizes = build(name, tokenizers, lengths, args, sizes)
    model.compile(optimizer=optimizer(name, args))
    train, validation = (
        datasets.load_translation_pairs(
            args.dataset, split=args.split(s), max_source_words=train_max_length
        ).cache()
        for s in ("train", "validation")
    )
    # Batches padded to the longest training text, not to the test's 100 tokens.
    budget = TimeBudget(args.minutes * 60)
    start = time.perf_counter()
    history = model.fit(
        model.prepare(train, args.batch_size, shuffle=True, seed=args.seed, lengths="longest"),
        validation_data=model.prepare(validation, 256, lengths="longest"),
        epochs=args.epochs,
        callbacks=[budget],
        verbose=2,
    )
    train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    scores = evaluate_translation(model, data["test"], batch_size=args.eval_batch_size)
    result = {
        "model": name,
        "train_max_length": train_max_length,
        "parameters": int(model.count_params()),
        "sizes": sizes,
        "train_examples": sum(1 for _ in train),
        "epochs_run": len(history.history["loss"]),
        "steps_run": int(keras.ops.convert_to_numpy(model.optimizer.iterations)),
        "train_seconds": round(train_seconds, 1),
        "eval_seconds": round(time.perf_counter() - start, 1),
        "final_val_loss": round(float(history.history["val_loss"][-1]), 4),
        "exact_match": round(scores["exact_match"], 4),
        "bleu": round(scores["bleu"], 2),
        "buckets": [
            {**row, "exact_match": round(row["exact_match"], 4), "bleu": round(row["bleu"], 2)}
            for row in quality_by_length(scores["examples"], BUCKET_EDGES)
        ],
        "alignment": None,
        "failures": [e for e in scores["examples"] if e[1] != e[2]][-3:],
    }
    heat = None
    if name != "Seq2SeqRNN":
        long = [e for e in scores["examples"] if len(e[0].split()) >= LONG]
        result["alignment"], heat = alignment(model, long, args.eval_batch_size)
    return result, heat


def plot(results, path):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 4), layout="constrained")
    axes = figure.subplots(1, 2)
    styles = {30: "--", 50: "-"}
    for result in results:
        rows = result["buckets"]
        middles = [sum(int(v) for v in r["lengths"].split("-")) / 2 for r in rows]
        label = f"{result['model']}-{result['train_max_length']}"
        for axis, key, scale in ((axes[0], "bleu", 1), (axes[1], "exact_match", 100)):
            axis.plot(
                middles,
                [scale * r[key] for r in rows],
                styles.get(result["train_max_length"], ":"),
                marker="o",
                markersize=3,
                label=label,
            )
    for axis, ylabel in zip(axes, ("test BLEU", "test exact match (%)")):
        for length in sorted({r["train_max_length"] for r in results}):
            axis.axvline(length, color="gray", linewidth=0.8, linestyle=":")
        axis.set_xlabel("source length (English tokens)")
        axis.set_ylabel(ylabel)
        axis.set_ylim(0, 101)
    axes[0].legend(fontsize=8)
    figure.suptitle(
        "number_lists: quality against source length (cf. Bahdanau et al. 2015, Fig. 2)"
    )
    figure.savefig(path, dpi=110)


def settings_of(args):
    """The settings a result depends on, as the JSON records them."""
    return {k: v for k, v in vars(args).items() if k not in ("out", "split", "merge")}


def merged_results(path, args, names):
    """The results in `path` of the models not in `names`; exits unless run alike."""
    if not path.exists():
        raise SystemExit(f"--merge: there is no {path} to merge into")
    report = json.loads(path.read_text())
    mine, theirs = settings_of(args), report["settings"]
    differ = sorted(k for k in mine if k != "models" and theirs.get(k) != mine[k])
    if differ:
        raise SystemExit(
            f"--merge: {path} was run with other settings: "
            + ", ".join(f"{k}={theirs.get(k)!r} (now {mine[k]!r})" for k in differ)
        )
    return [r for r in report["results"] if r["model"] not in names]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="number_lists/en_to_fr")
    parser.add_argument("--minutes", type=float, default=7.0, help="training budget per run")
    parser.add_argument("--train-lengths", default="30,50", help="comma-separated max tokens")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--epochs", type=int, default=1000, help="the budget ends training")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--eval-batch-size", type=int, default=500)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--embedding-dim", type=int, default=128)
    parser.add_argument(
        "--hidden-dim",
        type=int,
        default=256,
        help="AttentionSeq2Seq's; the other models are sized to its parameter count",
    )
    parser.add_argument("--transformer-layers", type=int, default=2)
    parser.add_argument("--transformer-heads", type=int, default=4)
    parser.add_argument("--transformer-learning-rate", type=float, default=1e-3)
    parser.add_argument("--vocabulary-size", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="tiny run: checks the script only")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the other models' results of the existing JSON (same settings)",
    )
    args = parser.parse_args()
    names = args.models.split(",")
    if not names or set(names) - set(MODELS):
        parser.error(f"--models must name some of {MODELS}. Received: {args.models}")
    if args.smoke:
        args.minutes, args.epochs, args.hidden_dim, args.embedding_dim = 0.05, 1, 16, 8
        args.train_lengths = "30"
    train_lengths = [int(v) for v in args.train_lengths.split(",")]
    out = pathlib.Path(args.out)
    stem = "long_inputs" + ("_smoke" if args.smoke else "")
    earlier = merged_results(out / f"{stem}.json", args, names) if args.merge else []

    import keras

    from keras_seqattn import datasets
    from keras_seqattn.text import SequenceTokenizer
    from keras_seqattn.visualization import plot_attention_heatmap

    load = os.getloadavg()[0]
    started = time.perf_counter()
    args.split = (lambda s: f"{s}[:120]") if args.smoke else (lambda s: s)
    data = {
        s: datasets.load_translation_pairs(args.dataset, split=args.split(s))
        for s in ("train", "validation", "test")
    }
    # One vocabulary for every run, from all of train (its lengths do not matter to
    # the pieces); buffers long enough for every text of every split.
    train_sources, train_targets = texts_of(data["train"])
    tokenizers = [
        SequenceTokenizer.from_corpus(
            texts, mode="sentence_piece", vocabulary_size=args.vocabulary_size
        )
        for texts in (train_sources, train_targets)
    ]
    every = [texts_of(data[s]) for s in ("validation", "test")] + [(train_sources, train_targets)]
    lengths = tuple(
        max(longest(tokenizers[side], texts[side]) for texts in every) for side in (0, 1)
    )
    reference, _ = build("AttentionSeq2Seq", tokenizers, lengths, args, args.hidden_dim)
    target = reference.count_params()
    free = {
        name: args.hidden_dim
        if name == "AttentionSeq2Seq"
        else matched(name, tokenizers, lengths, args, target)
        for name in names
    }
    keras.backend.clear_session()

    results, heat = [], None
    for train_max_length in train_lengths:
        for name in names:
            result, long_heat = run(
                name, train_max_length, data, tokenizers, lengths, free[name], args
            )
            results.append(result)
            if name == "AttentionSeq2Seq" and train_max_length == max(train_lengths):
                heat = long_heat
            print(
                json.dumps(
                    {
                        k: result[k]
                        for k in (
                            "model",
                            "train_max_length",
                            "parameters",
                            "exact_match",
                            "bleu",
                            "steps_run",
                            "alignment",
                        )
                    }
                ),
                flush=True,
            )
            keras.backend.clear_session()

    results = sorted(
        earlier + results, key=lambda r: (r["train_max_length"], MODELS.index(r["model"]))
    )
    out.mkdir(parents=True, exist_ok=True)
    plot(results, out / f"{stem}.png")
    if heat is not None:
        attention, input_tokens, output_tokens = heat
        plot_attention_heatmap(
            attention,
            input_tokens,
            output_tokens,
            title=f"AttentionSeq2Seq-{max(train_lengths)}, "
            f"a {len(input_tokens) - 1}-token test source",
            path=out / f"{stem}_heatmap.png",
        )
    versions = {"python": platform.python_version()}
    versions.update({m: metadata.version(m) for m in ("keras", "keras-hub", "tensorflow")})
    report = {
        "benchmark": "long_inputs",
        "dataset": args.dataset,
        "backend": keras.backend.backend(),
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "load_average_1min": {"start": round(load, 2), "end": round(os.getloadavg()[0], 2)},
        "seconds": round(time.perf_counter() - started),
        "versions": versions,
        "settings": settings_of(args),
        "merged": sorted({r["model"] for r in earlier}, key=MODELS.index),
        "max_lengths": {"source": lengths[0], "target": lengths[1]},
        "results": results,
    }
    (out / f"{stem}.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    header = "".join(f"{r['lengths']:>8}" for r in results[0]["buckets"])
    print(f"\n{'model':<22}{'params':>9}{'steps':>7}{header}   (BLEU per bucket)")
    for r in results:
        row = "".join(f"{b['bleu']:>8.1f}" for b in r["buckets"])
        label = f"{r['model']}-{r['train_max_length']}"
        print(f"{label:<22}{r['parameters']:>9}{r['steps_run']:>7}{row}")


if __name__ == "__main__":
    main()
