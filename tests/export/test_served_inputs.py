"""The served graphs under a client's own inputs, from a process that imports only TensorFlow.

Every signature answers an empty batch with empty outputs of the right shapes;
token ids outside the vocabulary and non-finite pixels are refused at the
signature (`InvalidArgumentError`, saying what was expected), where Keras also
refuses them; the export folder is readable by other users (TF Serving often
runs as one); the ViT's `export.json` lists its signatures like the others'.
"""

import json
import os
import stat

import numpy as np
import pytest

from keras_seqattn.applications import AttentionSeq2Seq, RNNCaptioner, VisionTransformer
from keras_seqattn.export import export_model
from tests.export.export_checks import serve

pytestmark = pytest.mark.only_backend(
    "tensorflow", reason="exports run on the TensorFlow backend; other backends re-run it there"
)

PAIRS = [("forty two", "42"), ("seven", "7")]
IMAGES = np.random.default_rng(0).integers(0, 256, (2, 16, 16, 1)).astype("float32")
EMPTY_TEXT = np.zeros((0,), "S1")


def _errors(report):
    return {int(k.split("_")[1]): v for k, v in report.items() if k.startswith("error_")}


def test_translation_signatures(tmp_path):
    model = AttentionSeq2Seq.from_corpus(
        PAIRS, source_mode="character", target_mode="character", embedding_dim=4, hidden_dim=8
    )
    vocabulary = model.source_tokenizer.vocabulary_size
    export_model(model, tmp_path / "export", beam_width=2)
    good = model.tokenize_sources(["seven"])
    arrays = {
        "no_text": EMPTY_TEXT,
        "no_ids": np.zeros((0, good.shape[1]), "int32"),
        "negative": np.where(good > 0, -good, 0).astype("int32"),
        "too_big": np.full_like(good, vocabulary),
        "good": good,
    }
    calls = [
        ("serving_default", {"text": "no_text"}),
        ("beam", {"text": "no_text"}),
        ("token_ids", {"source_ids": "no_ids"}),
        ("token_ids_beam", {"source_ids": "no_ids"}),
        ("attention", {"source_ids": "no_ids"}),
        ("token_ids", {"source_ids": "negative"}),
        ("token_ids", {"source_ids": "too_big"}),
        ("token_ids", {"source_ids": "good"}),
    ]
    outputs, report = serve(tmp_path / "export", arrays, calls)
    errors = _errors(report)
    length = model.max_target_length
    for index in range(5):
        assert index not in errors, errors[index]
        assert outputs[f"{index}/ids"].shape == (0, length)
        assert outputs[f"{index}/text"].shape == (0,) and outputs[f"{index}/scores"].shape == (0,)
    assert outputs["4/attention"].shape[:2] == (0, length)
    assert (
        "InvalidArgumentError" in errors[5]
        and f"ids in [0, {vocabulary}); some are < 0" in (errors[5])
    )
    assert f"some are >= {vocabulary}" in errors[6]
    np.testing.assert_array_equal(outputs["7/ids"], model.translate(["seven"]).ids)
    # Keras refuses the same ids.
    with pytest.raises(ValueError):
        model.source_tokenizer.detokenize(arrays["negative"])


def test_captioner_signatures(tmp_path):
    pairs = list(zip(IMAGES.astype("uint8"), ["one two", "three"]))
    model = RNNCaptioner.from_corpus(
        pairs, filters=(4,), hidden_dim=8, embedding_dim=4, feature_dim=4
    )
    export_model(model, tmp_path / "export", beam_width=2)
    nan, inf = IMAGES.copy(), IMAGES.copy()
    nan[0, 3, 3, 0], inf[1, 0, 0, 0] = np.nan, np.inf
    arrays = {"none": IMAGES[:0], "no_bytes": EMPTY_TEXT, "nan": nan, "inf": inf, "good": IMAGES}
    calls = [
        ("serving_default", {"images": "none"}),
        ("beam", {"images": "none"}),
        ("image_bytes", {"image_bytes": "no_bytes"}),
        ("serving_default", {"images": "nan"}),
        ("beam", {"images": "inf"}),
        ("serving_default", {"images": "good"}),
    ]
    outputs, report = serve(tmp_path / "export", arrays, calls)
    errors = _errors(report)
    for index in range(3):
        assert index not in errors, errors[index]
        assert outputs[f"{index}/ids"].shape == (0, model.max_caption_length)
        assert outputs[f"{index}/text"].shape == (0,)
    for index in (3, 4):
        assert (
            "InvalidArgumentError" in errors[index] and "`images` must be finite" in errors[index]
        )
    assert outputs["5/text"].tolist() == model.caption(IMAGES).text
    with pytest.raises(ValueError):  # Keras refuses NaN pixels too
        model.caption(nan)


def test_vit_signatures_export_json_and_permissions(tmp_path):
    model = VisionTransformer(
        image_size=16, patch_size=8, num_classes=3, hidden_dim=8, num_layers=1, num_heads=2,
        mlp_dim=8, num_channels=1,
    )  # fmt: skip
    out = tmp_path / "export"
    export_model(model, out)
    metadata = json.loads((out / "export.json").read_text())
    assert metadata["signatures"] == ["serving_default"]
    nan = IMAGES.copy()
    nan[0, 0, 0, 0] = np.nan
    outputs, report = serve(out, {"none": IMAGES[:0], "nan": nan}, [
        ("serving_default", {"images": "none"}),
        ("serving_default", {"images": "nan"}),
    ])  # fmt: skip
    errors = _errors(report)
    assert 0 not in errors and outputs["0/probabilities"].shape == (0, 3)
    assert outputs["0/top_k_indices"].shape == (0, 3)
    assert "`images` must be finite" in errors[1]
    # Readable by others, as the umask allows: folders r-x, files r--.
    umask = os.umask(0)
    os.umask(umask)
    for path in [out, *out.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        wanted = (0o755 if path.is_dir() else 0o644) & ~umask
        assert mode & wanted == wanted, (path, oct(mode))
