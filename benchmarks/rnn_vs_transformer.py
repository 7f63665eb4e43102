"""Lecture section 6, measured: RNN with attention against the Transformer, by length.

`AttentionSeq2Seq` (GRU encoder-decoder with Bahdanau attention) and
`TransformerSeq2Seq` (post-norm, sinusoidal positions, dropout 0) at about the
same parameter count: the Transformer's sizes are the flags, the RNN's
`hidden_dim` is then solved for (the count is quadratic in it; fitted on three
builds) so the two counts agree to 0.1% with the defaults. Vocabulary `--vocabulary-size`
on both sides, source length = target length = L.

Per backend, model and L, a fresh Python process (`KERAS_BACKEND` set) builds
the model with `max_source_length = max_target_length = L`, compiles it (Adam,
masked cross-entropy, no metrics), runs one `train_on_batch` on a random batch
of token ids as warm-up (tracing and compilation included, reported apart),
then `--repeats` timed ones on the same batch; the time is their median.
Memory, on CPU: the child's peak resident set size (`ru_maxrss`) read after the
timed steps minus its resident set size (`/proc/self/statm`) just before the
warm-up step, i.e. the most the process grew while compiling and training on
top of the built model and data (compiler workspace, activations kept for the
backward pass, gradients, Adam slots, allocator caches). Next to it, computed:
the attention scores, one float32 matrix per attention,
`batch x heads x (N*N + M*M + M*N) x layers x 4` bytes for the Transformer,
`batch x M x N x 4` for the RNN's weights, and the RNN's additive-score
activations `tanh(W_q s + W_k h)`, `batch x M x N x hidden_dim x 4`, which its
backward pass keeps. Once a timed step at some L takes longer than
`--max-step-seconds` (or the child fails or times out), the larger L of that
backend and model are recorded as skipped, with the reason; so is any L whose
peak, extrapolated quadratically from the previous L, would exceed
`--memory-fraction` of the memory available (the RNN's additive scores grow as
L^2 too: some 14 GiB at L = 1024 with the defaults, on TensorFlow).

    python benchmarks/rnn_vs_transformer.py                 # all three backends
    python benchmarks/rnn_vs_transformer.py --backends jax --lengths 16 32
    python benchmarks/rnn_vs_transformer.py --smoke         # seconds; CI runs this

Writes `benchmarks/results/rnn_vs_transformer.json`, `..._time.png` and
`..._memory.png` (log-log; computed attention scores dashed, the RNN's
additive-score activations dotted), and prints a table. `--smoke` runs every
point eagerly in one child, so its memory is not clean. The sizes are matched
in a child too: the parent imports no backend.
"""

import argparse
import importlib.metadata
import json
import os
import pathlib
import platform
import resource
import signal
import statistics
import subprocess
import sys
import time

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
MODELS = ("AttentionSeq2Seq", "TransformerSeq2Seq")
MB = 2**20


def build(model_name, sizes, length):
    from keras_seqattn.applications import AttentionSeq2Seq, TransformerSeq2Seq
    from keras_seqattn.text import SPECIAL_TOKENS, SequenceTokenizer

    vocabulary = list(SPECIAL_TOKENS) + [f"w{i}" for i in range(sizes["vocabulary_size"] - 4)]
    tokenizer = SequenceTokenizer(vocabulary)
    lengths = dict(max_source_length=length, max_target_length=length)
    if model_name == "TransformerSeq2Seq":
        model = TransformerSeq2Seq(
            tokenizer, tokenizer, dropout=0.0, **sizes["transformer"], **lengths
        )
    else:
        model = AttentionSeq2Seq(tokenizer, tokenizer, **sizes["rnn"], **lengths)
    return model


def match_sizes(args):
    """The Transformer's sizes from the flags, the RNN's `hidden_dim` solved for."""
    import numpy as np

    transformer = dict(
        hidden_dim=args.hidden_dim,
        num_layers=args.num_layers,
        num_heads=args.num_heads,
        intermediate_dim=args.intermediate_dim,
    )
    sizes = {"vocabulary_size": args.vocabulary_size, "transformer": transformer}
    target = build("TransformerSeq2Seq", sizes, 16).count_params()

    def rnn_count(hidden_dim):
        sizes["rnn"] = dict(embedding_dim=args.embedding_dim, hidden_dim=int(hidden_dim))
        return build("AttentionSeq2Seq", sizes, 16).count_params()

    trial = np.array([8, 16, 24]) * max(1, args.embedding_dim // 8)
    a, b, c = np.polyfit(trial, [rnn_count(h) for h in trial], 2)  # Exact: count is quadratic.
    hidden_dim = round((-b + np.sqrt(b * b - 4 * a * (c - target))) / (2 * a))
    counts = {"TransformerSeq2Seq": int(target), "AttentionSeq2Seq": int(rnn_count(hidden_dim))}
    return sizes, counts


def attention_bytes(model_name, sizes, batch, length):
    """Computed float32 attention memory in bytes, source length N = target length M = L."""
    n = m = length
    if model_name == "TransformerSeq2Seq":
        heads, layers = sizes["transformer"]["num_heads"], sizes["transformer"]["num_layers"]
        return {"attention_scores": batch * heads * (n * n + m * m + m * n) * layers * 4}
    return {
        "attention_scores": batch * m * n * 4,
        "additive_score_activations": batch * m * n * sizes["rnn"]["hidden_dim"] * 4,
    }


def current_rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure(point, sizes, args):
    """One (model, length) in this process: times and memory, as a result row."""
    import keras
    import numpy as np

    model_name, length = point
    keras.utils.set_random_seed(0)
    model = build(model_name, sizes, length)
    # The smoke run checks the script, not Keras: eager steps spare it the tracing.
    model.compile(optimizer="adam", metrics=[], run_eagerly=args.smoke)
    rng = np.random.default_rng(0)
    shape = (args.batch_size, length)
    ids = lambda: rng.integers(4, sizes["vocabulary_size"], shape).astype("int32")  # noqa: E731
    inputs, labels = {"source_ids": ids(), "target_ids": ids()}, ids()
    rss_before = current_rss()
    start = time.perf_counter()
    model.train_on_batch(inputs, labels)  # Returns NumPy, so the step has finished.
    first = time.perf_counter() - start
    steps = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        model.train_on_batch(inputs, labels)
        steps.append(time.perf_counter() - start)
        if steps[-1] > args.max_step_seconds:
            break  # The parent skips the larger lengths; more steps would tell little.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux.
    return {
        "model": model_name,
        "length": length,
        "status": "ok",
        "parameters": int(model.count_params()),
        "jit_compile": bool(model.jit_compile),
        "first_step_s": round(first, 4),
        "step_s": [round(s, 4) for s in steps],
        "median_step_s": round(statistics.median(steps), 4),
        "rss_before_mb": round(rss_before / MB, 1),
        "peak_rss_growth_mb": round(max(0, peak - rss_before) / MB, 1),
        **{
            f"computed_{k}_bytes": v
            for k, v in attention_bytes(model_name, sizes, args.batch_size, length).items()
        },
    }


def child(job):
    args, sizes = argparse.Namespace(**job["args"]), job["sizes"]
    if sizes is None:
        sizes, parameters = match_sizes(args)
        print("RESULT " + json.dumps({"sizes": sizes, "parameters": parameters}), flush=True)
    for point in job["points"]:
        print("RESULT " + json.dumps(measure(point, sizes, args)), flush=True)


def run_child(backend, points, sizes, args):
    """Runs `points` in a fresh process on `backend`: one row per point.

    With `sizes=None` the process matches the sizes first; they come back as a
    second result, `{"sizes", "parameters"}`.
    """
    job = {"points": points, "sizes": sizes, "args": vars(args)}
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    command = [sys.executable, __file__, "--child", json.dumps(job)]
    timeout = args.child_timeout * max(1, len(points))
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        status, done = f"timeout: the process ran past {timeout} s", None
    rows = []
    if done is not None:
        lines = done.stdout.splitlines()
        rows = [json.loads(line[7:]) for line in lines if line.startswith("RESULT ")]
        last = (done.stderr.strip().splitlines() or ["no output"])[-1][-300:]
        if done.returncode < 0:  # Killed: by the kernel for memory, or by a person.
            last = f"killed by {signal.Signals(-done.returncode).name}"
        status = f"error: exit status {done.returncode}: {last}"
    matched = rows.pop(0) if sizes is None and rows else None
    if sizes is None and matched is None:
        raise RuntimeError(f"Matching the model sizes failed: {status}")
    for row in rows:
        row["backend"] = backend
    for model_name, length in points[len(rows) :]:
        rows.append({"backend": backend, "model": model_name, "length": length, "status": status})
    return (rows, matched) if sizes is None else rows


def available_memory():
    with open("/proc/meminfo") as f:
        fields = dict(line.split(":") for line in f)
    return int(fields["MemAvailable"].split()[0]) * 1024


def memory_guard(rows, model_name, length, args):
    """Why `length` would not fit in memory, from the last point's growth, or None.

    The growth is extrapolated quadratically (an upper bound for everything
    here), so a point is never started that would swap or wake the OOM killer.
    """
    done = [r for r in rows if r["model"] == model_name and r["status"] == "ok"]
    if not done:
        return None
    predicted = done[-1]["peak_rss_growth_mb"] * MB * (length / done[-1]["length"]) ** 2
    available = available_memory()
    if predicted <= args.memory_fraction * available:
        return None
    return (
        f"length {length} would need ~{predicted / 2**30:.1f} GiB (quadratic from length "
        f"{done[-1]['length']}) > {args.memory_fraction} x {available / 2**30:.1f} GiB available"
    )


def measure_backend(backend, sizes, args):
    rows = []
    for model_name in MODELS:
        reason = None
        for length in args.lengths:
            reason = reason or memory_guard(rows, model_name, length, args)
            if reason:
                row = dict(model=model_name, length=length, status="skipped", reason=reason)
                rows.append(dict(backend=backend, **row))
                continue
            row = run_child(backend, [(model_name, length)], sizes, args)[0]
            rows.append(row)
            print(json.dumps(row), flush=True)
            if row["status"] != "ok":
                reason = f"length {length} failed ({row['status']})"
            elif max(row["step_s"]) > args.max_step_seconds:
                reason = (
                    f"a step at length {length} took {max(row['step_s']):.1f} s "
                    f"> --max-step-seconds {args.max_step_seconds}"
                )
    return rows


def plot(report, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"AttentionSeq2Seq": "tab:blue", "TransformerSeq2Seq": "tab:red"}
    markers = {"tensorflow": "o", "jax": "s", "torch": "^"}
    ok = [r for r in report["results"] if r["status"] == "ok"]
    settings, counts = report["settings"], report["parameters"]
    lengths = settings["lengths"]
    for name, key, label in [
        ("time", "median_step_s", "seconds per training step (median)"),
        ("memory", "peak_rss_growth_mb", "MB: peak RSS growth; computed: dashed, dotted"),
    ]:
        figure, axes = plt.subplots(figsize=(7, 4.5))
        for backend, model_name in [(b, m) for b in settings["backends"] for m in MODELS]:
            rows = [r for r in ok if r["backend"] == backend and r["model"] == model_name]
            x, y = [r["length"] for r in rows], [max(r[key], 1e-3) for r in rows]
            style = dict(marker=markers.get(backend, "o"), color=colors[model_name])
            axes.plot(x, y, "-", label=f"{model_name}, {backend}", **style)
        # Computed: each model's attention scores (dashed) and the RNN's additive-score
        # activations (dotted), its real quadratic term.
        computed = [(m, "attention_scores", "--") for m in MODELS]
        computed.append(("AttentionSeq2Seq", "additive_score_activations", ":"))
        for model_name, quantity, line in computed if name == "memory" else []:
            b = settings["batch_size"]
            y = [attention_bytes(model_name, report["sizes"], b, n)[quantity] / MB for n in lengths]
            legend = f"{model_name}, {quantity.replace('_', ' ')}, computed"
            axes.plot(lengths, y, line, color=colors[model_name], label=legend)
        axes.set_xscale("log", base=2)
        axes.set_yscale("log")
        axes.set_xticks(lengths, [str(n) for n in lengths])
        axes.set_xlabel("source length = target length")
        axes.set_ylabel(label)
        axes.set_title(
            f"batch {settings['batch_size']}; parameters: RNN {counts['AttentionSeq2Seq']:,}, "
            f"Transformer {counts['TransformerSeq2Seq']:,}",
            fontsize=9,
        )
        axes.legend(fontsize=7)
        figure.tight_layout()
        figure.savefig(out / f"{report['stem']}_{name}.png", dpi=120)
        plt.close(figure)


def print_table(report):
    print(f"\n{'backend':<11}{'model':<20}{'L':>6}{'step ms':>10}{'peak MB':>9}{'attn MB':>9}")
    for r in report["results"]:
        cells = f"{'-':>10}{'-':>9}{'-':>9}  {r['status']} {r.get('reason', '')}"
        if r["status"] == "ok":
            attention = r["computed_attention_scores_bytes"] / MB
            cells = (
                f"{1e3 * r['median_step_s']:>10.1f}{r['peak_rss_growth_mb']:>9.1f}{attention:>9.2f}"
            )
        print(f"{r['backend']:<11}{r['model']:<20}{r['length']:>6}{cells}")


def versions():
    found = {}
    for package in ("keras", "tensorflow", "jax", "torch", "numpy"):
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = None
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["tensorflow", "jax", "torch"])
    parser.add_argument("--lengths", type=int, nargs="+", default=[16, 32, 64, 128, 256, 512, 1024])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5, help="timed steps per point")
    parser.add_argument("--max-step-seconds", type=float, default=20.0)
    parser.add_argument(
        "--memory-fraction", type=float, default=0.7, help="of MemAvailable a point may take"
    )
    parser.add_argument("--child-timeout", type=int, default=900, help="seconds per point")
    parser.add_argument("--vocabulary-size", type=int, default=1000)
    parser.add_argument("--hidden-dim", type=int, default=128, help="Transformer d_model")
    parser.add_argument("--num-layers", type=int, default=2)
    parser.add_argument("--num-heads", type=int, default=4)
    parser.add_argument("--intermediate-dim", type=int, default=512)
    parser.add_argument("--embedding-dim", type=int, default=128, help="RNN token embedding")
    parser.add_argument("--smoke", action="store_true", help="tiny run: checks the script only")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(json.loads(args.child))
    if args.smoke:
        args.backends = [os.environ.get("KERAS_BACKEND", "tensorflow")]
        args.lengths, args.batch_size, args.repeats, args.vocabulary_size = [8, 16], 2, 2, 50
        args.hidden_dim, args.num_layers, args.num_heads, args.intermediate_dim = 16, 1, 2, 32
        args.embedding_dim = 16

    started, load = time.time(), os.getloadavg()[0]
    if args.smoke:  # One process matches and measures every point: seconds, not clean memory.
        points = [(m, n) for m in MODELS for n in args.lengths]
        results, matched = run_child(args.backends[0], points, None, args)
    else:
        results, matched = run_child(args.backends[0], [], None, args)
    sizes, parameters = matched["sizes"], matched["parameters"]
    print(f"parameters: {parameters}; sizes: {sizes}", flush=True)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = {
        "benchmark": "rnn_vs_transformer",
        "stem": "rnn_vs_transformer" + ("_smoke" if args.smoke else ""),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.machine(),
            "cpu_count": os.cpu_count(),
        },
        "versions": versions(),
        "settings": {k: v for k, v in vars(args).items() if k not in ("out", "child")},
        "sizes": sizes,
        "parameters": parameters,
        "memory_measure": "CPU: peak RSS (ru_maxrss) after the timed steps - RSS before warm-up",
        "results": results,
    }
    for backend in args.backends:  # The report is rewritten after each backend.
        report["results"] += [] if args.smoke else measure_backend(backend, sizes, args)
        report["load_average_1min"] = {"start": round(load, 2), "end": round(os.getloadavg()[0], 2)}
        report["wall_seconds"] = round(time.time() - started, 1)
        (out / f"{report['stem']}.json").write_text(json.dumps(report, indent=2))
    plot(report, out)
    print_table(report)


if __name__ == "__main__":
    main()
