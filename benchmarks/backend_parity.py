"""Issue 21, measured: every application's training step and generation on each backend.

Each of the eight applications is built at the command line's default sizes on
the data the README trains it on (the RNN and Transformer translators on
`date_normalization`, the captioners on `digit_scenes`, the ViT on `digits`,
`vit_tiny_digits`), compiled as `keras-seqattn train` compiles it, and timed:

- `ms_per_step`: one `train_on_batch` of `--batch-size` examples (64, the CLI's),
  after `--warmup` steps that include tracing and compilation;
- `ms_per_batch_generate`: `translate()` / `caption()` (greedy) or `predict()`
  (the ViT) of a batch of 32, after one warm-up call.

One worker process per backend (Keras fixes its backend per process) builds
every model once and then waits; the driver asks one worker at a time, so only
one measurement runs at any moment, and the backends take turns within each of
`--rounds` rounds (their order rotating from round to round). A noisy moment
of the shared machine then falls on every backend alike, and the medians over
the rounds are compared side by side. `ratio_to_fastest` is each backend's
median over the fastest backend's for the same application.

    python benchmarks/backend_parity.py                    # all three backends, all eight
    python benchmarks/backend_parity.py --apps AttentionSeq2Seq,AttentionCaptioner
    python benchmarks/backend_parity.py --smoke            # tiny sizes: checks the script

Writes `benchmarks/results/backend_parity.json` (`..._smoke.json`) and
`..._ratios.png`, and prints a table.
"""

import argparse
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import time
from importlib import metadata

import keras_seqattn_registry

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
BACKENDS = keras_seqattn_registry.BACKENDS
# Every registered application -> the dataset the README trains its task on.
TASK_DATASETS = {
    "translation": "date_normalization",
    "captioning": "digit_scenes",
    "classification": "digits",
}
APPLICATIONS = {
    app.class_name: TASK_DATASETS[app.task] for app in keras_seqattn_registry.APPLICATIONS.values()
}
# `keras-seqattn train`'s defaults (keras_seqattn_registry.py), and tiny ones for --smoke.
RNN_SIZES = dict(embedding_dim=128, hidden_dim=256, rnn_type="gru")
SIZES = {
    "Seq2SeqRNN": RNN_SIZES,
    "AttentionSeq2Seq": RNN_SIZES,
    "LuongSeq2Seq": dict(RNN_SIZES, score_mode="general"),
    "TransformerSeq2Seq": dict(hidden_dim=256, num_layers=3, num_heads=4, intermediate_dim=1024),
    "RNNCaptioner": dict(RNN_SIZES, feature_dim=128),
    "AttentionCaptioner": dict(RNN_SIZES, feature_dim=128),
    "TransformerCaptioner": "transformer_captioner_tiny_digits",
    "VisionTransformer": "vit_tiny_digits",
}
SMOKE_RNN = dict(embedding_dim=8, hidden_dim=16, rnn_type="gru")
SMOKE_SIZES = {
    "Seq2SeqRNN": SMOKE_RNN,
    "AttentionSeq2Seq": SMOKE_RNN,
    "LuongSeq2Seq": SMOKE_RNN,
    "TransformerSeq2Seq": dict(hidden_dim=16, num_layers=1, num_heads=2, intermediate_dim=32),
    "RNNCaptioner": dict(SMOKE_RNN, feature_dim=8),
    "AttentionCaptioner": dict(SMOKE_RNN, feature_dim=8),
    "TransformerCaptioner": dict(
        patch_size=16,
        hidden_dim=16,
        num_encoder_layers=1,
        num_decoder_layers=1,
        num_heads=2,
        intermediate_dim=32,
    ),
    "VisionTransformer": dict(hidden_dim=16, num_layers=1, num_heads=2, mlp_dim=32),
}
GENERATE_BATCH = 32


def build(name, args):
    """`(model, train batch, generate)` for application `name`; `generate()` runs on 32 inputs."""
    import keras
    import numpy as np

    from keras_seqattn import applications, datasets
    from keras_seqattn.training.image_classification import image_batches
    from keras_seqattn.training.translation import tokenization

    dataset = APPLICATIONS[name]
    sizes = (SMOKE_SIZES if args.smoke else SIZES)[name]
    model_class = getattr(applications, name)
    if name == "VisionTransformer":
        builder = datasets.prepare(dataset)
        height, width, channels = builder.info.features["image"].shape
        # A named config, or (--smoke) tiny overrides of the CLI's default one.
        config, overrides = (SIZES[name], sizes) if isinstance(sizes, dict) else (sizes, {})
        model = model_class.from_config_name(
            config,
            num_classes=builder.info.features["label"].num_classes,
            image_size=height,
            num_channels=channels,
            **overrides,
        )
        model.compile(
            optimizer=keras.optimizers.AdamW(1e-3, weight_decay=0.05, global_clipnorm=1.0),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        pairs = datasets.load_image_labels(dataset, split="train[:512]")
        batch = next(iter(image_batches(pairs, args.batch_size).as_numpy_iterator()))
        images = batch[0][:GENERATE_BATCH]
        return model, batch, lambda: model.predict(images, batch_size=GENERATE_BATCH, verbose=0)
    if isinstance(sizes, str):
        sizes = applications.transformer_captioner.CONFIGS[sizes]
    if dataset == "digit_scenes":
        pairs = datasets.load_caption_pairs(dataset, split="train[:2000]")
        model = model_class.from_corpus(pairs, vocabulary_size=1000, **sizes)
        images = np.stack([image for image, _ in pairs.take(GENERATE_BATCH).as_numpy_iterator()])
        generate = lambda: model.caption(images)  # noqa: E731
    else:
        pairs = datasets.load_translation_pairs(dataset, split="train[:2000]")
        mode, vocabulary_size = tokenization(dataset)
        model = model_class.from_corpus(
            pairs, source_mode=mode, target_mode=mode, vocabulary_size=vocabulary_size, **sizes
        )
        texts = [s.decode() for s, _ in pairs.take(GENERATE_BATCH).as_numpy_iterator()]
        generate = lambda: model.translate(texts)  # noqa: E731
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    batch = next(iter(model.prepare(pairs, batch_size=args.batch_size).as_numpy_iterator()))
    return model, batch, generate


def worker(args):
    """Builds every application, then answers measurement requests on stdin."""
    import keras

    # The protocol gets its own copy of stdout; whatever else prints goes to stderr.
    channel = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    built = {}
    for name in args.apps:
        model, batch, generate = build(name, args)
        for _ in range(args.warmup):
            model.train_on_batch(*batch)
        generate()
        built[name] = model, batch, generate
    print(json.dumps({"ready": keras.backend.backend()}), file=channel, flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        model, batch, generate = built[request["app"]]
        steps, generations = [], []
        for _ in range(args.steps):
            start = time.perf_counter()
            # Reading the loss waits for the step (JAX dispatches asynchronously).
            float(keras.tree.flatten(model.train_on_batch(*batch))[0])
            steps.append(time.perf_counter() - start)
        for _ in range(args.generations):
            start = time.perf_counter()
            generate()
            generations.append(time.perf_counter() - start)
        answer = {"step_s": steps, "generate_s": generations, "parameters": model.count_params()}
        print(json.dumps(answer), file=channel, flush=True)


def prepare_datasets(args):
    """Prepares each dataset once, here, before the workers start.

    Three workers preparing the same TFDS dataset at once race on its
    `incomplete.*` folder, and one of them fails.
    """
    from keras_seqattn import datasets

    for name in sorted({APPLICATIONS[app] for app in args.apps}):
        datasets.prepare(name)


def start_workers(args):
    prepare_datasets(args)
    workers = {}
    for backend in args.backends:
        command = [sys.executable, __file__, "--worker", *sys.argv[1:]]
        env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
        workers[backend] = subprocess.Popen(
            command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
    for backend, process in workers.items():
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"The {backend} worker ended before it was ready.")
    return workers


def ask(process, app):
    process.stdin.write(json.dumps({"app": app}) + "\n")
    process.stdin.flush()
    line = process.stdout.readline()
    if not line:
        raise RuntimeError(f"A worker ended while measuring {app} (its stderr is above).")
    return json.loads(line)


def measure(args):
    """Rows of medians, one per application and backend, with `ratio_to_fastest`."""
    workers = start_workers(args)
    samples = {(app, b): {"step_s": [], "generate_s": []} for app in args.apps for b in workers}
    parameters = {}
    try:
        for round_ in range(args.rounds):
            order = list(workers)[round_ % len(workers) :] + list(workers)[: round_ % len(workers)]
            for app in args.apps:
                for backend in order:
                    answer = ask(workers[backend], app)
                    parameters[app, backend] = answer["parameters"]
                    for key in ("step_s", "generate_s"):
                        samples[app, backend][key] += answer[key]
            print(f"round {round_ + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    finally:
        for process in workers.values():
            process.stdin.close()
            process.wait()
    rows = []
    for app in args.apps:
        medians = {
            b: {k: 1000 * statistics.median(v) for k, v in samples[app, b].items()} for b in workers
        }
        fastest = {k: min(m[k] for m in medians.values()) for k in ("step_s", "generate_s")}
        for backend, m in medians.items():
            rows.append(
                {
                    "application": app,
                    "dataset": APPLICATIONS[app],
                    "backend": backend,
                    "parameters": parameters[app, backend],
                    "ms_per_step": round(m["step_s"], 1),
                    "ms_per_batch_generate": round(m["generate_s"], 1),
                    "ratio_to_fastest": {
                        "step": round(m["step_s"] / fastest["step_s"], 2),
                        "generate": round(m["generate_s"] / fastest["generate_s"], 2),
                    },
                    "step_ms_quartiles": _quartiles(samples[app, backend]["step_s"]),
                    "generate_ms_quartiles": _quartiles(samples[app, backend]["generate_s"]),
                }
            )
    return rows


def _quartiles(seconds):
    if len(seconds) < 2:
        return [round(1000 * seconds[0], 1)] * 3
    return [round(1000 * q, 1) for q in statistics.quantiles(seconds, n=4)]


def plot(rows, path, backends):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    apps = list(dict.fromkeys(r["application"] for r in rows))
    figure, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    width = 0.8 / len(backends)
    for axis, key, title in zip(axes, ("step", "generate"), ("training step", "generate 32")):
        for i, backend in enumerate(backends):
            ratios = [
                next(
                    r["ratio_to_fastest"][key]
                    for r in rows
                    if (r["application"], r["backend"]) == (a, backend)
                )
                for a in apps
            ]
            axis.bar([j + i * width for j in range(len(apps))], ratios, width, label=backend)
        axis.axhline(1.5, color="gray", linestyle="--", linewidth=1, label="target 1.5x")
        axis.set_xticks([j + width * (len(backends) - 1) / 2 for j in range(len(apps))])
        axis.set_xticklabels(apps, rotation=30, ha="right", fontsize=8)
        axis.set_title(f"{title}: time over the fastest backend's")
    axes[0].set_ylabel("ratio to the fastest backend")
    axes[0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument("--apps", default=",".join(APPLICATIONS), help="comma-separated")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per round")
    parser.add_argument("--generations", type=int, default=2, help="timed calls per round")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one round")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.apps = args.apps.split(",")
    unknown = sorted(set(args.apps) - set(APPLICATIONS))
    if unknown:
        parser.error(f"--apps must name some of {list(APPLICATIONS)}. Received: {unknown}")
    if args.smoke:
        args.batch_size, args.rounds, args.steps, args.generations, args.warmup = 8, 1, 2, 1, 1
    if args.worker:
        return worker(args)

    load = os.getloadavg()[0]
    started = time.perf_counter()
    rows = measure(args)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "backend_parity" + ("_smoke" if args.smoke else "")
    plot(rows, out / f"{stem}_ratios.png", args.backends)
    versions = {"python": platform.python_version()}
    versions.update({m: metadata.version(m) for m in ("keras", "tensorflow", "jax", "torch")})
    report = {
        "benchmark": "backend_parity",
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "load_average_1min": {"start": round(load, 2), "end": round(os.getloadavg()[0], 2)},
        "seconds": round(time.perf_counter() - started),
        "versions": versions,
        "settings": {k: v for k, v in vars(args).items() if k not in ("out", "worker")},
        "results": rows,
    }
    (out / f"{stem}.json").write_text(json.dumps(report, indent=2))
    print(
        f"\n{'application':<22}{'backend':<12}{'step ms':>9}{'ratio':>7}{'gen ms':>9}{'ratio':>7}"
    )
    for r in rows:
        ratio = r["ratio_to_fastest"]
        print(
            f"{r['application']:<22}{r['backend']:<12}{r['ms_per_step']:>9}{ratio['step']:>7}"
            f"{r['ms_per_batch_generate']:>9}{ratio['generate']:>7}"
        )


if __name__ == "__main__":
    main()
