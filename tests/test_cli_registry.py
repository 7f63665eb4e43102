"""The application registry: the CLI's grammar, tasks and loading all come from it."""

import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

import keras_seqattn_cli
import keras_seqattn_registry
from keras_seqattn import cli

REPO = pathlib.Path(__file__).resolve().parents[1]
independent = pytest.mark.backend_independent(reason="the grammar imports no Keras")


@independent
def test_train_offers_every_registered_application_with_its_own_options():
    parser = keras_seqattn_cli.build_parser()
    train = next(a for a in parser._actions if a.dest == "command").choices["train"]
    models = next(a for a in train._actions if a.dest == "model").choices
    assert sorted(models) == sorted(keras_seqattn_registry.APPLICATIONS)
    for name, app in keras_seqattn_registry.APPLICATIONS.items():
        flags = {flag for action in models[name]._actions for flag in action.option_strings}
        assert {option.flag for option in app.options} <= flags
    vit, rnn = models["vit"].format_help(), models["attention-seq2seq"].format_help()
    assert "--weights" in vit and "--bidirectional" not in vit
    assert "--bidirectional" in rnn and "--weights" not in rnn and "--num-heads" not in rnn


def test_model_kwargs_follow_the_registered_options():
    parser = keras_seqattn_cli.build_parser()
    base = ["train", "transformer-seq2seq", "--dataset", "d", "--out", "o"]
    args = parser.parse_args([*base, "--hidden-dim", "32"])
    assert cli._model_kwargs(args) == dict(
        hidden_dim=32, num_layers=3, num_heads=4, intermediate_dim=128, normalize_first=False
    )  # as the CLI always passed them (a run's recorded arguments must not change)
    luong = ["train", "luong-seq2seq", "--dataset", "d", "--out", "o", "--score-mode", "dot"]
    assert cli._model_kwargs(parser.parse_args(luong)) == dict(
        embedding_dim=128, hidden_dim=256, rnn_type="gru", bidirectional=False, score_mode="dot"
    )
    with pytest.raises(SystemExit):
        parser.parse_args([*luong[:-1], "additive"])  # not one of Luong's scores
    args = parser.parse_args(["train", "transformer-captioner", "--dataset", "d", "--out", "o"])
    kwargs = cli._model_kwargs(args)
    assert "normalize_first" not in kwargs and kwargs["hidden_dim"] > 0  # from CONFIGS


# Where `train <name>` deliberately builds other than the constructor's default:
# the CLI's RNN sizes are shared by every RNN application, and the captioners'
# own default embedding is smaller. A new difference must be added here.
CLI_DEFAULTS_OF_THEIR_OWN = {
    ("rnn-captioner", "embedding_dim"),
    ("attention-captioner", "embedding_dim"),
}


def test_every_registered_option_is_a_constructor_argument_with_its_default():
    """The options are declared by hand (the grammar stays free of Keras): checked here."""
    import inspect

    for app in keras_seqattn_registry.APPLICATIONS.values():
        parameters = inspect.signature(app.load_class().__init__).parameters
        for option in app.options:
            if option.configs:  # a key of the module's CONFIGS, not an argument
                continue
            assert option.argument in parameters, (app.name, option.flag)
            default = parameters[option.argument].default
            if option.choices is not None and isinstance(default, str):
                assert default in option.choices, (app.name, option.flag, option.choices)
            if option.default is not None and (app.name, option.argument) not in (
                CLI_DEFAULTS_OF_THEIR_OWN
            ):
                assert option.default == default, (app.name, option.flag, option.default, default)


def test_task_of_a_model_comes_from_the_registry():
    from keras_seqattn.applications import VisionTransformer

    model = VisionTransformer(
        image_size=8, patch_size=4, num_classes=2, hidden_dim=4, num_layers=1, num_heads=1,
        mlp_dim=4, num_channels=1,
    )  # fmt: skip
    assert cli.task_of(model) == "classification"
    import keras

    with pytest.raises(ValueError, match="Sequential is no registered application"):
        cli.task_of(keras.Sequential())


def test_export_dispatches_on_the_registered_task_not_the_class_tree(monkeypatch):
    import keras

    from keras_seqattn.applications import TransformerSeq2Seq
    from keras_seqattn.export._write import check_task

    class Derived(TransformerSeq2Seq):  # not registered: its parent's task
        pass

    class Classifier(keras.Model):  # registered, and derives from no application
        pass

    found = dict(keras_seqattn_registry.applications())
    found["odd"] = keras_seqattn_registry.Application(
        "odd", f"{__name__}:Classifier", "classification", "a classifier of no known base"
    )
    monkeypatch.setattr(keras_seqattn_registry, "applications", lambda: found)
    monkeypatch.setitem(globals(), "Classifier", Classifier)
    assert keras_seqattn_registry.task_of(Derived) == "translation"
    assert check_task(Classifier()) == "classification"
    with pytest.raises(ValueError, match="Only registered applications.*Received: a Sequential"):
        check_task(keras.Sequential())


PLUGIN = """
import keras
from keras_seqattn.applications import AttentionSeq2Seq


@keras.saving.register_keras_serializable(package="plugin_seq2seq")
class PluginSeq2Seq(AttentionSeq2Seq):
    pass
"""
SPEC = """
from keras_seqattn_registry import Application, Option

APPLICATION = Application(
    "plugin-seq2seq", "plugin_seq2seq.model:PluginSeq2Seq", "translation",
    "a third-party translation model",
    (Option("--hidden-dim", "hidden_dim", int, 8, "state width"),),
)
"""
SAVE = """
import sys
from plugin_seq2seq.model import PluginSeq2Seq
from keras_seqattn.text import SequenceTokenizer

tokenizer = SequenceTokenizer.from_corpus(["one two", "three"], mode="character")
PluginSeq2Seq(tokenizer, tokenizer, embedding_dim=4, hidden_dim=8).save(sys.argv[1])
"""


@pytest.mark.slow
@pytest.mark.only_backend("jax", reason="whole processes; the JAX pass is CI's shortest")
def test_a_third_party_application_registers_by_entry_point(tmp_path):
    package = tmp_path / "plugin_seq2seq"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "model.py").write_text(PLUGIN)
    (package / "spec.py").write_text(SPEC)
    info = tmp_path / "plugin_seq2seq-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: plugin-seq2seq\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        textwrap.dedent("""\
            [keras_seqattn.applications]
            plugin-seq2seq = plugin_seq2seq.spec:APPLICATION
        """)
    )
    # This checkout first (not another one an editable install points at), then the plugin.
    path = os.pathsep.join([str(REPO), str(tmp_path)])
    env = {**os.environ, "PYTHONPATH": path, "KERAS_BACKEND": "jax"}

    def run(*args):
        result = subprocess.run(
            [sys.executable, *args], capture_output=True, text=True, env=env, cwd=tmp_path
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    assert "a third-party translation model" in run("-m", "keras_seqattn_cli", "train", "--help")
    assert "state width" in run("-m", "keras_seqattn_cli", "train", "plugin-seq2seq", "--help")
    run("-c", SAVE, str(tmp_path / "plugin.keras"))
    # A fresh process that never imports the plugin itself: the registry does.
    lines = run("-m", "keras_seqattn_cli", "predict", str(tmp_path / "plugin.keras"), "one")
    assert len(lines.splitlines()) == 1


@independent
def test_a_broken_plugin_is_a_value_error_and_one_line_for_the_cli(monkeypatch):
    class Entry:
        name = "broken"

        def load(self):
            return "not an Application"

    monkeypatch.setattr(
        keras_seqattn_registry.importlib.metadata, "entry_points", lambda group: [Entry()]
    )
    with pytest.raises(ValueError, match="entry point 'broken'.*must name an Application"):
        keras_seqattn_registry.applications()
    with pytest.raises(SystemExit, match="^keras-seqattn: error: entry point 'broken'"):
        keras_seqattn_cli.build_parser()
