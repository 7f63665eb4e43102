"""Issue 9, item 5, measured: one application's `fit` throughput on each backend.

`TransformerSeq2Seq` (`--config`, default `transformer_small`; add
`AttentionSeq2Seq` with `--models`) is built from the embedded number-words
data (`number_words/en_to_de`, the tokenisation of `training.translation`) and
trained with `model.fit` on the same `--batches` fixed batches, repeated, on
TensorFlow, JAX and PyTorch, with compilation on and off:
`compile(jit_compile=True)` is XLA on TensorFlow, `jax.jit` on JAX and
`torch.compile` on PyTorch; `False` is `tf.function` without XLA, eager JAX
(op by op) and eager PyTorch. Each (backend, setting) runs in its own process
under a time cap (`--timeout`); a failure or a timeout is recorded with its
reason instead of a number.

A callback times every batch (reading the loss, so JAX's asynchronous dispatch
has finished). The first `--warmup` batches, which include tracing and
compilation, are left out: throughput is examples and non-padding target tokens
per second over the batches after them (at most `--steps`, or as many as fit
in `--minutes` after the warm-up), and the compile time is the first batch's time less the median
steady batch.

    python benchmarks/backend_throughput.py                       # all three backends
    python benchmarks/backend_throughput.py --backends jax tensorflow \
        --models TransformerSeq2Seq,AttentionSeq2Seq
    python benchmarks/backend_throughput.py --smoke      # seconds; current backend only

Writes `benchmarks/results/backend_throughput.json` and `..._tokens.png`, and
prints a table.
"""

import argparse
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
BACKENDS = ("tensorflow", "jax", "torch")
COMPILER = {"tensorflow": "XLA", "jax": "jax.jit", "torch": "torch.compile"}


def batch_timer(warmup, steps, seconds):
    """Times each batch; stops after `steps` timed ones or `seconds` after the warm-up."""
    import keras

    class BatchTimer(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.ends = [time.perf_counter()]

        def on_train_batch_end(self, batch, logs=None):
            float((logs or {}).get("loss", 0.0))  # Waits for the step (JAX is asynchronous).
            self.ends.append(time.perf_counter())
            timed = len(self.ends) - 1 - warmup
            if timed >= steps or (timed >= 2 and self.ends[-1] - self.ends[warmup] > seconds):
                self.model.stop_training = True

    return BatchTimer()


def build(name, args, pairs):
    from keras_seqattn import applications
    from keras_seqattn.training.translation import tokenization

    mode, vocabulary_size = tokenization(args.dataset)
    if name == "TransformerSeq2Seq":
        sizes = dict(applications.transformer_seq2seq.CONFIGS[args.config])
        if args.smoke:
            sizes.update(hidden_dim=16, num_layers=1, num_heads=2, intermediate_dim=32)
    else:
        sizes = dict(embedding_dim=8, hidden_dim=16) if args.smoke else {}
    model = getattr(applications, name).from_corpus(
        pairs, source_mode=mode, target_mode=mode, vocabulary_size=vocabulary_size, **sizes
    )
    return model, sizes


def measure(args):
    """One (backend, model, jit_compile) run; runs in the worker process."""
    import keras
    import numpy as np

    from keras_seqattn import datasets

    keras.utils.set_random_seed(args.seed)
    examples = args.batch_size * args.batches
    pairs = datasets.load_translation_pairs(args.dataset, split=f"train[:{examples}]")
    model, sizes = build(args.model, args, pairs)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=args.jit_compile)
    batches = model.prepare(pairs, batch_size=args.batch_size).take(args.batches).cache()
    tokens = [int(np.count_nonzero(labels)) for _, labels in batches.as_numpy_iterator()]
    timer = batch_timer(args.warmup, args.steps, 60 * args.minutes)
    start = time.perf_counter()
    model.fit(
        batches.repeat(),
        steps_per_epoch=args.warmup + args.steps,
        epochs=1,
        callbacks=[timer],
        verbose=0,
    )
    wall = time.perf_counter() - start
    seconds = [b - a for a, b in zip(timer.ends, timer.ends[1:])]
    steady = seconds[args.warmup :]
    elapsed = sum(steady)
    timed_tokens = sum(tokens[i % len(tokens)] for i in range(args.warmup, len(seconds)))
    return {
        "backend": keras.backend.backend(),
        "model": args.model,
        "jit_compile": args.jit_compile,
        "compiler": COMPILER[keras.backend.backend()] if args.jit_compile else "none",
        "sizes": sizes,
        "parameters": int(model.count_params()),
        "max_lengths": [model.max_source_length, model.max_target_length],
        "steps_timed": len(steady),
        "median_step_ms": round(1e3 * statistics.median(steady), 2),
        "examples_per_second": round(args.batch_size * len(steady) / elapsed, 1),
        "tokens_per_second": round(timed_tokens / elapsed, 1),
        "first_step_seconds": round(seconds[0], 2),
        "compile_seconds": round(seconds[0] - statistics.median(steady), 2),
        "fit_wall_seconds": round(wall, 1),
    }


def run_worker(backend, model, jit, worker_args, timeout):
    """This script as a worker under `KERAS_BACKEND=backend`; its row, or why there is none."""
    row = {"backend": backend, "model": model, "jit_compile": jit}
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "row.json"
        command = [sys.executable, __file__, *worker_args, "--worker", str(path)]
        command += ["--model", model, "--jit-compile", str(int(jit))]
        env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
        try:
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {**row, "skipped": f"timed out after {timeout} s (compilation included)"}
        if done.returncode != 0:
            return {**row, "skipped": "failed: " + done.stderr.strip()[-1500:]}
        return json.loads(path.read_text())


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in rows if "tokens_per_second" in r]
    figure, axes = plt.subplots(figsize=(7, 4))
    labels = [f"{r['backend']}\n{r['compiler']}" for r in rows]
    colors = ["C0" if r["jit_compile"] else "C1" for r in rows]
    axes.bar(range(len(rows)), [r["tokens_per_second"] for r in rows], color=colors)
    axes.set_xticks(range(len(rows)), labels, fontsize=8)
    axes.set_ylabel("target tokens per second")
    models = sorted({r["model"] for r in rows})
    axes.set_title(f"fit throughput, {', '.join(models)} (blue: compiled)")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument("--models", default="TransformerSeq2Seq")
    parser.add_argument("--config", default="transformer_small")
    parser.add_argument("--dataset", default="number_words/en_to_de")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--batches", type=int, default=16, help="distinct batches, repeated")
    parser.add_argument("--warmup", type=int, default=3, help="batches left out (compilation)")
    parser.add_argument("--steps", type=int, default=40, help="most timed batches")
    parser.add_argument("--minutes", type=float, default=2.0, help="timing cap per run")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per run, all in")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="tiny run: checks the script only")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: one run's row
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--jit-compile", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.smoke:
        args.batch_size, args.batches, args.warmup, args.steps = 8, 2, 1, 3
        args.backends = [os.environ.get("KERAS_BACKEND", "tensorflow")]
    if args.worker:
        args.jit_compile = bool(args.jit_compile)
        pathlib.Path(args.worker).write_text(json.dumps(measure(args)))
        return

    load = os.getloadavg()[0]
    rows = []
    for backend in args.backends:
        for model in args.models.split(","):
            for jit in (True, False):
                rows.append(run_worker(backend, model, jit, sys.argv[1:], args.timeout))
                print(json.dumps(rows[-1]), flush=True)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "backend_throughput" + ("_smoke" if args.smoke else "")
    plot(rows, out / f"{stem}_tokens.png")
    versions = {"python": platform.python_version()}
    versions.update({m: metadata.version(m) for m in ("keras", "tensorflow", "jax", "torch")})
    report = {
        "benchmark": "backend_throughput",
        "dataset": args.dataset,
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "load_average_1min": {"start": round(load, 2), "end": round(os.getloadavg()[0], 2)},
        "versions": versions,
        "settings": {
            k: v
            for k, v in vars(args).items()
            if k not in ("out", "worker", "model", "jit_compile")
        },
        "results": rows,
    }
    (out / f"{stem}.json").write_text(json.dumps(report, indent=2))
    header = ("compiler", 15), ("step ms", 10), ("ex/s", 9), ("tokens/s", 10), ("compile s", 11)
    print(f"\n{'backend':<12}{'model':<20}" + "".join(f"{t:>{w}}" for t, w in header))
    for r in rows:
        start = f"{r['backend']:<12}{r['model']:<20}"
        if "skipped" in r:
            print(start + f"{'jit ' + str(r['jit_compile']):>15}  skipped: {r['skipped'][:60]}")
            continue
        print(
            start + f"{r['compiler']:>15}{r['median_step_ms']:>10}{r['examples_per_second']:>9}"
            f"{r['tokens_per_second']:>10}{r['compile_seconds']:>11}"
        )


if __name__ == "__main__":
    main()
