"""Issue 9, item 4, measured: Transformer training against the machine's matmul peak.

Per backend, each in its own process (`KERAS_BACKEND` set):

1. Peak. `keras.ops.matmul` of square float32 matrices (`--sizes`), compiled
   where the backend allows (`jax.jit`; `tf.function` with and without XLA;
   torch eager); the best GFLOP/s is the machine's peak.
2. Model FLOPs. A `TransformerSeq2Seq` training step (post-norm, tied output
   embedding) counted analytically from `matmul_shapes()`: `2*m*k*n` for every
   projection, MLP, `QK^T`, `AV` and the output logits, times 3 for forward and
   backward. On JAX the count is checked against XLA's own
   (`jit(...).lower(...).compile().cost_analysis()["flops"]`, which also counts
   elementwise work: softmax, norms, Adam).
3. Achieved. `train_on_batch` (Adam, compiled as Keras's `jit_compile="auto"`
   decides: XLA on JAX, no XLA on a CPU-only TensorFlow, eager torch) gives
   GFLOP/s and the fraction of the peak (issue target: >= 40% on the best
   backend). The machine is shared, so every measure runs in turns with the
   others after two warm-up rounds, and the fraction is the median over turns
   of the step's GFLOP/s over an n >= `--reference-size` matmul's. Where the
   time goes: `predict_on_batch` alone, the model's matmuls alone (same
   shapes, compiled), the step without dropout, with SGD instead of Adam, and
   with the compilation setting flipped (`train_step_variants`).

    python benchmarks/machine_efficiency.py                       # all three backends
    python benchmarks/machine_efficiency.py --backends jax tensorflow
    python benchmarks/machine_efficiency.py --smoke      # seconds; current backend only

Writes `benchmarks/results/machine_efficiency.json` and `..._gflops.png`, and
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

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
BACKENDS = ("tensorflow", "jax", "torch")


def matmul_shapes(c):
    """Every matmul of one `TransformerSeq2Seq` forward pass: `(name, count, batch, m, k, n)`.

    `c` holds `batch_size`, `length` (source and target), `hidden_dim`,
    `num_heads`, `intermediate_dim`, `num_layers` and `vocabulary_size`.
    """
    b, t, d, h = c["batch_size"], c["length"], c["hidden_dim"], c["num_heads"]
    f, n, v, k = c["intermediate_dim"], c["num_layers"], c["vocabulary_size"], d // h
    rows = b * t  # every token of the batch
    attention = [("scores QK^T", n, b * h, t, k, t), ("context AV", n, b * h, t, t, k)]
    mlp = [("mlp in", n, 1, rows, d, f), ("mlp out", n, 1, rows, f, d)]
    return [
        ("encoder q,k,v,o", 4 * n, 1, rows, d, d),
        *[("encoder " + s[0], *s[1:]) for s in attention + mlp],
        ("decoder self q,k,v,o", 4 * n, 1, rows, d, d),
        *[("decoder self " + s[0], *s[1:]) for s in attention],
        ("decoder cross q,o", 2 * n, 1, rows, d, d),
        ("decoder cross k,v", 2 * n, 1, rows, d, d),  # over the source
        *[("decoder cross " + s[0], *s[1:]) for s in attention],
        *[("decoder " + s[0], *s[1:]) for s in mlp],
        ("logits (tied embedding)", 1, 1, rows, d, v),
    ]


def forward_flops(c):
    return sum(2 * count * batch * m * k * n for _, count, batch, m, k, n in matmul_shapes(c))


def compiled(fn, jit=True):
    """`fn` compiled the way Keras would: `jax.jit`, XLA `tf.function`; torch eager."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax" and jit:
        import jax

        return jax.jit(fn)
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, jit_compile=jit)
    return fn


def finished(outputs):
    """Waits for `outputs` (JAX dispatches asynchronously; TF and torch on CPU do not)."""
    import keras

    if keras.backend.backend() == "jax":
        import jax

        jax.block_until_ready(outputs)
    return outputs


def interleaved(calls, repeats):
    """Seconds of each of `calls` in each of `repeats` turns (order flipped each turn).

    This machine is shared: calls seconds apart see the same load, so ratios
    taken within a turn cancel the slow changes of load that medians keep.
    """
    seconds = {name: [] for name in calls}
    for turn in range(repeats):
        for name in list(calls)[:: 1 if turn % 2 == 0 else -1]:
            start = time.perf_counter()
            calls[name]()
            seconds[name].append(time.perf_counter() - start)
    return seconds


def matmul_peak(args):
    """The best `(GFLOP/s, n, jit)` over `args.sizes`, and every size's row."""
    import keras
    from keras import ops

    jits = {"tensorflow": [True, False], "jax": [True], "torch": [False]}[keras.backend.backend()]
    rows = []
    for n in args.sizes:
        a, b = keras.random.normal((n, n)), keras.random.normal((n, n))
        calls = {jit: _matmul_call(compiled(ops.matmul, jit), a, b) for jit in jits}
        for call in calls.values():
            call()  # Compiles.
        for jit, seconds in interleaved(calls, args.repeats).items():
            seconds = statistics.median(seconds)
            rows.append({"n": n, "jit": jit, "ms": round(1e3 * seconds, 2)})
            rows[-1]["gflops"] = round(2 * n**3 / seconds / 1e9, 1)
    return max(rows, key=_gflops), rows


def _gflops(row):
    return row["gflops"]


def _matmul_call(f, a, b):
    return lambda: finished(f(a, b))


def model_matmuls(c):
    """The forward pass's matmuls alone, compiled, at the model's shapes: a call."""
    import keras
    from keras import ops

    # Distinct operands for every matmul: XLA would merge repeats of the same one.
    operands = [
        (keras.random.normal((batch, m, k)), keras.random.normal((batch, k, n)))
        for _, count, batch, m, k, n in matmul_shapes(c)
        for _ in range(count)
    ]

    def matmuls(operands):  # An argument: `jax.jit` would fold captured arrays as constants.
        return [ops.matmul(a, b) for a, b in operands]

    f = compiled(matmuls)
    return lambda: finished(f(operands))


def seq2seq(c, dropout, optimizer, jit_compile):
    import keras

    from keras_seqattn.applications import TransformerSeq2Seq
    from keras_seqattn.text import SPECIAL_TOKENS, SequenceTokenizer

    words = [f"w{i}" for i in range(c["vocabulary_size"] - len(SPECIAL_TOKENS))]
    tokenizer = SequenceTokenizer(list(SPECIAL_TOKENS) + words)
    keras.utils.set_random_seed(0)
    model = TransformerSeq2Seq(
        tokenizer,
        tokenizer,
        **{k: c[k] for k in ("hidden_dim", "num_layers", "num_heads", "intermediate_dim")},
        dropout=dropout,
        max_source_length=c["length"],
        max_target_length=c["length"],
    )
    optimizer = keras.optimizers.Adam(1e-4) if optimizer == "adam" else keras.optimizers.SGD(1e-3)
    model.compile(optimizer=optimizer, jit_compile=jit_compile)
    return model


def xla_flops(model, batch):
    """XLA's count for the jitted JAX train step and forward pass (call after a step)."""
    import jax

    def count(f, *operands):
        cost = jax.jit(f).lower(*operands).compile().cost_analysis()
        return float((cost[0] if isinstance(cost, list) else cost)["flops"])

    state = model._get_jax_state(True, True, True, True)  # What `fit` passes its step.
    train = count(model.train_step, state, (*batch, None))

    def forward(trainable, non_trainable, inputs):
        return model.stateless_call(trainable, non_trainable, inputs)[0]

    return {"train_step": train, "forward": count(forward, state[0], state[1], batch[0])}


def measure(args):
    """One backend's report; runs in the worker process."""
    import keras
    import numpy as np

    backend = keras.backend.backend()
    c = {k: getattr(args, k) for k in CONFIG_KEYS}
    best, peak_rows = matmul_peak(args)
    rng = np.random.default_rng(0)
    ids = lambda: rng.integers(4, c["vocabulary_size"], (c["batch_size"], c["length"]))  # noqa
    batch = ({"source_ids": ids(), "target_ids": ids()}, ids())
    # Keras's "auto": XLA on JAX and on TF with an accelerator; eager torch, TF graph on CPU.
    models = {"train_step": seq2seq(c, args.dropout, "adam", "auto")}
    jit = models["train_step"].jit_compile
    models["train_step_sgd"] = seq2seq(c, args.dropout, "sgd", jit)
    if backend != "torch":  # torch.compile is timed by backend_throughput.py.
        models[f"train_step_jit_compile_{not jit}"] = seq2seq(c, args.dropout, "adam", not jit)
    if args.dropout:
        models["train_step_no_dropout"] = seq2seq(c, 0.0, "adam", jit)
    # The peak's reference in the turns: a size whose time is long enough to see the load.
    reference = max((r for r in peak_rows if r["n"] >= args.reference_size), key=_gflops)
    n = reference["n"]
    a, b = keras.random.normal((n, n)), keras.random.normal((n, n))
    calls = {"peak_matmul": _matmul_call(compiled(keras.ops.matmul, reference["jit"]), a, b)}
    calls.update({name: _train_call(model, batch) for name, model in models.items()})
    calls["forward"] = lambda: models["train_step"].predict_on_batch(batch[0])
    calls["forward_matmuls_alone"] = model_matmuls(c)
    for call in [*calls.values()] * 2:
        call()  # Compiles and warms up.
    flops = {"train_step_formula": 3 * forward_flops(c), "forward_formula": forward_flops(c)}
    if backend == "jax":
        flops["xla_cost_analysis"] = xla_flops(models["train_step"], batch)
    seconds = interleaved(calls, args.repeats)
    # Per turn: achieved GFLOP/s over the peak matmul's GFLOP/s a moment apart.
    fractions = [
        flops["train_step_formula"] / step / (2 * n**3 / peak)
        for step, peak in zip(seconds["train_step"], seconds["peak_matmul"])
    ]
    ms = {f"{name}_ms": round(1e3 * statistics.median(s), 1) for name, s in seconds.items()}
    step = statistics.median(seconds["train_step"])
    matmul_s = statistics.median(seconds["forward_matmuls_alone"])
    return {
        "backend": backend,
        "version": __import__(backend).__version__,
        "jit_compile": jit,
        "parameters": int(models["train_step"].count_params()),
        "peak_gflops": best["gflops"],
        "peak_reference": {k: reference[k] for k in ("n", "jit")},
        "matmul_peak": peak_rows,
        "flops": flops,
        "model_matmuls_gflops": round(flops["forward_formula"] / matmul_s / 1e9, 1),
        "train_step_gflops": round(flops["train_step_formula"] / step / 1e9, 1),
        "fraction_of_peak": round(statistics.median(fractions), 3),
        "turn_fractions": [round(f, 3) for f in fractions],
        "profile": ms,
    }


def _train_call(model, batch):
    return lambda: model.train_on_batch(*batch)


def variant_rates(result):
    """GFLOP/s and fraction of the peak (timed in the same turns) of each train-step variant."""
    peak = 2 * result["peak_reference"]["n"] ** 3 / result["profile"]["peak_matmul_ms"] / 1e6
    rates = {}
    for name, ms in result["profile"].items():
        if name.startswith("train_step"):
            gflops = result["flops"]["train_step_formula"] / ms / 1e6
            rates[name[: -len("_ms")]] = {
                "gflops": round(gflops, 1),
                "of_peak": round(gflops / peak, 3),
            }
    return rates


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    bars = [("peak_gflops", "square matmul peak"), ("model_matmuls_gflops", "model's matmuls")]
    bars.append(("train_step_gflops", "train step (model FLOPs)"))
    width = 0.8 / len(bars)
    for i, (key, label) in enumerate(bars):
        xs = [j + i * width for j in range(len(results))]
        axes.bar(xs, [r[key] for r in results], width, label=label)
    axes.set_xticks([j + width for j in range(len(results))], [r["backend"] for r in results])
    axes.set_ylabel("GFLOP/s (float32)")
    axes.set_title("TransformerSeq2Seq training against the machine")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def run_backend(backend, worker_args, timeout, script=__file__):
    """Runs `script` (this one) as a worker under `KERAS_BACKEND=backend`; its report or error."""
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "report.json"
        command = [sys.executable, script, *worker_args, "--worker", str(path)]
        env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
        start = time.perf_counter()
        try:
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"backend": backend, "error": f"timed out after {timeout} s"}
        if done.returncode != 0:
            return {"backend": backend, "error": done.stderr[-2000:]}
        report = json.loads(path.read_text())
        report["wall_seconds"] = round(time.perf_counter() - start, 1)
        return report


CONFIG_KEYS = "batch_size length hidden_dim num_heads intermediate_dim num_layers vocabulary_size"
CONFIG_KEYS = CONFIG_KEYS.split()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 2048, 4096])
    parser.add_argument(
        "--reference-size", type=int, default=2048, help="least n of the peak timed in turns"
    )
    parser.add_argument("--hidden-dim", type=int, default=512)
    parser.add_argument("--num-heads", type=int, default=8)
    parser.add_argument("--intermediate-dim", type=int, default=2048)
    parser.add_argument("--num-layers", type=int, default=2, help="encoder and decoder blocks")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--length", type=int, default=64, help="source and target length")
    parser.add_argument("--vocabulary-size", type=int, default=8000)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per measure")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per backend")
    parser.add_argument("--smoke", action="store_true", help="tiny run: checks the script only")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: one backend's report
    args = parser.parse_args()
    if args.smoke:
        args.sizes, args.repeats, args.vocabulary_size, args.dropout = [64, 128], 2, 50, 0.0
        args.reference_size = 128
        args.hidden_dim, args.num_heads, args.intermediate_dim, args.num_layers = 16, 2, 32, 1
        args.batch_size, args.length = 2, 8
        args.backends = [os.environ.get("KERAS_BACKEND", "tensorflow")]
    if args.worker:
        pathlib.Path(args.worker).write_text(json.dumps(measure(args)))
        return

    load = os.getloadavg()[0]
    worker_args = sys.argv[1:]
    results = []
    for backend in args.backends:
        results.append(run_backend(backend, worker_args, args.timeout))
        if "error" not in results[-1]:
            results[-1]["train_step_variants"] = variant_rates(results[-1])
        print(json.dumps(results[-1]), flush=True)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "machine_efficiency" + ("_smoke" if args.smoke else "")
    measured = [r for r in results if "error" not in r]
    if measured:
        plot(measured, out / f"{stem}_gflops.png")
    config = {k: getattr(args, k) for k in CONFIG_KEYS}
    report = {
        "benchmark": "machine_efficiency",
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "load_average_1min": {"start": round(load, 2), "end": round(os.getloadavg()[0], 2)},
        "settings": {k: v for k, v in vars(args).items() if k not in ("out", "worker")},
        "matmuls": [
            dict(zip(("name", "count", "batch", "m", "k", "n"), s)) for s in matmul_shapes(config)
        ],
        "results": results,
    }
    (out / f"{stem}.json").write_text(json.dumps(report, indent=2))
    header = ("peak GF/s", 11), ("matmuls GF/s", 14), ("step ms", 10), ("step GF/s", 11)
    print(f"\n{'backend':<12}" + "".join(f"{t:>{w}}" for t, w in header) + f"{'of peak':>9}")
    for r in measured:
        print(
            f"{r['backend']:<12}{r['peak_gflops']:>11}{r['model_matmuls_gflops']:>14}"
            f"{r['profile']['train_step_ms']:>10}{r['train_step_gflops']:>11}"
            f"{r['fraction_of_peak']:>9.1%}"
        )


if __name__ == "__main__":
    main()
