"""Issue 19, the GPU path: training and generation throughput on an accelerator.

For each backend, in its own process (`KERAS_BACKEND` set), and for each
precision policy (`--policies`) and compilation setting (`--jit`: XLA on TF,
`jax.jit`, `torch.compile` when on; `tf.function`, eager JAX, eager torch off):

- train-step time and examples/s of `TransformerSeq2Seq` (`transformer_base`,
  batch 64 of 64 source and 64 target tokens), `TransformerCaptioner`
  (`transformer_captioner_base` at 224x224x3, captions of 32), ViT-B/16 at
  224x224 (1000 classes) and `AttentionSeq2Seq` (GRU 512), each with synthetic
  inputs of those shapes (the speed of a step does not depend on the data);
- greedy generation of `transformer_base` with its key/value cache, ms per
  generated token for a batch of 32;
- the measured matmul peak of the device in the same process (square
  matrices, float32 and the policy's half type), and each step's achieved
  fraction of it. A step's FLOPs are XLA's count of the jitted JAX train step
  (`machine_efficiency.xla_flops`, which also counts elementwise work), so the
  fractions need `jax` among `--backends`; the same model and batch are then
  the same arithmetic on every backend.

On a GPU machine (install `jax[cuda12]`, `tensorflow[and-cuda]` and a CUDA
torch beside the package):

    python benchmarks/gpu.py                                  # everything, ~10 min on an H100
    python benchmarks/gpu.py --backends jax --policies mixed_bfloat16
    python benchmarks/gpu.py --smoke     # tiny sizes on the current backend: checks the script

Writes `benchmarks/results/gpu.json` (`gpu_smoke.json`), with the device each
backend saw, and prints a table.
"""

import argparse
import json
import os
import pathlib
import platform
import statistics
import time

from machine_efficiency import compiled, finished, run_backend, xla_flops

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
BACKENDS = ("tensorflow", "jax", "torch")
MODELS = ("TransformerSeq2Seq", "TransformerCaptioner", "VisionTransformer", "AttentionSeq2Seq")
FULL = dict(
    batch_size=64, length=64, caption_length=32, image_size=224, vocabulary_size=32000,
    generate_batch=32, seq2seq="transformer_base", captioner="transformer_captioner_base",
    vit="vit_b16", rnn=dict(embedding_dim=512, hidden_dim=512),
)  # fmt: skip
SMOKE = dict(
    batch_size=4, length=8, caption_length=6, image_size=32, vocabulary_size=60,
    generate_batch=2, seq2seq=dict(hidden_dim=16, num_layers=1, num_heads=2, intermediate_dim=32),
    captioner=dict(patch_size=8, hidden_dim=16, num_encoder_layers=1, num_decoder_layers=1,
                   num_heads=2, intermediate_dim=32),
    vit=dict(image_size=32, patch_size=8, hidden_dim=16, num_layers=1, num_heads=2, mlp_dim=32),
    rnn=dict(embedding_dim=8, hidden_dim=16),
)  # fmt: skip
# --smoke builds each model once, under one of the two policies: every model
# shares the code of a policy, and Keras declines XLA for AttentionSeq2Seq on
# TensorFlow (its scan), which runs then as it would under any policy.
SMOKE_POLICY = {
    "TransformerSeq2Seq": "mixed_bfloat16",  # with its generation
    "TransformerCaptioner": "float32",
    "VisionTransformer": "mixed_bfloat16",
    "AttentionSeq2Seq": "float32",
}


def device():
    """What this backend computes on, in words."""
    import keras

    devices = keras.distribution.list_devices()
    if keras.backend.backend() == "torch":
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
    elif keras.backend.backend() == "jax":
        import jax

        return jax.devices()[0].device_kind
    return f"{devices[0]} ({len(devices)} devices)"


def _sizes(config, names):
    return names[config] if isinstance(config, str) else config


def build(name, s, policy, jit):
    """`(model, batch)` of application `name` under `policy`, compiled with `jit`."""
    import keras
    import numpy as np

    from keras_seqattn import applications
    from keras_seqattn.applications import transformer_captioner, transformer_seq2seq
    from keras_seqattn.text import SPECIAL_TOKENS, SequenceTokenizer

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(s["vocabulary_size"] - len(SPECIAL_TOKENS))]
    tokenizer = SequenceTokenizer(list(SPECIAL_TOKENS) + words)
    b, t = s["batch_size"], s["length"]
    ids = lambda length: rng.integers(4, s["vocabulary_size"], (b, length))  # noqa: E731
    images = rng.integers(0, 256, (b, s["image_size"], s["image_size"], 3)).astype("float32")
    if name == "VisionTransformer":
        vit = s["vit"]
        model = (
            applications.VisionTransformer.from_config_name(vit, num_classes=1000, dtype=policy)
            if isinstance(vit, str)
            else applications.VisionTransformer(
                num_classes=1000, num_channels=3, dtype=policy, **vit
            )
        )
        model.compile(
            optimizer=keras.optimizers.AdamW(1e-4),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            jit_compile=jit,
        )
        return model, (images, rng.integers(0, 1000, b))
    if name == "TransformerCaptioner":
        sizes = _sizes(s["captioner"], transformer_captioner.CONFIGS)
        model = applications.TransformerCaptioner(
            tokenizer, image_size=(s["image_size"],) * 2, num_channels=3,
            max_caption_length=s["caption_length"], dtype=policy, **sizes,
        )  # fmt: skip
        batch = (
            {"images": images, "target_ids": ids(s["caption_length"])},
            ids(s["caption_length"]),
        )
    else:
        sizes = (
            _sizes(s["seq2seq"], transformer_seq2seq.CONFIGS)
            if name == "TransformerSeq2Seq"
            else s["rnn"]
        )
        model = getattr(applications, name)(
            tokenizer, tokenizer, max_source_length=t, max_target_length=t, dtype=policy, **sizes
        )
        batch = ({"source_ids": ids(t), "target_ids": ids(t)}, ids(t))
    model.compile(optimizer=keras.optimizers.Adam(1e-4), jit_compile=jit)
    return model, batch


def matmul_peak(policy, n):
    """GFLOP/s of an `n x n` matmul in the policy's compute dtype, compiled."""
    import keras
    from keras import ops

    dtype = keras.DTypePolicy(policy).compute_dtype
    a = ops.cast(keras.random.normal((n, n)), dtype)
    b = ops.cast(keras.random.normal((n, n)), dtype)
    f = compiled(ops.matmul)
    finished(f(a, b))
    seconds = timed(lambda: finished(f(a, b)), 10)
    return round(2 * n**3 / seconds / 1e9, 1)


def timed(call, repeats):
    """The median seconds of `repeats` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(args):
    """One backend's report; runs in the worker process."""
    import keras

    s = SMOKE if args.smoke else FULL
    backend = keras.backend.backend()
    report = {"backend": backend, "version": __import__(backend).__version__, "device": device()}
    report["matmul_peak_gflops"] = {p: matmul_peak(p, args.matmul_size) for p in args.policies}
    rows = []
    for name in MODELS:
        for policy in [SMOKE_POLICY[name]] if args.smoke else args.policies:
            for jit in args.jit:
                row = {"model": name, "policy": policy, "jit_compile": jit}
                try:
                    model, batch = build(name, s, policy, jit)
                    step = lambda: float(keras.tree.flatten(model.train_on_batch(*batch))[0])  # noqa
                    start = time.perf_counter()
                    for _ in range(args.warmup):
                        step()
                    row["warmup_s"] = round(time.perf_counter() - start, 2)
                    seconds = timed(step, args.steps)
                    row["step_ms"] = round(1e3 * seconds, 2)
                    row["examples_per_s"] = round(s["batch_size"] / seconds, 1)
                    row["parameters"] = int(model.count_params())
                    row["jit_compile_used"] = model.jit_compile  # Keras may decline XLA
                    if backend == "jax" and jit:
                        row["flops"] = xla_flops(model, batch)["train_step"]
                    if name == "TransformerSeq2Seq":
                        row.update(generation(model, batch, s, args))
                except Exception as error:  # A setting a backend lacks is a result too.
                    row["error"] = (
                        f"{type(error).__name__}: {str(error).strip().splitlines()[0][:300]}"
                    )
                rows.append(row)
                print(json.dumps(row), flush=True)
    report["rows"] = rows
    return report


def generation(model, batch, s, args):
    """ms per generated token of greedy search with the cache, `generate_batch` inputs."""
    source = batch[0]["source_ids"][: s["generate_batch"]]  # (n, length)
    length = s["length"]
    tokenizer = model.target_tokenizer
    # Random weights rarely emit [STOP]: the time is that of `length` steps, or an
    # overestimate per token where every row stopped earlier.
    call = lambda: model.generate_ids(source, length, tokenizer.start_id, tokenizer.stop_id)  # noqa: E731
    call()  # Compiles.
    seconds = timed(call, max(2, args.steps // 3))
    return {"generate_ms_per_token": round(1e3 * seconds / length, 3)}


def fill_fractions(results):
    """Each row's share of its backend's matmul peak, from JAX's FLOP count of the same step."""
    flops = {
        (r["model"], r["policy"]): r["flops"]
        for report in results
        for r in report.get("rows", [])
        if "flops" in r
    }
    for report in results:
        for r in report.get("rows", []):
            count = flops.get((r["model"], r["policy"]))
            peak = report["matmul_peak_gflops"].get(r["policy"])
            if count and "step_ms" in r and peak:
                r["fraction_of_peak"] = round(count / (r["step_ms"] / 1e3) / 1e9 / peak, 3)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument(
        "--policies", nargs="+", default=["float32", "mixed_float16", "mixed_bfloat16"]
    )
    parser.add_argument("--jit", nargs="+", default=["on", "off"], choices=["on", "off"])
    parser.add_argument("--steps", type=int, default=10, help="timed train steps")
    parser.add_argument("--warmup", type=int, default=3, help="steps before timing")
    parser.add_argument("--matmul-size", type=int, default=8192)
    parser.add_argument("--timeout", type=int, default=1200, help="seconds per backend")
    parser.add_argument("--smoke", action="store_true", help="tiny run: checks the script only")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: one backend's report
    args = parser.parse_args()
    args.jit = [j == "on" for j in args.jit]
    if args.smoke:
        args.backends = [os.environ.get("KERAS_BACKEND", "tensorflow")]
        args.policies, args.jit, args.steps, args.warmup = (
            ["float32", "mixed_bfloat16"],
            [True],
            2,
            1,
        )
        args.matmul_size = 128
    if args.worker:
        pathlib.Path(args.worker).write_text(json.dumps(measure(args)))
        return
    import sys

    results = [run_backend(b, sys.argv[1:], args.timeout, __file__) for b in args.backends]
    fill_fractions(results)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = {
        "benchmark": "gpu",
        "date": time.strftime("%Y-%m-%d"),
        "host": f"{platform.machine()}, {os.cpu_count()} cores",
        "settings": {k: v for k, v in vars(args).items() if k not in ("out", "worker")},
        "sizes": SMOKE if args.smoke else FULL,
        "results": results,
    }
    (out / ("gpu_smoke.json" if args.smoke else "gpu.json")).write_text(
        json.dumps(report, indent=2)
    )
    print(f"\n{'backend':<11}{'model':<22}{'policy':<16}{'jit':<6}{'step ms':>9}{'ex/s':>9}"
          f"{'of peak':>9}{'gen ms/tok':>11}")  # fmt: skip
    for result in results:
        if "error" in result:
            print(f"{result['backend']:<11}error: {result['error'][-300:]}")
            continue
        print(f"{result['backend']}: {result['device']}")
        for r in result["rows"]:
            if "error" in r:
                print(
                    f"{'':<11}{r['model']:<22}{r['policy']:<16}{r['jit_compile']!s:<6}{r['error']}"
                )
                continue
            fraction = f"{r['fraction_of_peak']:.1%}" if "fraction_of_peak" in r else "-"
            print(
                f"{'':<11}{r['model']:<22}{r['policy']:<16}{r['jit_compile']!s:<6}"
                f"{r['step_ms']:>9}{r['examples_per_s']:>9}{fraction:>9}"
                f"{r.get('generate_ms_per_token', '-')!s:>11}"
            )


if __name__ == "__main__":
    main()
