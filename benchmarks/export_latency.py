"""Issue 7, measured: latency, size and quantisation loss of the exported models.

One small model per application, trained for `--train-seconds` so that its
outputs have realistic lengths: `VisionTransformer` (`vit_tiny_digits`, on
`digits`), `AttentionSeq2Seq` and `TransformerSeq2Seq` (character tokens, on
`date_normalization`), `AttentionCaptioner` and `TransformerCaptioner` (on
`digit_scenes`). Each is exported by `keras_seqattn.export.export_model` with
TFLite float32, float16 and dynamic-range (int8 weights), and the latency of
one request of batch 1 and of batch 32 is timed (median over the requests,
after one untimed pass over them) for:

- `keras`: the model's own `translate` / `caption` (tokenisation and
  detokenisation included), or `predict_on_batch` + softmax for the ViT (the
  call `translate` and `caption` make inside; `predict` adds a data pipeline
  per call);
- `saved_model`: its `serving_default` signature, loaded in this process by
  `tf.saved_model.load` (strings in for translation, float images otherwise);
- `tflite_float32`, `tflite_float16`, `tflite_dynamic`: the `ai_edge_litert`
  interpreter's signature runner on token ids or images (tokenisation on the
  client, not timed). The `.tflite` models take batch 1, so a batch-32 request
  is 32 sequential invokes.

On `--examples` fixed test inputs it reports how each export agrees with Keras:
the share of rows with identical greedy tokens and the share of identical tokens
(generators), or top-1 agreement and the largest probability difference (ViT);
and the size of each file.

    python benchmarks/export_latency.py             # about 5 minutes on CPU
    python benchmarks/export_latency.py --smoke     # under a minute; CI runs this

(`--smoke`: one untrained micro model per family, ViT, AttentionSeq2Seq and
TransformerCaptioner, converted to float32 and float16 TFLite.)

Writes `benchmarks/results/export_latency_tensorflow.json` and prints a table.
The export needs the TensorFlow backend, so the script runs there.
"""

import argparse
import json
import os
import pathlib
import platform
import statistics
import tempfile
import time
import warnings

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
MODELS = (
    "VisionTransformer",
    "AttentionSeq2Seq",
    "TransformerSeq2Seq",
    "AttentionCaptioner",
    "TransformerCaptioner",
)
SMOKE_MODELS = ("VisionTransformer", "AttentionSeq2Seq", "TransformerCaptioner")
QUANTIZATIONS = {"float32": None, "float16": "float16", "dynamic": "dynamic"}
# `--smoke` converts two: every line runs with them (float32 holds the SavedModel's
# branch), and each conversion is a whole export. The dynamic-range one is tested in
# tests/export/test_every_application_export.py.
SMOKE_QUANTIZATIONS = ("float32", "float16")
# Small CPU sizes; `--smoke` uses the second, smaller ones.
SIZES = {
    "VisionTransformer": ("vit_tiny_digits", "vit_micro_digits"),
    "AttentionSeq2Seq": (
        dict(embedding_dim=32, hidden_dim=64),
        dict(embedding_dim=8, hidden_dim=8),
    ),
    "TransformerSeq2Seq": (
        dict(hidden_dim=64, num_layers=2, num_heads=4, intermediate_dim=128),  # transformer_tiny
        dict(hidden_dim=16, num_layers=1, num_heads=2, intermediate_dim=16),
    ),
    "AttentionCaptioner": (
        dict(filters=(16, 32, 64), embedding_dim=32, hidden_dim=64, feature_dim=64),
        dict(filters=(4, 8), embedding_dim=8, hidden_dim=8, feature_dim=8),
    ),
    "TransformerCaptioner": (
        dict(
            hidden_dim=64,
            num_encoder_layers=2,
            num_decoder_layers=2,
            num_heads=4,
            intermediate_dim=128,
        ),
        dict(
            hidden_dim=16,
            num_encoder_layers=1,
            num_decoder_layers=1,
            num_heads=2,
            intermediate_dim=16,
        ),
    ),
}


def build(name, args):
    """The trained model, and how each runtime is fed, as a dict.

    Keys: `model`, `inputs` (the `--examples` test inputs, as `keras` takes
    them), `keras` (inputs -> outputs), `serving` (inputs -> signature feed),
    `tflite` (one input -> interpreter feed), `output` (`"ids"` or
    `"probabilities"`), `train_seconds`.
    """
    import keras

    from keras_seqattn import applications, datasets
    from keras_seqattn.training import TimeBudget

    keras.utils.set_random_seed(args.seed)
    cls = getattr(applications, name)
    sizes = SIZES[name][1 if args.smoke else 0]
    if name == "VisionTransformer":
        family, load, dataset = _vision, datasets.load_image_labels, "digits"
    elif name.endswith("Seq2Seq"):
        family, load, dataset = _translation, datasets.load_translation_pairs, "date_normalization"
    else:
        family, load, dataset = _captioning, datasets.load_caption_pairs, "digit_scenes"
    train = load(dataset, split="train").take(args.train_limit)
    app = family(cls, sizes, train, load(dataset, split="test").take(args.examples))

    start = time.perf_counter()
    train = app.pop("train")
    if args.train_seconds > 0:
        budget = TimeBudget(args.train_seconds)
        app["model"].fit(train, epochs=1000, callbacks=[budget], verbose=0)
    app["train_seconds"] = round(time.perf_counter() - start, 1)
    app.update(app.pop("after_training")())
    return app


def _vision(cls, config, train, test):
    import keras
    import numpy as np

    from keras_seqattn.training.image_classification import image_batches

    model = cls.from_config_name(config, num_classes=10)
    model.compile(
        optimizer=keras.optimizers.AdamW(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    images = np.stack([image for image, _ in test.as_numpy_iterator()])

    def predict(batch):
        logits = model.predict_on_batch(batch)
        return keras.ops.convert_to_numpy(keras.ops.softmax(logits))

    return dict(
        model=model,
        train=image_batches(train, 64, shuffle=True),
        inputs=images.astype("float32"),
        keras=predict,
        serving=lambda batch: {"images": batch},
        tflite=lambda one: {"images": one[None]},
        output="probabilities",
        after_training=dict,
    )


def _translation(cls, sizes, pairs, test):
    import keras
    import numpy as np

    model = cls.from_corpus(pairs, source_mode="character", target_mode="character", **sizes)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    texts = [source.decode("utf-8") for source, _ in test.as_numpy_iterator()]

    def padded_ids():
        # TFLite takes one row of max_source_length ids, tokenised on the client.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sources longer than the training ones
            ids = model.tokenize_sources(texts)
        rows = np.zeros((len(texts), model.max_source_length), "int32")
        rows[:, : ids.shape[1]] = ids
        return {"tflite_inputs": rows}

    def translate(batch):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return model.translate(list(batch)).ids

    return dict(
        model=model,
        train=model.prepare(pairs, batch_size=64, shuffle=True),
        inputs=np.array(texts, dtype=object),
        keras=translate,
        serving=lambda batch: {"text": batch.astype(str)},
        tflite=lambda one: {"source_ids": one[None]},
        output="ids",
        after_training=padded_ids,
    )


def _captioning(cls, sizes, pairs, test):
    import keras
    import numpy as np

    model = cls.from_corpus(pairs, **sizes)
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    images = np.stack([image for image, _ in test.as_numpy_iterator()])
    return dict(
        model=model,
        train=model.prepare(pairs, batch_size=64, shuffle=True),
        inputs=images.astype("float32"),
        keras=lambda batch: model.caption(batch).ids,
        serving=lambda batch: {"images": batch},
        tflite=lambda one: {"images": one[None]},
        output="ids",
        after_training=dict,
    )


def timed_ms(call, requests, rounds):
    """Median milliseconds of `call(request)`, after one untimed pass over `requests`."""
    for request in requests:
        call(request)  # traces, compiles, warms the caches
    times = []
    for _ in range(rounds):
        for request in requests:
            start = time.perf_counter()
            call(request)
            times.append(time.perf_counter() - start)
    return round(1000 * statistics.median(times), 4)


def agreement(expected, actual, output):
    """How `actual` outputs agree with Keras's `expected`, over all examples."""
    import numpy as np

    expected, actual = np.asarray(expected), np.asarray(actual)
    if output == "probabilities":
        return {
            "top1_agreement": round(float(np.mean(expected.argmax(1) == actual.argmax(1))), 4),
            "max_probability_difference": float(np.abs(expected - actual).max()),
        }
    same_rows = np.all(expected == actual, axis=1)
    real = (expected != 0) | (actual != 0)  # positions either side generated
    return {
        "identical_rows": round(float(same_rows.mean()), 4),
        "token_agreement": round(float((expected == actual)[real].mean()), 4),
    }


def measure(name, args, workdir):
    import numpy as np
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    from keras_seqattn.export import export_model

    app = build(name, args)
    model, inputs, output = app["model"], app["inputs"], app["output"]
    result = {
        "model": name,
        "sizes": SIZES[name][1 if args.smoke else 0],
        "parameters": int(model.count_params()),
        "train_seconds": app["train_seconds"],
        "export_seconds": {},
        "bytes": {},
    }
    runners = {}
    labels = SMOKE_QUANTIZATIONS if args.smoke else QUANTIZATIONS
    for label, quantize in ((label, QUANTIZATIONS[label]) for label in labels):
        out = workdir / f"{name}_{label}"
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            export_model(model, out, tflite=True, quantize=quantize, beam_width=1)
        result["export_seconds"][label] = round(time.perf_counter() - start, 1)
        if quantize is None:
            result["bytes"]["saved_model"] = sum(
                f.stat().st_size for f in (out / "saved_model").rglob("*") if f.is_file()
            )
            signature = tf.saved_model.load(str(out / "saved_model")).signatures["serving_default"]
        result["bytes"][f"tflite_{label}"] = (out / "model.tflite").stat().st_size
        interpreter = Interpreter(model_path=str(out / "model.tflite"))
        runners[f"tflite_{label}"] = interpreter.get_signature_runner("serving_default")

    tflite_inputs = app.get("tflite_inputs", inputs)

    def serve(batch):
        feed = {k: tf.constant(v) for k, v in app["serving"](batch).items()}
        return signature(**feed)[output].numpy()

    def tflite(runner):
        def run(rows):
            return np.concatenate([runner(**app["tflite"](row))[output] for row in rows])

        return run

    # Batch 1: --requests single inputs; batch 32: 32 inputs, the TFLite ones invoked in turn.
    calls = {"keras": app["keras"], "saved_model": serve}
    calls.update({label: tflite(runner) for label, runner in runners.items()})
    uses_tflite_inputs = {label: label.startswith("tflite") for label in calls}
    result["latency_ms"] = {}
    for batch in (1, 32):
        count = args.requests if batch == 1 else min(2, len(inputs) // 32)
        row = {}
        for label, call in calls.items():
            source = tflite_inputs if uses_tflite_inputs[label] else inputs
            requests = [source[i * batch : (i + 1) * batch] for i in range(count)]
            row[label] = timed_ms(call, requests, args.rounds)
        result["latency_ms"][f"batch_{batch}"] = row

    expected = app["keras"](inputs)
    result["agreement_with_keras"] = {}
    for label, call in calls.items():
        if label == "keras":
            continue
        source = tflite_inputs if uses_tflite_inputs[label] else inputs
        result["agreement_with_keras"][label] = agreement(expected, call(source), output)
    if output == "ids":
        lengths = np.count_nonzero(expected, axis=1)
        result["mean_output_tokens"] = round(float(lengths.mean()), 2)
    return result


def print_table(results):
    print(f"\n{'model':<22}{'runtime':<16}{'b1 ms':>9}{'b32 ms':>10}{'KiB':>9}  agreement")
    for r in results:
        for label in r["latency_ms"]["batch_1"]:  # keras, saved_model, the .tflite files
            size = r["bytes"].get(label)
            agree = r["agreement_with_keras"].get(label, {})
            score = agree.get("identical_rows", agree.get("top1_agreement", ""))
            print(
                f"{r['model']:<22}{label:<16}{r['latency_ms']['batch_1'][label]:>9}"
                f"{r['latency_ms']['batch_32'][label]:>10}"
                f"{'' if size is None else round(size / 1024, 1):>9}  {score}"
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help=f"comma-separated, of {','.join(MODELS)} (all)")
    parser.add_argument("--train-seconds", type=float, default=20.0, help="training per model")
    parser.add_argument("--train-limit", type=int, default=4000, help="training examples")
    parser.add_argument("--examples", type=int, default=64, help="test inputs (>= 32)")
    parser.add_argument("--requests", type=int, default=16, help="distinct batch-1 requests")
    parser.add_argument("--rounds", type=int, default=2, help="timed passes over the requests")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="tiny run: checks the script only")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    if args.smoke:
        args.train_seconds, args.train_limit = 0.0, 128
        args.examples, args.requests, args.rounds = 32, 2, 1

    args.models = args.models or ",".join(SMOKE_MODELS if args.smoke else MODELS)
    import ai_edge_litert
    import keras
    import tensorflow as tf

    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise SystemExit(
            f"Run with KERAS_BACKEND=tensorflow: the export needs it. Received: {backend}"
        )
    unknown = sorted(set(args.models.split(",")) - set(MODELS))
    if unknown:
        raise SystemExit(f"--models must be among {', '.join(MODELS)}. Received: {unknown}")
    if args.examples < 32:
        raise SystemExit(f"--examples must be >= 32 (batch 32). Received: {args.examples}")
    results = []
    with tempfile.TemporaryDirectory() as workdir:
        for name in args.models.split(","):
            results.append(measure(name, args, pathlib.Path(workdir)))
            print(json.dumps(results[-1]), flush=True)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"export_latency_{backend}" + ("_smoke" if args.smoke else "")
    report = {
        "benchmark": "export_latency",
        "backend": backend,
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "versions": {
            "keras": keras.__version__,
            "tensorflow": tf.__version__,
            "ai_edge_litert": getattr(ai_edge_litert, "__version__", "unknown"),
        },
        "settings": {k: v for k, v in vars(args).items() if k != "out"},
        "timing": (
            "median ms per request after one untimed pass; keras and saved_model take the "
            "batch at once, tflite (batch 1 models) invokes once per input, so its batch_32 "
            "is 32 sequential invokes; tflite inputs are token ids or float images; "
            "ai_edge_litert Interpreter with its defaults (XNNPACK delegate)"
        ),
        "results": results,
    }
    (out / f"{stem}.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print_table(results)


if __name__ == "__main__":
    main()
