"""`benchmarks/rnn_vs_transformer.py` runs in its smoke mode and reports real numbers."""

import json

import pytest

from tests.test_benchmarks import smoke_output


@pytest.mark.slow
@pytest.mark.own_processes(reason="a smoke run of the script, on TensorFlow")
def test_rnn_vs_transformer_smoke(request):
    tmp_path = smoke_output(request, "rnn_vs_transformer")
    report = json.loads((tmp_path / "rnn_vs_transformer_smoke.json").read_text())
    rnn, transformer = (
        report["parameters"]["AttentionSeq2Seq"],
        report["parameters"]["TransformerSeq2Seq"],
    )
    assert abs(rnn - transformer) <= 0.05 * transformer
    assert report["settings"]["backends"] == ["tensorflow"]
    assert all(report["versions"][name] for name in ("keras", "tensorflow"))
    points = [(r["model"], r["length"]) for r in report["results"]]
    assert points == [(m, n) for m in ("AttentionSeq2Seq", "TransformerSeq2Seq") for n in (8, 16)]
    batch = report["settings"]["batch_size"]
    heads = report["sizes"]["transformer"]["num_heads"]
    layers = report["sizes"]["transformer"]["num_layers"]
    for row in report["results"]:
        assert row["status"] == "ok", row
        assert row["parameters"] == report["parameters"][row["model"]]  # Same at every length.
        assert len(row["step_s"]) == report["settings"]["repeats"]
        assert row["median_step_s"] > 0 and row["first_step_s"] > 0
        assert row["peak_rss_growth_mb"] >= 0 and row["rss_before_mb"] > 0
        n = row["length"]
        if row["model"] == "TransformerSeq2Seq":
            expected = batch * heads * 3 * n * n * layers * 4
        else:
            expected = batch * n * n * 4
            hidden_dim = report["sizes"]["rnn"]["hidden_dim"]
            assert row["computed_additive_score_activations_bytes"] == expected * hidden_dim
        assert row["computed_attention_scores_bytes"] == expected
    for name in ("time", "memory"):
        assert (tmp_path / f"rnn_vs_transformer_smoke_{name}.png").stat().st_size > 0
