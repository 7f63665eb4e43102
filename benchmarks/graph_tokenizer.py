"""Issue 7, measured: the exported graphs' core-TensorFlow tokenisers against Keras's.

A translation SavedModel tokenises its `text` input with `SourceTokenizer`
(`keras_seqattn/export/_text_graph.py`): core TensorFlow ops only, so that TF
Serving loads it without `tensorflow_text`. For each `SequenceTokenizer` mode,
learned on real text (the sources and German targets of `number_words/en_to_de`,
and the sources of `date_normalization`), this reports:

- `agreement`: the share of the test texts whose ids equal the Keras
  tokenizer's (`tokenizer(texts, add_stop=True)`, which runs keras-hub and
  `tensorflow_text`), and the first texts that differ;
- `build_s`: seconds to build the graph tokenizer (its Unicode tables included);
- `table_entries`: rows of its per-character normalisation table;
- latency, median ms per request of batch 1 and 32, of the Keras tokenizer and
  of the graph tokenizer (a `tf.function`, as the SavedModel runs it);
- length scaling: one request of 2,000 and of 20,000 characters, arranged as
  test texts' words, as one long word (half the characters, spaces dropped)
  among such words, and as words of 100 characters (the longest word pieces
  walk); ms per request, the ids' agreement with Keras, and each 20,000
  characters' time over the 2,000 characters of words (the goal: under 10).

    python benchmarks/graph_tokenizer.py           # about 4 minutes on CPU
    python benchmarks/graph_tokenizer.py --smoke   # seconds; CI runs this

Writes `benchmarks/results/graph_tokenizer_tensorflow.json` and prints a table.
"""

import argparse
import json
import os
import pathlib
import platform
import statistics
import time

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
# Request lengths of the length-scaling section, in characters.
LENGTHS = (2_000, 20_000)
# (mode, lowercase, vocabulary size)
TOKENIZERS = [
    ("word_piece", True, 1000),
    ("word_piece", False, 1000),
    ("sentence_piece", True, 1000),
    ("sentence_piece", False, 1000),
    ("character", True, 200),
]


def corpus(split, limit):
    """Real texts: number_words English sources and German targets, date sources."""
    from keras_seqattn import datasets

    texts = []
    for name in ("number_words/en_to_de", "date_normalization"):
        for source, target in datasets.load_translation_pairs(name, split=split).take(limit):
            texts.append(source.numpy().decode("utf-8"))
            if name.startswith("number_words"):
                texts.append(target.numpy().decode("utf-8"))
    return texts


def timed_ms(call, requests, rounds):
    call(requests[0])  # traced or warmed, untimed
    times = []
    for _ in range(rounds):
        for request in requests:
            start = time.perf_counter()
            call(request)
            times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 3)


def measure(mode, lowercase, vocabulary_size, train, test, args):
    import numpy as np
    import tensorflow as tf

    from keras_seqattn.export import _text_graph
    from keras_seqattn.text import SequenceTokenizer

    tokenizer = SequenceTokenizer.from_corpus(
        train, mode=mode, vocabulary_size=vocabulary_size, lowercase=lowercase
    )
    start = time.perf_counter()
    graph = _text_graph.SourceTokenizer(tokenizer, max_length=1_000_000)
    build_s = time.perf_counter() - start
    function = tf.function(graph, input_signature=[tf.TensorSpec([None], tf.string)])

    def rows(ids):
        return [[int(i) for i in row if i] for row in np.asarray(ids)]

    expected, got = [], []
    for start in range(0, len(test), 256):
        chunk = test[start : start + 256]
        expected += rows(tokenizer(chunk, add_stop=True))
        got += rows(function(tf.constant(chunk)))
    differ = [text for text, e, g in zip(test, expected, got) if e != g]
    table = getattr(getattr(graph, "pieces", None), "normalize", None) or getattr(
        getattr(graph, "pieces", None), "case_fold", None
    )
    batches = {
        "batch_1": [test[i : i + 1] for i in range(args.requests)],
        "batch_32": [test[i * 32 : (i + 1) * 32] for i in range(args.requests)],
    }
    latency = {}
    for batch, requests in batches.items():
        latency[batch] = {
            "keras": timed_ms(lambda texts: tokenizer(texts, add_stop=True), requests, args.rounds),
            "graph": timed_ms(lambda texts: function(tf.constant(texts)), requests, args.rounds),
        }
    length_scaling = scaling(tokenizer, function, test, max(3, args.rounds + 2))
    return {
        "mode": mode,
        "lowercase": lowercase,
        "vocabulary_size": tokenizer.vocabulary_size,
        "test_texts": len(test),
        "agreement": round(1 - len(differ) / len(test), 6),
        "differing_examples": differ[:5],
        "build_s": round(build_s, 2),
        "table_entries": None if table is None else int(table.table.size()),
        "latency_ms": latency,
        "length_scaling_ms": length_scaling,
    }


def arrangements(test, length):
    """Requests of `length` characters: words, one long word among them, words of 100."""
    words = " ".join(test)
    letters = words.replace(" ", "")
    long = letters[: length // 2]
    hundreds = " ".join(letters[i : i + 100] for i in range(0, length, 101))
    return {
        "words": words[:length],
        "one_long_word": f"{words[: length - len(long) - 1]} {long}",
        "words_of_100": hundreds[:length],
    }


def scaling(tokenizer, function, test, rounds):
    """ms per request, and agreement with Keras, of each arrangement and length."""
    import numpy as np
    import tensorflow as tf

    def rows(ids):
        return [[int(i) for i in row if i] for row in np.asarray(ids)]

    measured = {}
    for length in LENGTHS:
        for name, text in arrangements(test, length).items():
            same = rows(function(tf.constant([text]))) == rows(tokenizer([text], add_stop=True))
            measured[f"{name}_{length}"] = {
                "characters": len(text),
                "agree": same,
                "keras": timed_ms(lambda t: tokenizer(t, add_stop=True), [[text]], rounds),
                "graph": timed_ms(lambda t: function(tf.constant(t)), [[text]], rounds),
            }
    base = measured[f"words_{LENGTHS[0]}"]["graph"]
    ratios = {
        name: round(measured[f"{name}_{LENGTHS[-1]}"]["graph"] / base, 2)
        for name in arrangements(test, LENGTHS[0])
    }
    return {"requests": measured, f"graph_{LENGTHS[-1]}_over_words_{LENGTHS[0]}": ratios}


def print_table(results):
    print(
        f"\n{'mode':<16}{'lower':<7}{'vocab':>6}{'agree':>9}{'build s':>9}"
        f"{'keras b1':>10}{'graph b1':>10}{'keras b32':>11}{'graph b32':>11}"
    )
    for r in results:
        b1, b32 = r["latency_ms"]["batch_1"], r["latency_ms"]["batch_32"]
        print(
            f"{r['mode']:<16}{r['lowercase']!s:<7}{r['vocabulary_size']:>6}"
            f"{r['agreement']:>9.4f}{r['build_s']:>9}{b1['keras']:>10}{b1['graph']:>10}"
            f"{b32['keras']:>11}{b32['graph']:>11}"
        )


def print_scaling(results):
    names = list(results[0]["length_scaling_ms"]["requests"])
    print(f"\n{'graph ms, one request':<22}" + "".join(f"{n:>22}" for n in names) + "  ratios")
    for r in results:
        scaling = r["length_scaling_ms"]
        cells = "".join(f"{scaling['requests'][n]['graph']:>22}" for n in names)
        ratios = next(v for k, v in scaling.items() if k != "requests")
        print(f"{r['mode'] + ' ' + str(r['lowercase']):<22}{cells}  {ratios}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-limit", type=int, default=5000, help="pairs per dataset")
    parser.add_argument("--test-limit", type=int, default=2000, help="pairs per dataset")
    parser.add_argument("--requests", type=int, default=20, help="distinct requests per batch")
    parser.add_argument("--rounds", type=int, default=3, help="timed passes over the requests")
    parser.add_argument("--smoke", action="store_true", help="tiny run: checks the script only")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    if args.smoke:
        # Learning the word-piece vocabulary took most of the smoke's time at 200.
        args.train_limit, args.test_limit, args.requests, args.rounds = 40, 40, 2, 1
        global LENGTHS
        LENGTHS = (200, 2_000)

    import keras
    import tensorflow as tf

    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise SystemExit(
            f"Run with KERAS_BACKEND=tensorflow: the export needs it. Received: {backend}"
        )
    train = corpus("train", args.train_limit)
    test = corpus("test", args.test_limit)
    if len(test) < 32 * args.requests:
        args.requests = max(1, len(test) // 32)
    results = []
    for mode, lowercase, vocabulary_size in TOKENIZERS:
        if args.smoke:
            vocabulary_size = min(vocabulary_size, 200)
        results.append(measure(mode, lowercase, vocabulary_size, train, test, args))
        print(json.dumps(results[-1], ensure_ascii=False), flush=True)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"graph_tokenizer_{backend}" + ("_smoke" if args.smoke else "")
    report = {
        "benchmark": "graph_tokenizer",
        "backend": backend,
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "load_average": os.getloadavg()[0],
        "versions": {"keras": keras.__version__, "tensorflow": tf.__version__},
        "settings": {k: v for k, v in vars(args).items() if k != "out"},
        "timing": "median ms per request after one untimed call; graph = tf.function",
        "results": results,
    }
    (out / f"{stem}.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print_table(results)
    print_scaling(results)


if __name__ == "__main__":
    main()
