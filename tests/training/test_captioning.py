import json

import pytest

from keras_seqattn.applications import RNNCaptioner
from keras_seqattn.training import train_captioner


@pytest.mark.only_backend("tensorflow", reason="the data plumbing is backend independent")
def test_defaults_fit_a_split_smaller_than_the_validation_cap(tmp_path):
    # digit_scenes has 1,000 validation scenes: fewer than the 2,000 that
    # `train_captioner` validates on by default. No `eval_limit`: the whole test
    # split is scored.
    metrics = train_captioner(
        RNNCaptioner,
        "digit_scenes",
        tmp_path,
        epochs=1,
        train_limit=64,
        verbose=0,
        filters=(4, 8),
        embedding_dim=4,
        hidden_dim=8,
        feature_dim=8,
    )
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["exact_match"] == metrics["exact_match"]
    assert metrics["test_examples"] == 1000
    assert (tmp_path / "model.keras").exists()
