import json

import keras
import numpy as np
import pytest

from keras_seqattn import cli

SMALL = [
    "--epochs",
    "1",
    "--train-limit",
    "128",
    "--eval-limit",
    "16",
    "--hidden-dim",
    "16",
    "--embedding-dim",
    "8",
    "--batch-size",
    "32",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    cli.main(
        ["train", "attention-seq2seq", "--dataset", "date_normalization", "--out", str(out), *SMALL]
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


def test_bad_input_gets_clear_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as error:
        cli.main(
            [
                "train",
                "attention-seq2seq",
                "--dataset",
                "date_normalization",
                "--epochs",
                "0",
                "--out",
                str(tmp_path),
            ]
        )
    assert error.value.code == 2 and "--epochs must be >= 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["train", "no-such-model", "--dataset", "x", "--out", str(tmp_path)])
    with pytest.raises(ValueError, match="number_words"):
        cli.main(
            ["train", "seq2seq-rnn", "--dataset", "no_such_data", "--out", str(tmp_path), *SMALL]
        )
    with pytest.raises(SystemExit, match="No model file at this path"):
        cli.main(["predict", str(tmp_path / "missing.keras"), "hello"])


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
    # predict takes image files: any size, converted to the model's size and channels.
    image = np.random.default_rng(0).integers(0, 256, (40, 30, 3)).astype("uint8")
    keras.utils.save_img(tmp_path / "digit.png", image)
    model = keras.saving.load_model(tmp_path / "model.keras")
    size = (model.get_config()["image_size"],) * 2  # digits: square, 8 x 8
    reference = keras.utils.img_to_array(
        keras.utils.load_img(tmp_path / "digit.png", color_mode="grayscale", target_size=size)
    )
    expected = int(np.argmax(model.predict(reference[None], verbose=0)))
    capsys.readouterr()
    cli.main(["predict", str(tmp_path / "model.keras"), str(tmp_path / "digit.png")])
    path, label, probability = capsys.readouterr().out.strip().split("\t")
    assert path.endswith("digit.png") and int(label) == expected and 0 < float(probability) <= 1
    with pytest.raises(SystemExit):  # a text where an image file belongs
        cli.main(["predict", str(tmp_path / "model.keras"), "forty two"])
    assert "this model takes image files; no file at 'forty two'" in capsys.readouterr().err
    (tmp_path / "not_an_image.png").write_text("text")
    with pytest.raises(SystemExit):
        cli.main(["predict", str(tmp_path / "model.keras"), str(tmp_path / "not_an_image.png")])
    assert "cannot read" in capsys.readouterr().err
    with pytest.raises(ValueError, match="config_name='vit_x'"):
        cli.main(
            ["train", "vit", "--dataset", "digits", "--config", "vit_x", "--out", str(tmp_path)]
        )


@pytest.mark.slow  # Compiles a Transformer train step: about 20 s on a small CPU.
def test_train_transformer_seq2seq(tmp_path, capsys):
    options = ["--num-layers", "1", "--num-heads", "2", "--intermediate-dim", "32"]
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
@pytest.mark.parametrize("model", ["rnn-captioner", "attention-captioner", "transformer-captioner"])
def test_train_and_evaluate_captioners(model, tmp_path, capsys):
    cli.main(
        ["train", model, "--dataset", "digit_scenes", "--out", str(tmp_path), "--feature-dim", "8"]
        + SMALL
    )
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
