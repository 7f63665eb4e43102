"""The image models exported: a captioner with attention and the ViT classifier."""

import json
import os
import stat

import numpy as np
import pytest
import tensorflow as tf

from keras_seqattn.applications import AttentionCaptioner, VisionTransformer
from keras_seqattn.export import export_model
from tests.export.export_checks import assert_builtin_ops, randomize, serve

pytestmark = pytest.mark.only_backend(
    "tensorflow", reason="exports run on the TensorFlow backend; other backends re-run it there"
)


def _png(image):
    return tf.io.encode_png(image).numpy()


@pytest.fixture(scope="module")
def captioner(tmp_path_factory):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (3, 16, 16, 1)).astype("uint8")
    pairs = [(images[0], "seven three"), (images[1], "one two"), (images[2], "four")]
    model = AttentionCaptioner.from_corpus(
        pairs, filters=(4, 8), hidden_dim=8, embedding_dim=8, feature_dim=8
    )
    randomize(model, scale=0.3)
    out = tmp_path_factory.mktemp("captioner") / "export"
    export_model(model, out, tflite=True, beam_width=2)
    # Another size and RGB: the bytes signature resizes and converts by the policy.
    rgb = rng.integers(0, 256, (20, 24, 3)).astype("uint8")
    settings = dict(max_length=model.max_caption_length, start_id=2, stop_id=3)
    floats = images.astype("float32")
    keras = {
        "greedy": model.caption(images),
        "beam": model.generate_ids(floats, beam_width=2, **settings),
        "rgb": model.caption(rgb[None]),
    }
    arrays = {
        "images": floats,
        "pngs": np.array([_png(i) for i in images], dtype=object).astype(bytes),
        "rgb_png": np.array([_png(rgb)]).astype(bytes),
        "wrong_size": np.zeros((1, 8, 8, 1), "float32"),
        "one": floats[:1],
        "no_images": floats[:0],
        "no_pngs": np.zeros((0,), "S1"),
        "nan": np.where(np.arange(floats.size).reshape(floats.shape) == 40, np.nan, floats),
        "inf": np.where(np.arange(floats.size).reshape(floats.shape) == 7, np.inf, floats),
    }
    calls = [
        ("serving_default", {"images": "images"}),
        ("image_bytes", {"image_bytes": "pngs"}),
        ("image_bytes", {"image_bytes": "rgb_png"}),
        ("beam", {"images": "images"}),
        ("attention", {"images": "images"}),
        ("serving_default", {"images": "wrong_size"}),
        ("serving_default", {"images": "no_images"}),
        ("image_bytes", {"image_bytes": "no_pngs"}),
        ("beam", {"images": "no_images"}),
        ("attention", {"images": "no_images"}),
        ("serving_default", {"images": "nan"}),
        ("beam", {"images": "inf"}),
        ("attention", {"images": "nan"}),
    ]
    outputs, report = serve(out, arrays, calls, tflite=[("model.tflite", {"images": "one"})])
    return dict(model=model, out=out, keras=keras, outputs=outputs, report=report)


def test_captioner_signatures(captioner):
    signatures = captioner["report"]["signatures"]
    assert set(signatures) == {"serving_default", "image_bytes", "beam", "attention"}
    length = captioner["model"].max_caption_length
    assert signatures["serving_default"]["inputs"] == {"images": ["float32", [None, 16, 16, 1]]}
    assert signatures["image_bytes"]["inputs"] == {"image_bytes": ["string", [None]]}
    assert signatures["image_bytes"]["outputs"]["text"] == ["string", [None]]
    assert signatures["attention"]["outputs"]["attention"] == ["float32", [None, length, 16]]
    assert captioner["report"]["modules"] == []


def test_captions_match_keras(captioner):
    greedy, outputs = captioner["keras"]["greedy"], captioner["outputs"]
    assert any(len(t) for t in greedy.text), "the random model should say something"
    np.testing.assert_array_equal(outputs["0/ids"], greedy.ids)
    assert list(outputs["0/text"]) == greedy.text
    np.testing.assert_array_equal(outputs["1/ids"], greedy.ids)  # PNG bytes, same pixels
    assert list(outputs["2/text"]) == captioner["keras"]["rgb"].text  # resized, grey
    np.testing.assert_array_equal(outputs["3/ids"], captioner["keras"]["beam"].ids)
    for row, attention in enumerate(greedy.attention):
        np.testing.assert_allclose(
            outputs["4/attention"][row, : len(attention)], attention, atol=1e-5
        )


def test_captioner_empty_batch_gives_empty_outputs(captioner):
    """Every signature answers a batch of 0 with 0 rows (the RNN decoder loop crashed)."""
    report, outputs = captioner["report"], captioner["outputs"]
    length = captioner["model"].max_caption_length
    for index in range(6, 10):
        assert f"error_{index}" not in report, report[f"error_{index}"]
        assert outputs[f"{index}/ids"].shape == (0, length)
        assert outputs[f"{index}/text"].shape == outputs[f"{index}/lengths"].shape == (0,)
    assert outputs["9/attention"].shape == (0, length, 16)


def test_captioner_non_finite_pixels_fail_at_the_signature(captioner):
    """NaN or infinite pixels got a caption; Keras refuses them too."""
    report = captioner["report"]
    for index in range(10, 13):
        assert "InvalidArgumentError" in report[f"error_{index}"]
        assert "`images` must be finite; it holds NaN or infinity" in report[f"error_{index}"]
    with pytest.raises(ValueError):
        captioner["model"].caption(np.full((1, 16, 16, 1), np.nan, "float32"))


def test_captioner_wrong_shape_fails_at_the_signature(captioner):
    assert "error_5" in captioner["report"]
    assert "expected shape [?,16,16,1]" in captioner["report"]["error_5"]


def test_captioner_tflite(captioner):
    assert_builtin_ops(captioner["report"]["tflite_ops_0"])
    np.testing.assert_array_equal(
        captioner["outputs"]["tflite_0/ids"], captioner["keras"]["greedy"].ids[:1]
    )
    vocabulary = json.loads((captioner["out"] / "vocabulary.json").read_text())
    assert vocabulary == captioner["model"].tokenizer.vocabulary


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    model = VisionTransformer(
        image_size=16,
        patch_size=8,
        num_classes=3,
        hidden_dim=8,
        num_layers=1,
        num_heads=2,
        mlp_dim=8,
        num_channels=1,
        # What from_pretrained sets for many checkpoints, exported through the same path
        # (test_every_application_export covers the defaults).
        pixel_mean=0.45,
        pixel_std=0.22,
        activation="gelu_tanh",
    )
    randomize(model)
    out = tmp_path_factory.mktemp("vit") / "export"
    export_model(model, out, tflite=True, top_k=2, label_names=["zero", "one", "two"])
    images = np.random.default_rng(1).uniform(0, 255, (4, 16, 16, 1)).astype("float32")
    probabilities = tf.nn.softmax(model(images)).numpy()
    nan = images.copy()
    nan[0, 0, 0, 0] = np.nan
    outputs, report = serve(
        out,
        {"images": images, "one": images[:1], "none": images[:0], "nan": nan},
        [
            ("serving_default", {"images": "images"}),
            ("serving_default", {"images": "none"}),
            ("serving_default", {"images": "nan"}),
        ],
        tflite=[("model.tflite", {"images": "one"})],
    )
    return dict(out=out, probabilities=probabilities, outputs=outputs, report=report)


def test_vit_signature_and_outputs(classifier):
    signature = classifier["report"]["signatures"]["serving_default"]
    assert signature["inputs"] == {"images": ["float32", [None, 16, 16, 1]]}
    assert signature["outputs"] == {
        "probabilities": ["float32", [None, 3]],
        "top_k_indices": ["int32", [None, 2]],
        "top_k_probabilities": ["float32", [None, 2]],
        "top_k_labels": ["string", [None, 2]],
    }
    outputs, expected = classifier["outputs"], classifier["probabilities"]
    np.testing.assert_allclose(outputs["0/probabilities"], expected, atol=1e-6)
    top = np.argsort(-expected, axis=1)[:, :2]
    np.testing.assert_array_equal(outputs["0/top_k_indices"], top)
    np.testing.assert_array_equal(outputs["0/top_k_labels"], np.array(["zero", "one", "two"])[top])


def test_vit_empty_batch_and_non_finite_pixels(classifier):
    report, outputs = classifier["report"], classifier["outputs"]
    assert "error_1" not in report, report["error_1"]
    assert outputs["1/probabilities"].shape == (0, 3)
    assert outputs["1/top_k_indices"].shape == outputs["1/top_k_labels"].shape == (0, 2)
    assert "`images` must be finite; it holds NaN or infinity" in report["error_2"]


def test_vit_export_json_lists_its_signatures(classifier):
    metadata = json.loads((classifier["out"] / "export.json").read_text())
    assert metadata["signatures"] == ["serving_default"]
    assert metadata["family"] == "image_classification"


def test_export_is_readable_by_others_as_the_umask_allows(classifier):
    """TF Serving often runs as another user; the staging folder was 0700."""
    umask = os.umask(0)
    os.umask(umask)
    for path in [classifier["out"], *classifier["out"].rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        wanted = (0o755 if path.is_dir() else 0o644) & ~umask
        assert mode & wanted == wanted, (path, oct(mode))


def test_vit_tflite(classifier):
    assert_builtin_ops(classifier["report"]["tflite_ops_0"])
    np.testing.assert_allclose(
        classifier["outputs"]["tflite_0/probabilities"], classifier["probabilities"][:1], atol=1e-5
    )
