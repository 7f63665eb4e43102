"""Every benchmark script runs in its smoke mode, so none can rot unnoticed.

The smokes of the tests selected run together, in one process
(`benchmarks/smokes.py`, each script as its own `__main__`), the first time a
test asks for its output: TensorFlow and Keras are imported once, not once a
script. Each test then checks its own script's outputs and fails alone.
"""

import json
import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
PARITY_BACKENDS = ["tensorflow", "torch"]  # backend_parity's smoke: a worker each
# Test `test_<key>_smoke` -> its runs: (run name, script, arguments after `--smoke --out`,
# and optionally files to copy when the run ends, as `benchmarks/smokes.py` takes them).
SMOKES = {
    "seq2seq_quality": [
        ("seq2seq_quality", "seq2seq_quality.py", ["--dataset", "date_normalization"])
    ],
    "vit_digits": [("vit_digits", "vit_digits.py", [])],
    "captioning_quality": [("captioning_quality", "captioning_quality.py", [])],
    "transformer_speed": [("transformer_speed", "transformer_speed.py", [])],
    "export_latency": [("export_latency", "export_latency.py", [])],
    "graph_tokenizer": [("graph_tokenizer", "graph_tokenizer.py", [])],
    "backend_parity": [
        (
            "backend_parity",
            "backend_parity.py",
            # One application of each kind, on two backends: every line of the script
            # (a worker per backend, the rotating order, the ratios) runs with two, and
            # each backend's models are tested in its own pass.
            ["--apps", "AttentionSeq2Seq,RNNCaptioner,VisionTransformer"]
            + ["--backends", *PARITY_BACKENDS],
        )
    ],
    "long_inputs": [
        (
            "long_inputs",
            "long_inputs.py",
            ["--models", "TransformerSeq2Seq,AttentionSeq2Seq"],
            {"long_inputs_smoke.json": "long_inputs_smoke_first.json"},  # before the merge
        ),
        (
            "long_inputs_merge",
            "long_inputs.py",
            ["--models", "Seq2SeqRNN,LuongSeq2Seq", "--merge"],
        ),
    ],
    "gpu": [("gpu", "gpu.py", [])],
    "rnn_vs_transformer": [("rnn_vs_transformer", "rnn_vs_transformer.py", [])],
    "machine_efficiency": [("machine_efficiency", "machine_efficiency.py", [])],
    "backend_throughput": [("backend_throughput", "backend_throughput.py", [])],
    "marian_export": [("marian_export", "marian_export.py", [])],
}
_FOLDERS = {}  # SMOKES key -> the --out folder of its runs, once they ran


def smoke_output(request, key):
    """The `--out` folder of `SMOKES[key]`'s runs; fails with the traceback of a failed run.

    The first call runs the smokes of every selected test that has not run yet,
    one process for all (on TensorFlow), so a test run alone runs only its own.

    They run only with `--benchmark-smokes`: 800-1,200 CPU seconds for scripts
    that users do not run, which the default command could not afford within
    CI's 90 minutes (issue 36).
    """
    if not request.config.getoption("--benchmark-smokes"):
        pytest.skip("a benchmark smoke: runs with --benchmark-smokes")
    if key not in _FOLDERS:
        selected = {item.name for item in request.session.items}
        keys = [k for k in SMOKES if k not in _FOLDERS and f"test_{k}_smoke" in selected]
        keys += [] if key in keys else [key]
        root = request.getfixturevalue("tmp_path_factory").mktemp("smokes")
        runs = [
            dict(
                name=name, script=script, args=args, out=str(root / k), keep=keep[0] if keep else {}
            )
            for k in keys
            for name, script, args, *keep in SMOKES[k]
        ]
        (root / "runs.json").write_text(json.dumps(runs))
        done = subprocess.run(
            [sys.executable, str(REPO / "benchmarks" / "smokes.py"), str(root / "runs.json")],
            capture_output=True,
            text=True,
            env=dict(os.environ, KERAS_BACKEND="tensorflow"),
            timeout=900 * len(runs),
        )
        assert done.returncode == 0, done.stdout[-1500:] + done.stderr[-3000:]
        _FOLDERS.update({k: root / k for k in keys})
    folder = _FOLDERS[key]
    for name, *_ in SMOKES[key]:
        record = json.loads((folder / f"smoke_{name}.json").read_text())
        assert record["ok"], f"{record['traceback']}\n{record['output_tail']}"
    return folder


@pytest.mark.slow
@pytest.mark.own_processes(reason="a smoke run of the script, on TensorFlow")
def test_seq2seq_quality_smoke(request):
    tmp_path = smoke_output(request, "seq2seq_quality")
    report = json.loads((tmp_path / "seq2seq_quality_tensorflow_smoke.json").read_text())
    models = [r["model"] for r in report["results"]]
    assert models == ["Seq2SeqRNN", "AttentionSeq2Seq", "TransformerSeq2Seq"]
    assert (tmp_path / "seq2seq_quality_tensorflow_smoke_length.png").exists()
    assert (tmp_path / "seq2seq_quality_tensorflow_smoke_heatmap.png").exists()
    assert (tmp_path / "seq2seq_quality_tensorflow_smoke_heatmap_transformer.png").exists()


@pytest.mark.slow
@pytest.mark.own_processes(reason="a smoke run of the script, on TensorFlow")
def test_vit_digits_smoke(request):
    tmp_path = smoke_output(request, "vit_digits")
    report = json.loads((tmp_path / "vit_digits_tensorflow_smoke.json").read_text())
    assert [r["model"] for r in report["results"]] == [
        "VisionTransformer/vit_micro_digits",
        "SmallCNN",
    ]
    assert all(r["inference_images_per_second"] > 0 for r in report["results"])
    assert (tmp_path / "vit_digits_tensorflow_smoke_attention.png").exists()


@pytest.mark.slow
@pytest.mark.own_processes(reason="a smoke run of the script, on TensorFlow")
def test_captioning_quality_smoke(request):
    tmp_path = smoke_output(request, "captioning_quality")
    report = json.loads((tmp_path / "captioning_quality_tensorflow_smoke.json").read_text())
    models = [r["model"] for r in report["results"]]
    assert models == ["RNNCaptioner", "AttentionCaptioner", "TransformerCaptioner"]
    assert report["results"][0]["attention_localization"] is None
    assert (tmp_path / "captioning_quality_tensorflow_smoke_attention.png").exists()
    assert (tmp_path / "captioning_quality_tensorflow_smoke_transformer_attention.png").exists()


@pytest.mark.slow
@pytest.mark.own_processes(reason="a smoke run of the script, on TensorFlow")
def test_transformer_speed_smoke(request):
    tmp_path = smoke_output(request, "transformer_speed")
    report = json.loads((tmp_path / "transformer_speed_tensorflow_smoke.json").read_text())
    assert [r["measure"] for r in report["layers"]["results"]] == ["train_step", "forward"]
    assert [r["tokens"] for r in report["generation"]["results"]] == [4, 8]
    # Recomputation and the keras-hub sampler decode exactly what the cache does.
    for row in report["generation"]["results"]:
        assert row["recompute_ids_match_cached"] == row["keras_hub_sampler_ids_match_cached"] == 1.0
    assert (tmp_path / "transformer_speed_tensorflow_smoke_generation.png").exists()


@pytest.mark.slow
@pytest.mark.own_processes(reason="a smoke run of the script, on TensorFlow")
def test_export_latency_smoke(request):
    tmp_path = smoke_output(request, "export_latency")
    report = json.loads((tmp_path / "export_latency_tensorflow_smoke.json").read_text())
    assert [r["model"] for r in report["results"]] == [
        "VisionTransformer",
        "AttentionSeq2Seq",
        "TransformerCaptioner",
    ]
    runtimes = ["keras", "saved_model", "tflite_float32", "tflite_float16"]  # SMOKE_QUANTIZATIONS
    for result in report["results"]:
        for batch in ("batch_1", "batch_32"):
            assert list(result["latency_ms"][batch]) == runtimes
            assert all(ms > 0 for ms in result["latency_ms"][batch].values())
        for agreement in result["agreement_with_keras"].values():
            share = agreement.get("identical_rows", agreement.get("top1_agreement"))
            assert 0.0 <= share <= 1.0  # untrained models: near ties may differ
        assert result["bytes"]["tflite_float16"] < result["bytes"]["tflite_float32"]


@pytest.mark.slow
@pytest.mark.own_processes(reason="a smoke run of the script, on TensorFlow")
def test_graph_tokenizer_smoke(request):
    tmp_path = smoke_output(request, "graph_tokenizer")
    report = json.loads((tmp_path / "graph_tokenizer_tensorflow_smoke.json").read_text())
    modes = [(r["mode"], r["lowercase"]) for r in report["results"]]
    assert modes == [
        ("word_piece", True),
        ("word_piece", False),
        ("sentence_piece", True),
        ("sentence_piece", False),
        ("character", True),
    ]
    # The script measures agreement; a tokeniser that drifted from Keras's shows here.
    assert all(r["agreement"] == 1.0 for r in report["results"]), report["results"]


@pytest.mark.slow
@pytest.mark.own_processes(reason="a smoke run of the script, one worker per backend")
def test_backend_parity_smoke(request):
    tmp_path = smoke_output(request, "backend_parity")
    apps = ["AttentionSeq2Seq", "RNNCaptioner", "VisionTransformer"]  # SMOKES' --apps
    report = json.loads((tmp_path / "backend_parity_smoke.json").read_text())
    rows = report["results"]
    assert [(r["application"], r["backend"]) for r in rows] == [
        (app, backend) for app in apps for backend in PARITY_BACKENDS
    ]
    for app in apps:
        mine = [r for r in rows if r["application"] == app]
        for key, field in (("step", "ms_per_step"), ("generate", "ms_per_batch_generate")):
            fastest = min(r[field] for r in mine)
            assert all(r[field] > 0 for r in mine)
            assert min(r["ratio_to_fastest"][key] for r in mine) == 1.0
            for r in mine:
                assert r["ratio_to_fastest"][key] == pytest.approx(r[field] / fastest, rel=0.05)
    assert {"machine", "load_average_1min", "versions", "date"} <= set(report)
    assert (tmp_path / "backend_parity_smoke_ratios.png").exists()


@pytest.mark.slow
@pytest.mark.own_processes(reason="a smoke run of the script, on TensorFlow")
def test_long_inputs_smoke(request):
    tmp_path = smoke_output(request, "long_inputs")
    first = json.loads((tmp_path / "long_inputs_smoke_first.json").read_text())
    report = json.loads((tmp_path / "long_inputs_smoke.json").read_text())
    results = report["results"]
    assert [(r["model"], r["train_max_length"]) for r in results] == [
        ("Seq2SeqRNN", 30),
        ("AttentionSeq2Seq", 30),
        ("LuongSeq2Seq", 30),
        ("TransformerSeq2Seq", 30),
    ]
    assert report["merged"] == ["AttentionSeq2Seq", "TransformerSeq2Seq"]
    assert [results[1], results[3]] == first["results"]  # kept as they were
    for result in results:
        buckets = result["buckets"]
        assert [b["lengths"] for b in buckets][:2] == ["1-10", "11-20"]
        assert sum(b["count"] for b in buckets) == 120  # the smoke run's test[:120]
        assert all(0 <= b["exact_match"] <= 1 and 0 <= b["bleu"] <= 100 for b in buckets)
    assert results[0]["alignment"] is None  # the fixed context has no attention
    for result in results[1:]:
        assert 0 <= result["alignment"]["item_mass"] <= 1
        # Every test source of 60 tokens or more: all of 61-70 and up, part of 51-60.
        counts = {b["lengths"]: b["count"] for b in result["buckets"]}
        above = sum(n for lengths, n in counts.items() if int(lengths.split("-")[0]) > 60)
        assert above <= result["alignment"]["sources"] <= above + counts.get("51-60", 0)
    assert {"machine", "load_average_1min", "versions", "date", "settings"} <= set(report)
    assert (tmp_path / "long_inputs_smoke.png").exists()
    assert (tmp_path / "long_inputs_smoke_heatmap.png").exists()


@pytest.mark.own_processes(reason="a smoke run of the script, on TensorFlow")
def test_gpu_smoke(request):
    tmp_path = smoke_output(request, "gpu")
    (result,) = json.loads((tmp_path / "gpu_smoke.json").read_text())["results"]
    assert result["backend"] == "tensorflow" and result["device"]
    assert set(result["matmul_peak_gflops"]) == {"float32", "mixed_bfloat16"}
    rows = {(r["model"], r["policy"]): r for r in result["rows"]}
    # Each of the four models once, the two policies taken in turn (gpu.SMOKE_POLICY).
    assert sorted(rows) == [
        ("AttentionSeq2Seq", "float32"),
        ("TransformerCaptioner", "float32"),
        ("TransformerSeq2Seq", "mixed_bfloat16"),
        ("VisionTransformer", "mixed_bfloat16"),
    ]
    for (model, _), row in rows.items():
        assert row["step_ms"] > 0 and row["examples_per_s"] > 0, row
        # The decoder's scan has no XLA form on TensorFlow: that model runs without.
        assert row["jit_compile_used"] == (model != "AttentionSeq2Seq"), row
    assert rows["TransformerSeq2Seq", "mixed_bfloat16"]["generate_ms_per_token"] > 0
