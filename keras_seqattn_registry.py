"""The registry of applications: the one place that names them, free of Keras.

The `keras-seqattn` grammar (`keras_seqattn_cli`), `keras_seqattn.applications`,
loading (`keras_seqattn.saving`) and export read it; the lists in tests and
benchmarks that still name applications by hand (each its own sizes or cases)
are checked against it by tests/test_application_lists.py.

    import keras_seqattn_registry

    sorted(keras_seqattn_registry.applications())  # command-line names
    keras_seqattn_registry.APPLICATIONS["vit"].class_name  # "VisionTransformer"

This module sits beside the package, as the console script does, and imports
neither Keras nor the package: the grammar reads it before `--backend` chooses
Keras's backend, and the package and its export read it without importing the
command line. (Inside the package it could not be read without Keras: importing
`keras_seqattn` registers every layer with Keras serialisation, which
`keras.saving.load_model` after `import keras_seqattn` relies on, so the
package's `__init__` cannot import lazily.)
"""

import argparse
import dataclasses
import importlib
import importlib.metadata
import math

BACKENDS = ("tensorflow", "jax", "torch")
# What a model does decides how it trains, and how predict, evaluate and export use it.
TASKS = ("translation", "captioning", "classification")
# Third-party applications register under this entry-point group (see `Application`).
ENTRY_POINT_GROUP = "keras_seqattn.applications"


def finite_number(kind, minimum=None, above=None):
    """An argparse `type`: a finite `kind` >= `minimum` (or > `above`)."""
    bound = f" >= {minimum}" if minimum is not None else f" > {above}" if above is not None else ""

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = None
        ok = value is not None and math.isfinite(value)
        ok = ok and (minimum is None or value >= minimum) and (above is None or value > above)
        if not ok:
            raise argparse.ArgumentTypeError(
                f"expected a finite {kind.__name__}{bound}, got {text!r}"
            )
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its own messages
    return parse


POSITIVE = finite_number(int, minimum=1)
NON_NEGATIVE = finite_number(float, minimum=0.0)


@dataclasses.dataclass(frozen=True)
class Option:
    """One constructor argument of an application, as a command-line option.

    `type` is an argparse type, or `bool` for an on/off flag (`store_true`);
    a `default` of `None` passes nothing unless the option is given, so that
    the constructor's (or the named config's) own default holds. `configs=True`
    makes the value a key of the application module's `CONFIGS`, whose entries
    become the constructor arguments (other options override them).
    """

    flag: str
    argument: str
    type: object = str
    default: object = None
    help: str = ""
    choices: tuple = None
    configs: bool = False


@dataclasses.dataclass(frozen=True)
class Application:
    """One trainable application: the one place the CLI and loading learn of it.

    Args:
        name: the command-line name, `keras-seqattn train <name>`.
        target: `"module:Class"`, imported only when a command runs (the grammar
            stays free of Keras, so that `--backend` is read first).
        task: one of `TASKS`: how it trains, and how predict, evaluate and
            export use a saved one.
        help: one line for `train --help`.
        options: `Option`s, the constructor arguments `train <name>` takes.
        finish: optional function of the argument dict, for defaults that
            depend on other arguments.

    A package of its own registers an application with an entry point in the
    `keras_seqattn.applications` group naming an `Application` (in a module
    that does not import Keras), e.g. in its pyproject.toml:

        [project.entry-points."keras_seqattn.applications"]
        my-seq2seq = "my_package.cli_spec:APPLICATION"

    `keras-seqattn train my-seq2seq` then trains it, and `keras_seqattn.saving.
    load_model` imports its module before loading a file of it.
    """

    name: str
    target: str
    task: str
    help: str
    options: tuple = ()
    finish: object = None

    @property
    def class_name(self):
        return self.target.rpartition(":")[2]

    def load_class(self):
        """The class `target` names, imported now (this imports Keras)."""
        module, _, name = self.target.partition(":")
        return getattr(importlib.import_module(module), name)


_RNN_SIZES = (
    Option("--embedding-dim", "embedding_dim", POSITIVE, 128, "token embedding width"),
    Option("--hidden-dim", "hidden_dim", POSITIVE, 256, "RNN state width"),
    Option("--rnn-type", "rnn_type", str, "gru", "recurrent cell", choices=("gru", "lstm")),
)
_BIDIRECTIONAL = Option("--bidirectional", "bidirectional", bool, False, "bidirectional encoder")
_FEATURE_DIM = Option("--feature-dim", "feature_dim", POSITIVE, 128, "CNN feature width")


def _four_times_hidden(arguments):
    if arguments.get("intermediate_dim") is None:
        arguments["intermediate_dim"] = 4 * arguments["hidden_dim"]
    return arguments


APPLICATIONS = {
    app.name: app
    for app in (
        Application(
            "seq2seq-rnn", "keras_seqattn.applications.seq2seq_rnn:Seq2SeqRNN", "translation",
            "RNN encoder-decoder with one fixed context (Sutskever et al., 2014)",
            (*_RNN_SIZES, _BIDIRECTIONAL),
        ),
        Application(
            "attention-seq2seq", "keras_seqattn.applications.attention_seq2seq:AttentionSeq2Seq",
            "translation", "RNN encoder-decoder with Bahdanau attention (Bahdanau et al., 2015)",
            (*_RNN_SIZES, _BIDIRECTIONAL),
        ),
        Application(
            "luong-seq2seq", "keras_seqattn.applications.luong_seq2seq:LuongSeq2Seq",
            "translation", "RNN encoder-decoder with Luong attention (Luong et al., 2015)",
            (*_RNN_SIZES, _BIDIRECTIONAL, Option("--score-mode", "score_mode", str, "general",
             "score of h_t against h_s", choices=("dot", "general", "concat"))),
        ),
        Application(
            "transformer-seq2seq",
            "keras_seqattn.applications.transformer_seq2seq:TransformerSeq2Seq", "translation",
            "the Transformer encoder-decoder (Vaswani et al., 2017)",
            (
                Option("--hidden-dim", "hidden_dim", POSITIVE, 256, "model width d"),
                Option("--num-layers", "num_layers", POSITIVE, 3, "blocks per stack"),
                Option(
                    "--num-heads", "num_heads", POSITIVE, 4,
                    "attention heads (divide --hidden-dim)",
                ),
                Option(
                    "--intermediate-dim", "intermediate_dim", POSITIVE, None,
                    "MLP width (default: 4 x hidden)",
                ),
                Option("--normalize-first", "normalize_first", bool, False, "pre-norm blocks"),
            ),
            finish=_four_times_hidden,
        ),
        Application(
            "vit", "keras_seqattn.applications.vision_transformer:VisionTransformer",
            "classification", "Vision Transformer image classifier (Dosovitskiy et al., 2021)",
        ),
        Application(
            "rnn-captioner", "keras_seqattn.applications.rnn_captioner:RNNCaptioner",
            "captioning", "CNN features + RNN decoder, one context (Vinyals et al., 2015)",
            (*_RNN_SIZES, _FEATURE_DIM),
        ),
        Application(
            "attention-captioner",
            "keras_seqattn.applications.attention_captioner:AttentionCaptioner", "captioning",
            "Show, Attend and Tell (Xu et al., 2015)",
            (
                *_RNN_SIZES,
                _FEATURE_DIM,
                Option(
                    "--attention-regularization", "attention_regularization", NON_NEGATIVE,
                    0.0, "doubly stochastic attention lambda",
                ),
            ),
        ),
        Application(
            "transformer-captioner",
            "keras_seqattn.applications.transformer_captioner:TransformerCaptioner",
            "captioning", "Transformer decoder over image patches",
            (
                Option(
                    "--config", "config", str, "transformer_captioner_tiny_digits",
                    "a named size", configs=True,
                ),
                Option("--normalize-first", "normalize_first", bool, help="pre-norm blocks"),
            ),
        ),
    )
}  # fmt: skip


def applications():
    """`APPLICATIONS` and those other packages register (entry points), by name.

    Raises:
        ValueError: an entry point names no `Application` of a known task, or
            two applications share a name. A `ValueError`, not an exit: this
            also runs when `keras_seqattn.applications` is imported.
    """
    found = dict(APPLICATIONS)
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        app = entry.load()
        if not isinstance(app, Application) or app.task not in TASKS:
            raise ValueError(
                f"entry point {entry.name!r} of {ENTRY_POINT_GROUP!r} "
                f"must name an Application with a task in {TASKS}. Received: {app!r}"
            )
        if app.name in found and found[app.name] != app:
            raise ValueError(
                f"two applications are named {app.name!r}: "
                f"{found[app.name].target} and {app.target}"
            )
        found[app.name] = app
    return found


def task_of(cls):
    """The task of the registered application `cls` is or derives from, else `None`.

    The nearest registered class in `cls`'s method resolution order decides, so
    a subclass of a registered application has its parent's task unless it is
    registered itself. Every registered class is imported (Keras with it).
    """
    tasks = {}
    for app in applications().values():
        tasks.setdefault(app.load_class(), app.task)
    return next((tasks[base] for base in cls.__mro__ if base in tasks), None)
