"""The machine-efficiency and backend-throughput benchmarks run, and count right."""

import importlib.util
import json

import pytest

from tests.test_benchmarks import REPO, smoke_output

# benchmarks/machine_efficiency.py --smoke sizes.
SMOKE = dict(
    batch_size=2,
    length=8,
    hidden_dim=16,
    num_heads=2,
    intermediate_dim=32,
    num_layers=1,
    vocabulary_size=50,
)


def closed_form_train_flops(
    batch_size, length, hidden_dim, intermediate_dim, num_layers, vocabulary_size, num_heads
):
    """3 x the forward matmul FLOPs of an encoder-decoder, written out by hand.

    Per token: encoder block 4 projections (8 d^2), QK^T and AV (4 T d), MLP
    (4 d f); decoder block self and cross attention (16 d^2, 8 T d; source and
    target length equal), MLP (4 d f); logits 2 d V. Heads split `d`, so their
    count drops out.
    """
    t, d, f = length, hidden_dim, intermediate_dim
    encoder = 8 * t * d * d + 4 * t * t * d + 4 * t * d * f
    decoder = 16 * t * d * d + 8 * t * t * d + 4 * t * d * f
    forward = batch_size * (num_layers * (encoder + decoder) + 2 * t * d * vocabulary_size)
    return 3 * forward


def machine_efficiency_module():
    path = REPO / "benchmarks" / "machine_efficiency.py"
    spec = importlib.util.spec_from_file_location("machine_efficiency", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.backend_independent(reason="arithmetic only")
def test_flop_count_matches_closed_form():
    module = machine_efficiency_module()
    realistic = dict(SMOKE, batch_size=32, length=64, hidden_dim=512, num_heads=8)
    realistic.update(intermediate_dim=2048, num_layers=2, vocabulary_size=8000)
    for config in (SMOKE, realistic):
        assert 3 * module.forward_flops(config) == closed_form_train_flops(**config)


@pytest.mark.slow
@pytest.mark.own_processes(reason="a smoke run of the script, on TensorFlow")
def test_machine_efficiency_smoke(request):
    tmp_path = smoke_output(request, "machine_efficiency")
    report = json.loads((tmp_path / "machine_efficiency_smoke.json").read_text())
    [result] = report["results"]
    assert result["backend"] == "tensorflow", result.get("error")
    assert result["peak_gflops"] > 0
    assert {row["jit"] for row in result["matmul_peak"]} == {True, False}
    assert result["peak_gflops"] == max(row["gflops"] for row in result["matmul_peak"])
    assert result["flops"]["train_step_formula"] == closed_form_train_flops(**SMOKE)
    assert 0 < result["fraction_of_peak"] < 1.5
    profile = result["profile"]
    for key in ("train_step_ms", "forward_ms", "forward_matmuls_alone_ms", "train_step_sgd_ms"):
        assert profile[key] > 0
    assert result["jit_compile"] is False  # Keras's "auto" on a CPU-only TensorFlow.
    assert profile["train_step_jit_compile_True_ms"] > 0
    variants = result["train_step_variants"]
    assert variants["train_step"]["gflops"] == pytest.approx(result["train_step_gflops"], abs=0.1)
    assert all(0 <= v["of_peak"] < 1.5 for v in variants.values())
    assert (tmp_path / "machine_efficiency_smoke_gflops.png").exists()


@pytest.mark.slow
@pytest.mark.own_processes(reason="a smoke run of the script, on TensorFlow")
def test_backend_throughput_smoke(request):
    tmp_path = smoke_output(request, "backend_throughput")
    report = json.loads((tmp_path / "backend_throughput_smoke.json").read_text())
    rows = report["results"]
    assert [(r["backend"], r["jit_compile"]) for r in rows] == [
        ("tensorflow", True),
        ("tensorflow", False),
    ]
    for row in rows:
        assert "skipped" not in row, row["skipped"]
        assert row["model"] == "TransformerSeq2Seq"
        assert row["steps_timed"] == 3
        assert row["examples_per_second"] > 0
        # Every example has several non-padding target tokens.
        assert row["tokens_per_second"] > row["examples_per_second"]
        assert row["first_step_seconds"] > 0
    assert [r["compiler"] for r in rows] == ["XLA", "none"]
    assert (tmp_path / "backend_throughput_smoke_tokens.png").exists()
