"""Issue 20, measured: a converted MarianMT model's export size and ms per token on CPU.

No checkpoint can be downloaded here, so the script writes a Hugging Face
MarianMT directory of `Helsinki-NLP/opus-mt-en-de`'s shape (d_model 512, 6 + 6
layers, 8 heads, d_ff 2048, swish, a shared and tied vocabulary of 58101
pieces, `<pad>` last) with RANDOM weights, with NumPy and `safetensors` only
(`config.json`, `model.safetensors`, two SentencePiece unigram models trained
on number words, `vocab.json` filled up to the vocabulary size), loads it with
`TransformerSeq2Seq.from_pretrained`, and times greedy translation of one
sentence (batch 1) in:

- `keras`: `model.translate`;
- `saved_model_text`: the export's `serving_default` (a string in, tokenised
  in the graph by the core-op unigram encoder), loaded by `tf.saved_model.load`
  in this process; `saved_model_ids`: its `token_ids` (source ids in);
- `tflite_float32`, `tflite_dynamic` (int8 weights): the `ai_edge_litert`
  interpreter's signature runner.

A random model never emits `</s>`, so every request decodes `--max-length`
tokens; ms/token is the median request time over that count (the encoder's
one pass included). Sizes are of the files on disk. Nothing here comes from
real weights: quality is not measured, only size and speed, which depend on
the shapes alone.

    python benchmarks/marian_export.py            # about 10 minutes on 2 CPU cores
    python benchmarks/marian_export.py --smoke    # d_model 16, float32 TFLite only: ~40 s

Writes `benchmarks/results/marian_export_tensorflow.json` (`..._smoke.json`).
"""

import argparse
import io
import json
import os
import pathlib
import platform
import statistics
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
SHAPES = {
    # Helsinki-NLP/opus-mt-en-de's config.json.
    "opus-mt-en-de": dict(d_model=512, layers=6, heads=8, ffn=2048, vocab_size=58101),
    "smoke": dict(d_model=16, layers=2, heads=2, ffn=32, vocab_size=200),
}
SENTENCE = "three hundred and forty-two"


def _train_spm(language):
    import sentencepiece
    from num2words import num2words

    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(num2words(n, lang=language) for n in range(0, 1000, 3)),
        model_writer=model,
        vocab_size=60,
        model_type="unigram",
        hard_vocab_limit=False,
        minloglevel=2,
    )
    return model.getvalue()


def write_directory(path, shape, seed=0):
    """A MarianMT directory of `shape` with random weights (std 0.05)."""
    import numpy as np
    import sentencepiece
    from safetensors.numpy import save_file

    path.mkdir(parents=True, exist_ok=True)
    source, target = _train_spm("en"), _train_spm("de")
    (path / "source.spm").write_bytes(source)
    (path / "target.spm").write_bytes(target)
    pieces = ["</s>", "<unk>"]
    for proto in (source, target):
        processor = sentencepiece.SentencePieceProcessor()
        processor.LoadFromSerializedProto(proto)
        for i in range(3, processor.GetPieceSize()):
            if processor.IdToPiece(i) not in pieces:
                pieces.append(processor.IdToPiece(i))
    size = shape["vocab_size"]
    pieces += [f"\u2581filler{i}" for i in range(size - 1 - len(pieces))] + ["<pad>"]
    (path / "vocab.json").write_text(json.dumps({p: i for i, p in enumerate(pieces)}))
    (path / "tokenizer_config.json").write_text(
        json.dumps({"source_lang": "en", "target_lang": "de", "separate_vocabs": False})
    )
    d, f, pad = shape["d_model"], shape["ffn"], size - 1
    config = {
        "model_type": "marian",
        "architectures": ["MarianMTModel"],
        "vocab_size": size,
        "d_model": d,
        "encoder_layers": shape["layers"],
        "decoder_layers": shape["layers"],
        "encoder_attention_heads": shape["heads"],
        "decoder_attention_heads": shape["heads"],
        "encoder_ffn_dim": f,
        "decoder_ffn_dim": f,
        "activation_function": "swish",
        "max_position_embeddings": 512,
        "scale_embedding": True,
        "share_encoder_decoder_embeddings": True,
        "pad_token_id": pad,
        "decoder_start_token_id": pad,
        "eos_token_id": 0,
        "forced_eos_token_id": 0,
        "dropout": 0.1,
        "num_beams": 4,
        "max_length": 512,
        "bad_words_ids": [[pad]],
    }
    (path / "config.json").write_text(json.dumps(config))
    rng = np.random.default_rng(seed)

    def normal(*dims):
        return rng.normal(0.0, 0.05, dims).astype("float32")

    arrays = {"model.shared.weight": normal(size, d), "final_logits_bias": normal(1, size)}
    for side in ("encoder", "decoder"):
        for i in range(shape["layers"]):
            prefix = f"model.{side}.layers.{i}."
            parts = ["self_attn"] + (["encoder_attn"] if side == "decoder" else [])
            for part in parts:
                for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
                    arrays[f"{prefix}{part}.{name}.weight"] = normal(d, d)
                    arrays[f"{prefix}{part}.{name}.bias"] = normal(d)
                arrays[f"{prefix}{part}_layer_norm.weight"] = np.ones(d, "float32")
                arrays[f"{prefix}{part}_layer_norm.bias"] = np.zeros(d, "float32")
            arrays[prefix + "fc1.weight"], arrays[prefix + "fc1.bias"] = normal(f, d), normal(f)
            arrays[prefix + "fc2.weight"], arrays[prefix + "fc2.bias"] = normal(d, f), normal(d)
            arrays[prefix + "final_layer_norm.weight"] = np.ones(d, "float32")
            arrays[prefix + "final_layer_norm.bias"] = np.zeros(d, "float32")
    save_file(arrays, str(path / "model.safetensors"))
    return path


def timed_ms(call, rounds):
    call()  # untimed: traces, allocations
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def size_mb(path):
    path = pathlib.Path(path)
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return round(sum(p.stat().st_size for p in files) / 2**20, 1)


def measure(args, workdir):
    import numpy as np
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    from keras_seqattn.applications import TransformerSeq2Seq
    from keras_seqattn.export import export_model

    shape = SHAPES["smoke" if args.smoke else "opus-mt-en-de"]
    directory = write_directory(workdir / "checkpoint", shape)
    started = time.perf_counter()
    model = TransformerSeq2Seq.from_pretrained(
        directory, max_source_length=args.max_length, max_target_length=args.max_length
    )
    load_s = time.perf_counter() - started
    source_ids = model.tokenize_sources([SENTENCE])
    padded = np.full((1, model.max_source_length), model.source_tokenizer.pad_id, "int32")
    padded[0, : source_ids.shape[1]] = source_ids[0]
    tokens = model.translate([SENTENCE], beam_width=1).lengths[0]
    results = {
        "parameters": model.count_params(),
        "load_s": round(load_s, 1),
        "tokens_per_request": int(tokens),
        "sizes_mb": {"model.safetensors": size_mb(directory / "model.safetensors")},
        "ms_per_token": {},
    }
    keras_ms = timed_ms(lambda: model.translate([SENTENCE], beam_width=1), args.rounds)
    results["ms_per_token"]["keras"] = round(keras_ms / tokens, 2)
    runners = {}
    variants = (("float32", None),) if args.smoke else (("float32", None), ("dynamic", "dynamic"))
    for label, quantize in variants:
        out = workdir / f"export_{label}"
        started = time.perf_counter()
        export_model(model, out, tflite=True, quantize=quantize, beam_width=1)
        results[f"export_{label}_s"] = round(time.perf_counter() - started, 1)
        results["sizes_mb"][f"tflite_{label}"] = size_mb(out / "model.tflite")
        interpreter = Interpreter(model_path=str(out / "model.tflite"))
        runners[f"tflite_{label}"] = interpreter.get_signature_runner("serving_default")
        if label == "float32":
            results["sizes_mb"]["saved_model"] = size_mb(out / "saved_model")
            signatures = tf.saved_model.load(str(out / "saved_model")).signatures
    ids, text = tf.constant(source_ids), tf.constant([SENTENCE])
    served = signatures["serving_default"](text=text)
    assert served["ids"].numpy().tolist() == model.translate([SENTENCE], beam_width=1).ids.tolist()
    text_ms = timed_ms(lambda: signatures["serving_default"](text=text), args.rounds)
    ids_ms = timed_ms(lambda: signatures["token_ids"](source_ids=ids), args.rounds)
    results["ms_per_token"]["saved_model_text"] = round(text_ms / tokens, 2)
    results["ms_per_token"]["saved_model_ids"] = round(ids_ms / tokens, 2)
    for name, runner in runners.items():
        ms = timed_ms(lambda runner=runner: runner(source_ids=padded), args.rounds)
        results["ms_per_token"][name] = round(ms / tokens, 2)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a d_model 16 model, fast")
    parser.add_argument("--max-length", type=int, default=64, help="source and target tokens")
    parser.add_argument("--rounds", type=int, default=5, help="timed requests per runtime")
    parser.add_argument("--out", default=str(RESULTS), help="folder of the JSON report")
    args = parser.parse_args()
    import keras
    import tensorflow as tf

    load = os.getloadavg()  # other processes on the cores make every number slower
    with tempfile.TemporaryDirectory() as folder:
        results = measure(args, pathlib.Path(folder))
    report = {
        "what": "random weights of opus-mt-en-de's shape (no real checkpoint): size and speed",
        "shape": SHAPES["smoke" if args.smoke else "opus-mt-en-de"],
        "max_length": args.max_length,
        "rounds": args.rounds,
        "results": results,
        "machine": {
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "load_average_before": [round(x, 2) for x in load],
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
        },
        "command": "python benchmarks/marian_export.py" + (" --smoke" if args.smoke else ""),
    }
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = "marian_export_tensorflow" + ("_smoke" if args.smoke else "") + ".json"
    (out / name).write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report["results"], indent=1))


if __name__ == "__main__":
    main()
