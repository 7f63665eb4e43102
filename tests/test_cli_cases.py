"""The command line as a user meets it: a user error is one line, a non-zero exit, no
traceback, and every file stays as it was; a finished run trains on; images and
datasets of the wrong kind are refused instead of giving silent wrong answers.

The table runs in this process (`keras_seqattn.cli.main`); a few cases run through
the installed console script (`--backend`, `--help`, the silenced start).
"""

import hashlib
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time
import warnings
import zipfile

import keras
import numpy as np
import pytest
from PIL import Image

import keras_seqattn_cli
from keras_seqattn import cli, datasets
from keras_seqattn.applications import AttentionCaptioner, AttentionSeq2Seq, VisionTransformer
from keras_seqattn.saving import load_model

IN_PROCESS = pytest.mark.only_backend(
    "jax",
    reason="argument and file handling, backend independent (the model work under them is "
    "tested on every backend elsewhere); the JAX pass is CI's shortest",
)

TINY = ["--hidden-dim", "8", "--embedding-dim", "8", "--batch-size", "32"]
TINY_RUN = ["--train-limit", "64", "--eval-limit", "4", *TINY]
PAIRS = [("3. Mai 2021", "2021-05-03"), ("May 3, 2021", "2021-05-03"), ("1/2/99", "1999-01-02")]


def _scene(seed):
    return np.random.default_rng(seed).integers(0, 256, (32, 32, 1)).astype("uint8")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Saved (untrained) models of each kind, image files, and a finished 1-epoch run."""
    root = tmp_path_factory.mktemp("cli")
    for name in ("date_normalization", "digits", "digit_scenes"):
        datasets.prepare(name)  # generated first, so no progress bar joins an error's line
    AttentionSeq2Seq.from_corpus(
        PAIRS, source_mode="character", target_mode="character", hidden_dim=8, embedding_dim=8
    ).save(root / "translator.keras")
    AttentionCaptioner.from_corpus(
        [(_scene(0), "one two"), (_scene(1), "three")], hidden_dim=8, embedding_dim=8, feature_dim=8
    ).save(root / "captioner.keras")
    vit = VisionTransformer(
        image_size=32, patch_size=8, num_classes=10, hidden_dim=8, num_layers=1, num_heads=2,
        mlp_dim=8, num_channels=1,
    )  # fmt: skip
    # The head starts at zero (uniform answers); random, so that answers depend on pixels.
    rng = np.random.default_rng(0)
    for variable in vit.get_layer("head").weights:
        variable.assign(rng.normal(0.0, 1.0, variable.shape).astype("float32"))
    vit.save(root / "vit.keras")
    image = _scene(2)
    Image.fromarray(image[..., 0]).save(root / "scene8.png")
    # The same picture as a 16-bit PNG: v * 257 maps 0-255 onto 0-65535 exactly.
    Image.fromarray(image[..., 0].astype("uint16") * 257).save(root / "scene16.png")
    data = (root / "scene8.png").read_bytes()
    (root / "truncated.png").write_bytes(data[: len(data) // 2])
    (root / "not_a_zip.keras").write_text("hello")
    shutil.copy(root / "translator.keras", root / "bad_weights.keras")
    _replace_in_zip(root / "bad_weights.keras", "model.weights.h5", b"\x89HDF\r\n garbage")
    (root / "labels.json").write_text("[not json")
    (root / "a_file").write_text("keep me")
    run = root / "run"
    assert cli.main(["train", "attention-seq2seq", "--dataset", "date_normalization",
                     "--out", str(run), "--epochs", "1", *TINY_RUN]) == 0  # fmt: skip
    foreign = root / "foreign"
    foreign.mkdir()
    shutil.copy(root / "translator.keras", foreign / "model.keras")
    model_dir = root / "model_dir"
    model_dir.mkdir()
    shutil.copy(root / "translator.keras", model_dir / "model.keras")
    (model_dir / "notes.txt").write_text("mine")
    return root


def _replace_in_zip(path, name, content):
    with zipfile.ZipFile(path) as archive:
        entries = {n: archive.read(n) for n in archive.namelist()}
    entries[name] = content
    with zipfile.ZipFile(path, "w") as archive:
        for entry, data in entries.items():
            archive.writestr(entry, data)


def _snapshot(root):
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else ""
        for p in sorted(root.rglob("*"))
    }


def _run(argv, capsys):
    """`(exit code, stderr)` of `cli.main(argv)`; a message exit counts as code 1."""
    try:
        code = cli.main(argv)
    except SystemExit as exit:
        code = exit.code
    err = capsys.readouterr().err
    if isinstance(code, str):
        err, code = err + code + "\n", 1
    return code, err


T = ["train", "attention-seq2seq", "--dataset", "date_normalization", "--epochs", "1"]
VIT = ["train", "vit", "--dataset", "digits", "--epochs", "1"]
CAPTION = ["train", "attention-captioner", "--dataset", "digit_scenes", "--epochs", "1"]
NEW = "{root}/new_run"  # an --out that must not come into being
EVALUATE = ["evaluate", "{root}/translator.keras", "--dataset", "date_normalization"]

CASES = [
    # Found while running: exit 1.
    ("vit weights", [*VIT, "--out", NEW, "--weights", "{root}/none"], 1, "with a config.json"),
    ("unknown dataset", [*T, "--out", NEW, "--dataset", "foo"], 1, "Unknown dataset 'foo'"),
    ("unknown config", [*T, "--out", NEW, "--dataset", "number_words/en_to_xx"], 1, "en_to_de"),
    ("vit config", [*VIT, "--out", NEW, "--config", "nope"], 1, "Unknown ViT config"),
    (
        "captioner config",
        [
            "train",
            "transformer-captioner",
            "--dataset",
            "digit_scenes",
            "--out",
            NEW,
            "--config",
            "nope",
        ],
        1,
        "--config must be one of",
    ),  # fmt: skip
    ("seq2seq on digits", [*T, "--out", NEW, "--dataset", "digits"], 1, "holds no translation"),
    ("captioner on dates", [*CAPTION, "--out", NEW, "--dataset", "date_normalization"], 1, "image"),
    ("vit on scenes", [*VIT, "--out", NEW, "--dataset", "digit_scenes"], 1, "no feature 'label'"),
    (
        "heads divide",
        [
            "train",
            "transformer-seq2seq",
            "--dataset",
            "date_normalization",
            "--out",
            NEW,
            "--num-heads",
            "7",
            "--hidden-dim",
            "30",
            "--train-limit",
            "8",
        ],
        1,
        "`num_heads` must divide",
    ),  # fmt: skip
    ("out is a file", [*T, "--out", "{root}/a_file"], 1, "is a file"),
    ("out under a file", [*T, "--out", "{root}/a_file/run"], 1, "is a file"),
    (
        "resume other options",
        [
            *T,
            "--out",
            "{root}/run",
            *TINY_RUN[:4],
            "--hidden-dim",
            "16",
            "--embedding-dim",
            "8",
            "--batch-size",
            "32",
        ],
        1,
        r"other arguments.*hidden_dim=16 \(saved: 8\)",
    ),  # fmt: skip
    ("foreign model.keras", [*T, "--out", "{root}/foreign", *TINY_RUN], 1, "already holds a mo"),
    ("missing model", ["predict", "{root}/missing.keras", "x"], 1, "No model file"),
    ("not a zip", ["predict", "{root}/not_a_zip.keras", "x"], 1, "not one or is damaged"),
    ("bad weights", ["predict", "{root}/bad_weights.keras", "x"], 1, "weights"),
    ("png to translator", ["predict", "{root}/translator.keras", "{root}/scene8.png"], 1, "image"),
    ("text to vit", ["predict", "{root}/vit.keras", "seven"], 1, "no file at 'seven'"),
    ("truncated png", ["predict", "{root}/captioner.keras", "{root}/truncated.png"], 1, "Cannot"),
    ("text to captioner", ["predict", "{root}/captioner.keras", "two"], 1, "takes image files"),
    (
        "evaluate on digits",
        ["evaluate", "{root}/translator.keras", "--dataset", "digits"],
        1,
        "holds no translation pairs",
    ),  # fmt: skip
    (
        "evaluate captioner",
        ["evaluate", "{root}/captioner.keras", "--dataset", "date_normalization"],
        1,
        "no feature 'image'",
    ),  # fmt: skip
    ("evaluate vit", ["evaluate", "{root}/vit.keras", "--dataset", "digit_scenes"], 1, "label"),
    (
        "unknown split",
        [
            "evaluate",
            "{root}/translator.keras",
            "--dataset",
            "date_normalization",
            "--split",
            "nope",
        ],
        1,
        "Unknown split 'nope'",
    ),  # fmt: skip
    (
        "labels not json",
        ["export", "{root}/vit.keras", "--out", NEW, "--labels", "{root}/labels.json"],
        1,
        "not JSON",
    ),  # fmt: skip
    (
        "labels missing",
        ["export", "{root}/vit.keras", "--out", NEW, "--labels", "{root}/missing.json"],
        1,
        "No such file",
    ),  # fmt: skip
    (
        "export to a file",
        ["export", "{root}/vit.keras", "--out", "{root}/a_file"],
        1,
        r"`out` is a file, which an export leaves untouched .*: choose another path. "
        r"Received: out='.*a_file'$",
    ),
    (
        "split reversed",
        [*EVALUATE, "--split", "test[50%:10%]"],
        1,
        r"split 'test\[50%:10%\]' selects no examples of the 2000 in 'test': expected "
        r"test\[from:to\] with from before to",
    ),
    ("split empty", [*EVALUATE, "--split", "test[:0]"], 1, r"'test\[:0\]' selects no examples"),
    ("split past the end", [*EVALUATE, "--split", "test[5000:]"], 1, "Cannot read the split"),
    (
        "dataset version",
        [*EVALUATE[:-1], "date_normalization:9.9.9"],
        1,
        "Unknown version '9.9.9' of dataset 'date_normalization': expected one of 1.0.0",
    ),
    # An export replaces only an earlier export: never the model's own folder, a file,
    # or a folder of other files.
    (
        "export over its model",
        ["export", "{root}/model_dir/model.keras", "--out", "{root}/model_dir", "--overwrite"],
        1,
        "folder that holds it",
    ),
    (
        "export over a file",
        ["export", "{root}/vit.keras", "--out", "{root}/a_file", "--overwrite"],
        1,
        "is a file",
    ),  # fmt: skip
    (
        "export over a folder",
        ["export", "{root}/vit.keras", "--out", "{root}/foreign", "--overwrite"],
        1,
        "without export.json",
    ),  # fmt: skip
    # Not "pass --overwrite", which is refused for a folder of other files.
    (
        "export to a folder",
        ["export", "{root}/vit.keras", "--out", "{root}/foreign"],
        1,
        "a folder without export.json, which an export leaves untouched .*: choose another path",
    ),
]


# Usage errors (exit 2) that the grammar decides, each with the environment it runs in.
JAX = {"KERAS_BACKEND": "jax"}
USAGE_CASES = [
    (name, argv, JAX, message)
    for name, argv, _, message in [  # argparse's own: a bad value
    ("epochs 0", [*T, "--out", NEW, "--epochs", "0"], 2, "--epochs: expected a finite int >= 1"),
    ("hidden 0", [*T, "--out", NEW, "--hidden-dim", "0"], 2, "--hidden-dim: expected"),
    ("embedding -4", [*T, "--out", NEW, "--embedding-dim", "-4"], 2, "--embedding-dim"),
    ("vocabulary 0", [*T, "--out", NEW, "--vocabulary-size", "0"], 2, "--vocabulary-size"),
    ("lr nan", [*T, "--out", NEW, "--learning-rate", "nan"], 2, "finite float > 0.0, got 'nan'"),
    ("lr -1", [*T, "--out", NEW, "--learning-rate", "-1"], 2, "--learning-rate"),
    ("decay nan", [*VIT, "--out", NEW, "--weight-decay", "nan"], 2, "--weight-decay"),
    ("warmup -1", [*VIT, "--out", NEW, "--warmup-epochs", "-1"], 2, "--warmup-epochs"),
    ("vit image size", [*VIT, "--out", NEW, "--image-size", "0"], 2, "--image-size: expected"),
    ("rnn num heads", [*T, "--out", NEW, "--num-heads", "2"], 2, "unrecognized arguments"),
    ("out empty", [*T, "--out", ""], 2, "--out: expected a path"),
    ("unknown model", ["train", "nope", "--dataset", "x", "--out", NEW], 2, "invalid choice"),
    ("beam 0", ["predict", "{root}/translator.keras", "x", "--beam-width", "0"], 2, "--beam"),
    ("penalty", ["export", "{root}/vit.keras", "--out", NEW, "--length-penalty", "-1"], 2, "--len"),
    ]
] + [
    # The backend, from --backend, KERAS_BACKEND or Keras's keras.json: one line naming ours.
    ("backend nonsense", ["predict", "m.keras", "x"], {"KERAS_BACKEND": "nonsense"},
     "KERAS_BACKEND names the Keras backend 'nonsense'; keras-seqattn runs on tensorflow, "
     "jax, torch: set KERAS_BACKEND to one of them, or pass --backend"),
    ("backend JAX", ["predict", "m.keras", "x"], {"KERAS_BACKEND": "JAX"},
     r"backend 'JAX' \(did you mean 'jax'\?\); keras-seqattn runs on tensorflow, jax, torch"),
    ("backend numpy", ["predict", "m.keras", "x"], {"KERAS_BACKEND": "numpy"}, "'numpy'"),
    ("backend openvino", [*T, "--out", NEW], {"KERAS_BACKEND": "openvino"}, "'openvino'"),
    ("backend of keras.json", ["predict", "m.keras", "x"],
     {"KERAS_BACKEND": "", "KERAS_HOME": "{root}/keras_home"},
     r"Keras's config .*keras_home/keras.json names the Keras backend 'numpy'"),
    ("--backend nonsense", ["--backend", "nonsense", "predict", "m.keras", "x"], {},
     r"--backend: invalid choice: 'nonsense' \(choose from 'tensorflow', 'jax', 'torch'\)"),
    # Options that exclude each other, or an option and the backend.
    # An option of another kind of model, read from the saved file's config.json.
    ("beams of a vit", ["predict", "{root}/vit.keras", "x.png", "--beam-width", "3"], JAX,
     r"--beam-width applies to translators and captioners, and '.*/vit.keras' is an image "
     "classifier, which has no search"),
    ("evaluate beams of a vit", ["evaluate", "{root}/vit.keras", "--dataset", "digits",
     "--beam-width", "2"], JAX, "--beam-width applies to translators and captioners"),
    ("export beams of a vit", ["export", "{root}/vit.keras", "--out", NEW, "--length-penalty",
     "0.6"], JAX, "--beam-width and --length-penalty apply to translators and captioners"),
    # Given, even at the value a translator without generation defaults would get.
    ("export 4 beams of a vit", ["export", "{root}/vit.keras", "--out", NEW, "--beam-width",
     "4"], JAX, "--beam-width and --length-penalty apply to translators and captioners"),
    ("export no penalty for a vit", ["export", "{root}/vit.keras", "--out", NEW,
     "--length-penalty", "0"], JAX, "--beam-width and --length-penalty apply to translators"),
    ("export labels of a translator", ["export", "{root}/translator.keras", "--out", NEW,
     "--labels", "labels.json"], JAX,
     r"--top-k and --labels apply to an image classifier, and '.*/translator.keras' is a "
     "translator "),
    ("quantize alone", ["export", "m.keras", "--out", NEW, "--quantize", "float16"], JAX,
     "--quantize float16 applies to the TFLite model; add --tflite"),
    ("penalty without beams", ["export", "m.keras", "--out", NEW, "--beam-width", "1",
     "--length-penalty", "0.6"], JAX, "--length-penalty 0.6 applies to the beam signatures"),
    ("devices on torch", [*T, "--out", NEW, "--data-parallel", "2"], {"KERAS_BACKEND": "torch"},
     "no distribution for the torch backend.*--backend jax"),
    ("model parallel on tensorflow", [*T, "--out", NEW, "--model-parallel", "2"],
     {"KERAS_BACKEND": "tensorflow"}, "--model-parallel 2: TensorFlow trains data parallel only"),
    ("batch over replicas", [*T, "--out", NEW, "--data-parallel", "2", "--batch-size", "33"],
     JAX, "--batch-size 33 is split over --data-parallel 2 replicas, so it must divide by 2"),
    ("limit under a batch", [*T, "--out", NEW, "--data-parallel", "2", "--train-limit", "8"],
     JAX, r"--train-limit 8 is less than one whole batch \(--batch-size 64\) under "
     "--data-parallel 2"),
    ("eval limit under the replicas", [*T, "--out", NEW, "--data-parallel", "4",
     "--eval-limit", "3"], JAX, r"--eval-limit 3 is less than one whole batch \(one per replica"),
]  # fmt: skip

# One process runs every usage case through the console script's `main`, and says
# whether Keras was imported by then: a usage error must come before it, at once.
_USAGE_RUNNER = """
import contextlib, io, json, os, sys
import keras_seqattn_cli
results = []
for argv, env in json.loads(sys.argv[1]):
    saved = dict(os.environ)
    os.environ.update(env)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            code = keras_seqattn_cli.main(argv)
        except SystemExit as exit:
            code = exit.code
    os.environ.clear()
    os.environ.update(saved)
    results.append([code, err.getvalue(), "keras" in sys.modules])
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def usage_results(tmp_path_factory):
    root = tmp_path_factory.mktemp("usage")
    (root / "keras_home").mkdir()
    (root / "keras_home" / "keras.json").write_text('{"backend": "numpy"}')
    # Saved models as far as the grammar reads them: the config.json of the archive.
    for name, module, cls in (
        ("vit", "vision_transformer", "VisionTransformer"),
        ("translator", "luong_seq2seq", "LuongSeq2Seq"),
    ):
        config = {"module": f"keras_seqattn.applications.{module}", "class_name": cls}
        with zipfile.ZipFile(root / f"{name}.keras", "w") as archive:
            archive.writestr("config.json", json.dumps(config))
    cases = [
        ([a.replace("{root}", str(root)) for a in argv], {k: v.replace("{root}", str(root))
         for k, v in env.items()})
        for _, argv, env, _ in USAGE_CASES
    ]  # fmt: skip
    environment = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    result = subprocess.run(
        [sys.executable, "-c", _USAGE_RUNNER, json.dumps(cases)],
        capture_output=True, text=True, env=environment, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(zip([c[0] for c in USAGE_CASES], json.loads(result.stdout), strict=True))


@pytest.mark.backend_independent(reason="the grammar, before any backend is imported")
@pytest.mark.parametrize("name, message", [(c[0], c[3]) for c in USAGE_CASES],
                         ids=[c[0] for c in USAGE_CASES])  # fmt: skip
def test_usage_error_is_one_line_before_keras_is_imported(usage_results, name, message):
    code, err, keras_imported = usage_results[name]
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, err
    assert re.match(r"keras-seqattn( [\w-]+)*: error: ", lines[0]), lines[0]
    assert re.search(message, lines[0]), lines[0]
    assert not keras_imported


@pytest.mark.backend_independent(reason="its own process, on Keras's numpy backend")
def test_the_python_api_refuses_a_backend_it_does_not_run_on():
    environment = dict(os.environ, KERAS_BACKEND="numpy")
    code = "import keras_seqattn"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, timeout=120
    )
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "ImportError: keras-seqattn runs on the tensorflow, jax, torch backends of Keras, and "
        "Keras runs on 'numpy': set KERAS_BACKEND before Keras is first imported"
    )


@IN_PROCESS
@pytest.mark.parametrize("argv, code, message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_user_error_is_one_line_and_touches_no_file(files, argv, code, message, capsys):
    argv = [a.replace("{root}", str(files)) for a in argv]
    before = _snapshot(files)
    got, err = _run(argv, capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert got == code, err
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("keras-seqattn") and "error" in lines[0], lines[0]
    assert re.search(message, lines[0]), lines[0]
    assert _snapshot(files) == before
    assert not (files / "new_run").exists()


@keras.saving.register_keras_serializable(package="tests")
class SubclassedVit(VisionTransformer):
    """A subclass of a registered application, whose kind the grammar cannot tell."""


@IN_PROCESS
def test_options_of_another_kind_are_refused_after_a_subclass_loads(tmp_path, capsys):
    path, out = str(tmp_path / "sub.keras"), str(tmp_path / "export")
    SubclassedVit(
        image_size=8, patch_size=4, num_classes=3, hidden_dim=8, num_layers=1, num_heads=2,
        mlp_dim=8, num_channels=1,
    ).save(path)  # fmt: skip
    assert keras_seqattn_cli._saved_task(path) is None  # not a registered application's class
    refused = (
        r"--beam-width( applies| and --length-penalty apply) to translators and captioners, and "
    )
    for argv in (
        ["predict", path, "x.png", "--beam-width", "3"],
        ["evaluate", path, "--dataset", "digits", "--beam-width", "2"],
        ["export", path, "--out", out, "--beam-width", "2"],
    ):
        code, err = _run(argv, capsys)
        assert code == 2 and err.count("\n") == 1, err  # as the grammar refuses it for a ViT
        assert re.search(refused + rf"'{re.escape(path)}' is an image classifier", err), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub.keras"]


@pytest.mark.backend_independent(reason="the grammar's rule, no model")
@pytest.mark.parametrize(
    "argv, task, refused",
    [
        (["predict", "m.keras", "x", "--beam-width", "2"], "classification", True),
        (["predict", "m.keras", "x", "--beam-width", "2"], "translation", False),
        (["predict", "m.keras", "x", "--beam-width", "2"], None, False),  # told after loading
        (["export", "m.keras", "--out", "E", "--top-k", "3"], "captioning", True),
        (["export", "m.keras", "--out", "E", "--top-k", "3"], "classification", False),
        (["export", "m.keras", "--out", "E"], "translation", False),
    ],
)
def test_the_rule_for_options_of_another_kind(argv, task, refused):
    args = keras_seqattn_cli.build_parser().parse_args(argv)
    assert bool(keras_seqattn_cli.model_options_error(args, task)) == refused


@IN_PROCESS
def test_finished_run_trains_on_with_more_epochs(files, capsys):
    run = files / "run"
    first = json.loads((run / "metrics.json").read_text())
    assert (run / "checkpoint" / "state.json").exists()  # kept after a finished run
    fewer = _run([*T, "--out", str(run), "--epochs", "1", *TINY_RUN], capsys)
    assert fewer[0] == 0  # the same command again: nothing more to train
    code, err = _run([*T, "--out", str(run), "--epochs", "3", *TINY_RUN], capsys)
    assert code == 0, err
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["resumed_from_epoch"] == 1 and len(metrics["history"]["loss"]) == 3
    assert metrics["history"]["loss"][0] == first["history"]["loss"][0]
    assert metrics["train_seconds"] >= first["train_seconds"]  # all processes counted
    # The optimizer went on too: its step count covers all three epochs (2 steps each).
    assert int(load_model(run / "model.keras").optimizer.iterations.numpy()) == 3 * 2
    code, err = _run([*T, "--out", str(run), "--epochs", "2", *TINY_RUN], capsys)
    assert code == 1 and "trained for 3 epochs, more than the 2" in err


@IN_PROCESS
def test_an_empty_text_translates_without_warnings(files, capsys):
    """ "" is [STOP] alone: attention over one position, which Keras's softmax warned of."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        assert cli.main(["predict", str(files / "translator.keras"), ""]) == 0
    assert capsys.readouterr().out.count("\n") == 1


@IN_PROCESS
def test_sixteen_bit_png_gives_the_eight_bit_answer(files, capsys):
    for model in ("captioner", "vit"):
        outputs = []
        for name in ("scene8.png", "scene16.png"):
            assert cli.main(["predict", str(files / f"{model}.keras"), str(files / name)]) == 0
            outputs.append(capsys.readouterr().out.split("\t", 1)[1])
        assert outputs[0] == outputs[1], (model, outputs)
    # The 8-bit file as the model sees it: read by PIL, already the model's size.
    vit = load_model(files / "vit.keras")
    image = np.asarray(Image.open(files / "scene8.png"), "float32")[None, ..., None]
    probabilities = np.asarray(keras.ops.softmax(vit.predict(image, verbose=0)))[0]
    label, p = outputs[0].split("\t")
    assert int(label) == int(np.argmax(probabilities))
    assert float(p) == pytest.approx(float(np.max(probabilities)), abs=1e-4)


@IN_PROCESS
def test_evaluate_scores_a_vit(files, capsys):
    argv = ["evaluate", str(files / "vit.keras"), "--dataset", "digits", "--limit", "40"]
    assert cli.main(argv) == 0
    scores = json.loads(capsys.readouterr().out)
    pairs = list(datasets.load_image_labels("digits", split="test").take(40).as_numpy_iterator())
    images = np.stack([image for image, _ in pairs]).astype("float32")
    labels = np.array([label for _, label in pairs])
    predicted = np.argmax(load_model(files / "vit.keras").predict(images, verbose=0), axis=-1)
    assert scores == {"accuracy": float(np.mean(predicted == labels)), "count": 40}


def _script(*args, env=None):
    command = [str(pathlib.Path(sys.executable).with_name("keras-seqattn")), *args]
    environment = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run(
        command, capture_output=True, text=True, env=dict(environment, **(env or {})), timeout=600
    )


@pytest.mark.own_processes(reason="the installed console script, one process per backend")
def test_console_script_backend_help_and_quiet_start(tmp_path):
    start = time.perf_counter()
    help = _script("train", "attention-seq2seq", "--help")
    assert help.returncode == 0 and help.stderr == ""
    assert time.perf_counter() - start < 5  # --help imports neither Keras nor TensorFlow
    assert "--hidden-dim HIDDEN_DIM" in help.stdout and "(default: 256)" in help.stdout
    assert "--num-heads" not in help.stdout  # another model's option
    # --backend works for every backend, even against KERAS_BACKEND.
    for backend in ("jax", "tensorflow"):
        out = tmp_path / backend
        result = _script(
            "--backend", backend, *T, "--out", str(out), *TINY_RUN, env={"KERAS_BACKEND": "torch"}
        )
        assert result.returncode == 0, result.stderr[-3000:]
        assert json.loads((out / "metrics.json").read_text())["backend"] == backend
        noise = [line for line in result.stderr.splitlines() if "absl" in line or "cuda" in line]
        assert not noise, noise
    # A backend Keras cannot start: one line, before Keras is imported.
    wrong = _script("predict", str(tmp_path / "m.keras"), "x", env={"KERAS_BACKEND": "JAX"})
    assert wrong.returncode == 2 and wrong.stderr.count("\n") == 1, wrong.stderr
    assert "did you mean 'jax'?); keras-seqattn runs on tensorflow, jax, torch" in wrong.stderr
    error = _script("--backend", "jax", "predict", str(tmp_path / "missing.keras"), "x")
    assert error.returncode == 1 and error.stderr.strip().count("\n") == 0, error.stderr
    assert error.stderr.startswith("keras-seqattn: error: No model file")
