import json

import keras
import numpy as np
import pytest

import keras_seqattn_registry
from keras_seqattn import cli

SMALL = ["--epochs", "1", "--train-limit", "128", "--eval-limit", "16", "--batch-size", "32"]
TINY_SIZES = ["--hidden-dim", "16", "--embedding-dim", "8"]
# Every registered captioner, by its command-line name.
CAPTIONERS = {
    name: app
    for name, app in keras_seqattn_registry.APPLICATIONS.items()
    if app.task == "captioning"
}


def _tiny_size_flags(app):
    """The tiny sizes of the size options `app` has (a named --config is tiny already)."""
    flags = {option.flag for option in app.options}
    tiny = dict(zip(TINY_SIZES[::2], TINY_SIZES[1::2]), **{"--feature-dim": "8"})
    return [item for flag, value in tiny.items() if flag in flags for item in (flag, value)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    cli.main(
        [
            "train",
            "attention-seq2seq",
            "--dataset",
            "date_normalization",
            "--out",
            str(out),
            *SMALL,
            *TINY_SIZES,
        ]
    )
    return out


def test_train_writes_model_metrics_and_heatmap(trained):
    metrics = json.loads((trained / "metrics.json").read_text())
    assert metrics["model"] == "AttentionSeq2Seq" and metrics["test_examples"] == 16
    assert 0.0 <= metrics["exact_match"] <= 1.0 and len(metrics["history"]["loss"]) == 1
    assert sum(r["count"] for r in metrics["exact_match_by_source_words"]) == 16
    assert (trained / "model.keras").stat().st_size > 0
    assert (trained / "attention.png").read_bytes()[:4] == b"\x89PNG"


def test_predict_and_evaluate_use_the_saved_model(trained, capsys):
    cli.main(["predict", str(trained / "model.keras"), "3. Mai 2021", "May 3, 2021"])
    # One line per input; a barely trained model's translation may be empty.
    assert len(capsys.readouterr().out.splitlines()) == 2
    cli.main(
        [
            "evaluate",
            str(trained / "model.keras"),
            "--dataset",
            "date_normalization",
            "--limit",
            "8",
        ]
    )
    assert json.loads(capsys.readouterr().out)["count"] == 8


@pytest.mark.only_backend(
    "jax",
    reason="the CLI path (a fresh head, the data resized in tf.data); from_pretrained itself "
    "runs on every backend in tests/applications/test_vit_pretrained.py",
)
def test_train_vit_fine_tunes_pretrained_weights(tmp_path, capsys, monkeypatch):
    transformers = pytest.importorskip("transformers")
    checkpoint = tmp_path / "checkpoint"
    size = dict(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    config = transformers.ViTConfig(image_size=48, patch_size=16, num_labels=3, **size)
    transformers.ViTForImageClassification(config).save_pretrained(checkpoint)
    out = tmp_path / "run"
    cli.main(["train", "vit", "--dataset", "digits", "--weights", str(checkpoint), *SMALL,
              "--out", str(out)])  # fmt: skip
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["weights"] == str(checkpoint) and metrics["config"] is None
    model = keras.saving.load_model(out / "model.keras")
    # The checkpoint's 48 x 48 RGB; the 32 x 32 grey digits were resized and repeated.
    assert model.input_shape == (None, 48, 48, 3) and model.output_shape == (None, 10)
    assert np.abs(keras.ops.convert_to_numpy(model.get_layer("head").kernel)).sum() > 0
    # The same run again, the checkpoint spelt relative to another folder: it resumes.
    monkeypatch.chdir(tmp_path)
    cli.main(["train", "vit", "--dataset", "digits", "--weights", "checkpoint", *SMALL,
              "--out", str(out)])  # fmt: skip
    assert json.loads((out / "metrics.json").read_text())["resumed_from_epoch"] == 1


def test_train_vit_on_digits(tmp_path, capsys):
    cli.main(
        [
            "train",
            "vit",
            "--dataset",
            "digits",
            "--config",
            "vit_micro_digits",
            "--epochs",
            "1",
            "--train-limit",
            "64",
            "--eval-limit",
            "16",
            "--batch-size",
            "32",
            "--out",
            str(tmp_path),
        ]
    )
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["parameters"] == 20_138 and 0.0 <= summary["test_accuracy"] <= 1.0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["config"] == "vit_micro_digits" and metrics["test_examples"] == 16
    assert (tmp_path / "model.keras").stat().st_size > 0
    assert (tmp_path / "attention.png").read_bytes()[:4] == b"\x89PNG"
    # predict takes image files (resized and converted as tests/text checks); one of
    # the model's size and channels is read as it is.
    model = keras.saving.load_model(tmp_path / "model.keras")
    size = model.get_config()["image_size"]
    image = np.random.default_rng(0).integers(0, 256, (size, size, 1)).astype("uint8")
    keras.utils.save_img(tmp_path / "digit.png", image)
    expected = int(np.argmax(model.predict(image[None].astype("float32"), verbose=0)))
    capsys.readouterr()
    cli.main(["predict", str(tmp_path / "model.keras"), str(tmp_path / "digit.png")])
    path, label, probability = capsys.readouterr().out.strip().split("\t")
    assert path.endswith("digit.png") and int(label) == expected and 0 < float(probability) <= 1
    # A text where an image file belongs; a file that is no image.
    with pytest.raises(SystemExit, match="takes image files; there is no file at 'forty two'"):
        cli.main(["predict", str(tmp_path / "model.keras"), "forty two"])
    (tmp_path / "not_an_image.png").write_text("text")
    with pytest.raises(SystemExit, match="Cannot read"):
        cli.main(["predict", str(tmp_path / "model.keras"), str(tmp_path / "not_an_image.png")])


@pytest.mark.slow  # Compiles a Transformer train step: about 20 s on a small CPU.
def test_train_transformer_seq2seq(tmp_path, capsys):
    options = [
        "--hidden-dim",
        "16",
        "--num-layers",
        "1",
        "--num-heads",
        "2",
        "--intermediate-dim",
        "32",
    ]
    cli.main(
        [
            "train",
            "transformer-seq2seq",
            "--dataset",
            "date_normalization",
            "--out",
            str(tmp_path),
            *SMALL,
            *options,
        ]
    )
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["model"] == "TransformerSeq2Seq" and metrics["test_examples"] == 16
    assert (tmp_path / "attention.png").read_bytes()[:4] == b"\x89PNG"
    capsys.readouterr()
    cli.main(["predict", str(tmp_path / "model.keras"), "3. Mai 2021"])
    assert len(capsys.readouterr().out.splitlines()) == 1  # Possibly empty: 4 steps of training.


@pytest.mark.slow  # Generates digit_scenes on first use (about 40 s), then trains briefly.
@pytest.mark.only_backend(
    "jax",
    reason="the CLI's plumbing is backend independent (each captioner's fit runs on every "
    "backend in tests/applications); the JAX pass, CI's shortest, keeps it",
)
@pytest.mark.parametrize("model", list(CAPTIONERS))
def test_train_and_evaluate_captioners(model, tmp_path, capsys):
    sizes = [*SMALL, *_tiny_size_flags(CAPTIONERS[model])]
    cli.main(["train", model, "--dataset", "digit_scenes", "--out", str(tmp_path), *sizes])
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["test_examples"] == 16 and 0.0 <= metrics["exact_match"] <= 1.0
    assert {"bleu", "cider", "attention_localization"} <= set(metrics)
    assert (tmp_path / "model.keras").stat().st_size > 0
    assert (tmp_path / "attention.png").exists() == (model != "rnn-captioner")
    capsys.readouterr()
    cli.main(
        ["evaluate", str(tmp_path / "model.keras"), "--dataset", "digit_scenes", "--limit", "8"]
    )
    assert json.loads(capsys.readouterr().out)["count"] == 8
    image = np.random.default_rng(0).integers(0, 256, (20, 24, 3)).astype("uint8")
    keras.utils.save_img(tmp_path / "scene.png", image)
    cli.main(["predict", str(tmp_path / "model.keras"), str(tmp_path / "scene.png")])
    line = capsys.readouterr().out.rstrip("\n")
    assert line.startswith(str(tmp_path / "scene.png") + "\t") and line.count("\n") == 0
