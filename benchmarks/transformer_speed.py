"""Issues 5 and 9, measured: Transformer training, inference and generation speed.

1. Layers. An encoder-decoder of `keras_seqattn.layers.TransformerEncoder` /
   `TransformerDecoder` blocks against the same model built from
   `keras_hub.layers.TransformerEncoder` / `TransformerDecoder` at the same
   settings (post-norm, ReLU, epsilon 1e-5, dropout 0, source padding mask,
   causal decoder). Both go through `Model.train_on_batch` (forward, backward,
   Adam update) and `Model.predict_on_batch` on one random batch, interleaved
   in one run; the report is the median time per step and the ratio
   ours / keras-hub (target: <= 1).
2. Generation. `TransformerSeq2Seq` with random weights decodes greedily to a
   fixed length with three loops: our engine with the key/value cache
   (`generate_ids`), the same engine over a decoder that recomputes the whole
   fixed-size target buffer at every step (the tutorials' way, without a
   cache), and `keras_hub.samplers.GreedySampler` driving our cached
   `decode_step`. The stop id is `-1`, which no step can emit, so every loop
   runs to `max_length`. One model per length, with `max_target_length` equal
   to it, so the cache and the recomputed buffer have the same size. The
   report is ms per generated token and the speedup of the cache (target: >= 5x
   at 128 tokens, per-token time flat in length).

    KERAS_BACKEND=jax python benchmarks/transformer_speed.py
    python benchmarks/transformer_speed.py --smoke      # seconds; CI runs this

Writes `benchmarks/results/transformer_speed_<backend>.json` and
`..._generation.png` (ms per token against length), and prints a table.
"""

import argparse
import json
import os
import pathlib
import platform
import statistics
import time

import keras
import keras_hub
import numpy as np
from keras import ops

from keras_seqattn import layers as seqattn_layers
from keras_seqattn.applications import TransformerSeq2Seq, transformer_seq2seq
from keras_seqattn.models.generator import Generator
from keras_seqattn.text import SPECIAL_TOKENS, SequenceTokenizer

RESULTS = pathlib.Path(__file__).resolve().parent / "results"


def stack_model(library, args):
    """Embeddings, `num_layers` encoder and decoder blocks of `library`, logits."""
    blocks = seqattn_layers if library == "keras_seqattn" else keras_hub.layers
    block = dict(
        num_heads=args.num_heads,
        intermediate_dim=args.intermediate_dim,
        dropout=0.0,
        activation="relu",
        layer_norm_epsilon=1e-5,
        normalize_first=False,
    )
    source = keras.Input((args.length,), dtype="int32", name="source_ids")
    target = keras.Input((args.length,), dtype="int32", name="target_ids")
    source_mask = ops.not_equal(source, 0)
    x = keras.layers.Embedding(args.vocabulary_size, args.hidden_dim, name="source_embedding")(
        source
    )
    for i in range(args.num_layers):
        x = blocks.TransformerEncoder(**block, name=f"encoder_layer_{i}")(
            x, padding_mask=source_mask
        )
    y = keras.layers.Embedding(args.vocabulary_size, args.hidden_dim, name="target_embedding")(
        target
    )
    for i in range(args.num_layers):
        y = blocks.TransformerDecoder(**block, name=f"decoder_layer_{i}")(
            y, x, encoder_padding_mask=source_mask
        )
    logits = keras.layers.Dense(args.vocabulary_size, name="logits")(y)
    model = keras.Model({"source_ids": source, "target_ids": target}, logits, name=library)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-4),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def interleaved(calls, repeats, steps):
    """Seconds per call of each of `calls`, run in turns (order flipped each turn).

    Returns `{name: [seconds per call in each turn]}`.
    """
    seconds = {name: [] for name in calls}
    for turn in range(repeats):
        for name in list(calls)[:: 1 if turn % 2 == 0 else -1]:
            start = time.perf_counter()
            for _ in range(steps):
                calls[name]()  # Returns NumPy, so the step has finished.
            seconds[name].append((time.perf_counter() - start) / steps)
    return seconds


def median_ratio(numerator, denominator):
    """The median over turns of each turn's `numerator / denominator`.

    A turn's runs are seconds apart, so their ratio cancels the slow changes of
    load (this machine is shared) that the medians of each keep.
    """
    return statistics.median(a / b for a, b in zip(numerator, denominator))


def layer_speed(args):
    keras.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    shape = (args.batch_size, args.length)
    source = rng.integers(1, args.vocabulary_size, shape).astype("int32")
    source[:, -args.length // 4 :] = 0  # Padding, so that the mask is used.
    inputs = {"source_ids": source, "target_ids": rng.integers(1, args.vocabulary_size, shape)}
    labels = rng.integers(1, args.vocabulary_size, shape)
    models = {library: stack_model(library, args) for library in ("keras_seqattn", "keras_hub")}
    params = {library: int(m.count_params()) for library, m in models.items()}
    if params["keras_seqattn"] != params["keras_hub"]:
        raise ValueError(f"The two stacks differ in size. Received: {params}")
    train = {k: (lambda m=m: m.train_on_batch(inputs, labels)) for k, m in models.items()}
    infer = {k: (lambda m=m: m.predict_on_batch(inputs)) for k, m in models.items()}
    warmups = 0 if args.smoke else 2  # The smoke run times its compilation instead.
    for call in [*train.values(), *infer.values()] * warmups:
        call()
    results = []
    for mode, calls, steps in [("train_step", train, args.train_steps), ("forward", infer, 3)]:
        seconds = interleaved(calls, args.repeats, steps)
        ours, hub = seconds["keras_seqattn"], seconds["keras_hub"]
        results.append(
            {
                "measure": mode,
                "ours_ms": round(1e3 * statistics.median(ours), 2),
                "keras_hub_ms": round(1e3 * statistics.median(hub), 2),
                "ratio_ours_over_keras_hub": round(median_ratio(ours, hub), 3),
                "turn_ratios": [round(a / b, 3) for a, b in zip(ours, hub)],
            }
        )
    jit_compile = models["keras_seqattn"].jit_compile  # What Keras chose for both.
    return {"parameters": params["keras_seqattn"], "jit_compile": jit_compile, "results": results}


class RecomputingDecoder(keras.layers.Layer):
    """`TransformerSeq2Seq`'s generation seam without a cache.

    The state is the fixed-size target buffer; each `decode_step` writes the new
    token at `index`, reruns the training graph's decoder over the whole buffer
    (causal, so the positions after `index` change nothing) and keeps position
    `index`. The source is encoded once, as in the cached loop.
    """

    def __init__(self, seq2seq, **kwargs):
        super().__init__(**kwargs)
        self.seq2seq = seq2seq
        # The training graph's own pieces, so this decoder is exactly the model's.
        self._parts = seq2seq._layers_by_role
        self.built = True

    def encode(self, source_ids):
        source_ids = ops.convert_to_tensor(source_ids, dtype="int32")
        source_mask = ops.not_equal(source_ids, 0)
        encoded = transformer_seq2seq.run_encoder(self._parts, source_ids, source_mask)
        batch = ops.shape(source_ids)[0]
        buffer = ops.zeros((batch, self.seq2seq.max_target_length), dtype="int32")
        return (encoded, source_mask), (buffer,)

    def decode_step(self, token_ids, state, memory, index):
        encoded, source_mask = memory
        length = state[0].shape[1]
        at_index = ops.equal(ops.arange(length, dtype="int32"), index)[None, :]  # (1, L)
        token_ids = ops.cast(token_ids, "int32")[:, None]  # (B, 1)
        buffer = ops.where(at_index, token_ids, state[0])  # (B, L)
        x = transformer_seq2seq.embed_tokens(self._parts, "target", buffer)  # (B, L, D)
        for block in self.seq2seq.decoder_layers:
            x = block(x, encoded, encoder_padding_mask=source_mask)
        x = ops.expand_dims(ops.take(x, index, axis=1), 1)  # (B, 1, D)
        logits = transformer_seq2seq.decoder_logits(self._parts, x)[:, 0]  # (B, V)
        return logits, (buffer,), ops.zeros((ops.shape(buffer)[0], 0))


class HubGreedy(keras.Model):
    """`keras_hub.samplers.GreedySampler` driving `TransformerSeq2Seq.decode_step`.

    `predict_on_batch(source_ids)` returns the `max_length` generated ids; Keras
    compiles it as it compiles our `Generator`.
    """

    def __init__(self, seq2seq, max_length, start_id, **kwargs):
        super().__init__(**kwargs)
        self.seq2seq = seq2seq
        self.max_length = max_length
        self.start_id = start_id
        self.sampler = keras_hub.samplers.GreedySampler()
        self.built = True

    def call(self, source_ids):
        memory, state = self.seq2seq.encode(source_ids)
        batch = ops.shape(source_ids)[0]
        start = ops.full((batch, 1), self.start_id, dtype="int32")
        prompt = ops.concatenate(
            [start, ops.zeros((batch, self.max_length), dtype="int32")], axis=1
        )  # (B, 1 + max_length)

        def next(prompt, cache, index):
            # The sampler fills `prompt[:, index]`: feed the token before it.
            token_ids = ops.take(prompt, index - 1, axis=1)  # (B,)
            logits, cache, _ = self.seq2seq.decode_step(token_ids, cache, memory, index - 1)
            return logits, None, cache

        ids = self.sampler(next, prompt, cache=state, index=1, model=self.seq2seq)
        return ids[:, 1:]


def generation_loops(model, source, length, start_id, stop_id):
    """The three greedy loops, each a call that returns `(batch, length)` ids."""
    recompute = Generator(RecomputingDecoder(model), length, start_id, stop_id)
    hub = HubGreedy(model, length, start_id)
    return {
        "cached": lambda: model.generate_ids(source, length, start_id, stop_id).ids,
        "recompute": lambda: recompute.predict_on_batch(source)["ids"],
        "keras_hub_sampler": lambda: hub.predict_on_batch(source),
    }


def generation_speed(args):
    vocabulary = list(SPECIAL_TOKENS) + [f"w{i}" for i in range(args.vocabulary_size - 4)]
    tokenizer = SequenceTokenizer(vocabulary)
    start_id, stop_id = tokenizer.start_id, -1  # No step emits -1: every loop runs to the end.
    rng = np.random.default_rng(args.seed)
    source = rng.integers(4, args.vocabulary_size, (args.generation_batch, args.source_length))
    source = source.astype("int32")
    sizes = dict(transformer_seq2seq.CONFIGS[args.generation_config], dropout=0.0)
    if args.smoke:
        sizes.update(hidden_dim=16, num_layers=1, num_heads=2, intermediate_dim=32)
    rows = []
    for length in args.lengths:
        keras.utils.set_random_seed(args.seed)
        model = TransformerSeq2Seq(
            tokenizer,
            tokenizer,
            max_source_length=args.source_length,
            max_target_length=length,
            **sizes,
        )
        loops = generation_loops(model, source, length, start_id, stop_id)
        ids = {name: np.asarray(loop()) for name, loop in loops.items()}  # Compiles.
        seconds = interleaved(loops, args.generation_repeats, 1)
        row = {"tokens": length, "batch_size": args.generation_batch}
        for name in loops:
            row[f"{name}_ms_per_token"] = round(1e3 * statistics.median(seconds[name]) / length, 3)
        for name in ("recompute", "keras_hub_sampler"):
            speedup = median_ratio(seconds[name], seconds["cached"])
            row[f"{name}_speedup_of_cache"] = round(speedup, 2)
            row[f"{name}_ids_match_cached"] = round(float(np.mean(ids[name] == ids["cached"])), 3)
        rows.append(row)
        print(json.dumps(row), flush=True)
    return {"parameters": int(model.count_params()), "sizes": sizes, "results": rows}


def plot_generation(rows, backend, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    lengths = [row["tokens"] for row in rows]
    for name, label in [
        ("cached", "our cache (generate_ids)"),
        ("keras_hub_sampler", "keras-hub GreedySampler + our cache"),
        ("recompute", "recompute the prefix every step"),
    ]:
        axes.plot(lengths, [row[f"{name}_ms_per_token"] for row in rows], "o-", label=label)
    axes.set_xscale("log", base=2)
    axes.set_yscale("log")
    axes.set_xticks(lengths, [str(n) for n in lengths])
    axes.set_xlabel("generated tokens")
    axes.set_ylabel("ms per token")
    axes.set_title(f"TransformerSeq2Seq greedy decoding, {backend}, batch {rows[0]['batch_size']}")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden-dim", type=int, default=256)
    parser.add_argument("--num-heads", type=int, default=4)
    parser.add_argument("--intermediate-dim", type=int, default=1024)
    parser.add_argument("--num-layers", type=int, default=2, help="encoder and decoder blocks")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--length", type=int, default=64, help="source and target length")
    parser.add_argument("--vocabulary-size", type=int, default=1000)
    parser.add_argument("--train-steps", type=int, default=1, help="steps per timed turn")
    parser.add_argument("--repeats", type=int, default=7, help="timed turns per layer measure")
    parser.add_argument("--generation-config", default="transformer_small")
    parser.add_argument("--generation-batch", type=int, default=1)
    parser.add_argument("--source-length", type=int, default=32)
    parser.add_argument("--lengths", type=int, nargs="+", default=[32, 64, 128, 256])
    parser.add_argument("--generation-repeats", type=int, default=5, help="timed turns per length")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="tiny run: checks the script only")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    if args.smoke:
        args.hidden_dim, args.num_heads, args.intermediate_dim, args.num_layers = 16, 2, 32, 1
        args.batch_size, args.length, args.vocabulary_size, args.source_length = 2, 8, 50, 6
        args.train_steps, args.repeats, args.generation_repeats, args.lengths = 1, 1, 1, [4, 8]

    backend = keras.backend.backend()
    load = os.getloadavg()[0]
    layers = layer_speed(args)
    for row in layers["results"]:
        print(json.dumps(row), flush=True)
    generation = generation_speed(args)

    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"transformer_speed_{backend}" + ("_smoke" if args.smoke else "")
    plot_generation(generation["results"], backend, out / f"{stem}_generation.png")
    backend_module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[backend]
    report = {
        "benchmark": "transformer_speed",
        "backend": backend,
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "load_average_1min": {"start": round(load, 2), "end": round(os.getloadavg()[0], 2)},
        "versions": {
            "keras": keras.__version__,
            "keras_hub": keras_hub.__version__,
            backend_module: __import__(backend_module).__version__,
        },
        "settings": {k: v for k, v in vars(args).items() if k != "out"},
        "layers": layers,
        "generation": generation,
    }
    (out / f"{stem}.json").write_text(json.dumps(report, indent=2))

    print(f"\nlayers ({layers['parameters']} parameters), ms per step, median:")
    print(f"{'measure':<14}{'ours':>10}{'keras-hub':>12}{'ratio':>8}")
    for r in layers["results"]:
        print(
            f"{r['measure']:<14}{r['ours_ms']:>10}{r['keras_hub_ms']:>12}"
            f"{r['ratio_ours_over_keras_hub']:>8}"
        )
    print(f"\ngreedy generation, batch {args.generation_batch}, ms per token, median:")
    header = ("cached", 10), ("recompute", 11), ("speedup", 9), ("hub sampler", 13)
    print(f"{'tokens':<8}" + "".join(f"{title:>{width}}" for title, width in header))
    for r in generation["results"]:
        print(
            f"{r['tokens']:<8}{r['cached_ms_per_token']:>10}{r['recompute_ms_per_token']:>11}"
            f"{r['recompute_speedup_of_cache']:>9}{r['keras_hub_sampler_ms_per_token']:>13}"
        )


if __name__ == "__main__":
    main()
