"""What the training jobs share: a run that survives being killed, and atomic outputs.

A job (`train_translation`, `train_captioner`, `train_image_classifier`) keeps
its checkpoint in `out/checkpoint/`: the untrained model as built (with its
vocabularies, so a resumed run never re-derives them), the arguments of the run
and a `TrainingCheckpoint`. The checkpoint stays after the run has finished, so
the same command run again resumes after the last finished epoch, after a crash
or with more epochs (the optimizer's state included); with other model or data
arguments it is refused, naming them (a path by the file it names, however
spelt). A `model.keras` that no checkpoint describes (written by something
else) is never overwritten. While a job runs, `out` is its alone
(`_holds_out.holds_out`): a second job on it is refused at once, naming the first.

A job's `distribution` (from `keras_seqattn.distribute.make_distribution`) is
free to change between runs: the checkpoint and `model.keras` hold whole,
unsharded weights, so a run on four devices resumes on one and the other way.
"""

import json
import os
import pathlib

import keras

from keras_seqattn import distribute
from keras_seqattn.training.training_checkpoint import (
    TrainingCheckpoint,
    save_model_atomically,
    write_text_atomically,
)

CHECKPOINT = "checkpoint"
# Arguments a resumed run may change: more epochs continue training, the devices
# do not change what is trained, and the rest only name the folder or touch
# evaluation and logging.
FREE_ARGUMENTS = (
    "out",
    "epochs",
    "eval_limit",
    "beam_width",
    "verbose",
    "callbacks",
    "distribution",
)
# Arguments that name a file or folder: compared by what they name, not how spelt.
PATH_ARGUMENTS = ("weights", "data_dir")
# Examples per validation batch at most (see `ResumableRun.eval_batch_size`).
EVAL_BATCH_SIZE = 256


class ResumableRun:
    """One training job's output folder `out`, with its checkpoint.

    `arguments` are the job's (its `locals()`); a `distribution` among them is
    the one the model is built, compiled and trained under (`scope()`, `fit`).
    """

    def __init__(self, out, arguments):
        self.distribution = arguments.get("distribution")
        if "batch_size" in arguments:
            distribute.check_batch_size(arguments["batch_size"], self.distribution)
        self.out = _output_folder(out)
        self.folder = self.out / CHECKPOINT
        self.epochs = arguments.get("epochs")
        # A job's `**model_kwargs` count one by one, so a refusal names the option.
        flat = {}
        for key, value in arguments.items():
            nested = isinstance(value, dict) and key.endswith(("kwargs", "overrides"))
            flat.update(value if nested else {key: value})
        self.arguments = {
            k: _path_named(v) if k in PATH_ARGUMENTS else _jsonable(v)
            for k, v in sorted(flat.items())
            if k not in FREE_ARGUMENTS
        }
        self.checkpoint = TrainingCheckpoint(self.folder)

    def model(self, build):
        """The checkpoint's model if there is one (same arguments only), else `build()`.

        Raises:
            ValueError: the checkpoint is of a run with other arguments, or has
                trained more epochs than this run asks for; or `out` holds a
                `model.keras` without a checkpoint of this run.
        """
        spec = self.folder / "model.keras"
        state = self.checkpoint.read_state() if spec.exists() else None
        if state is not None:
            self._check_resumable(state)
            return keras.saving.load_model(spec, safe_mode=True, compile=False)
        if (self.out / "model.keras").exists():
            raise ValueError(
                f"{str(self.out)!r} already holds a model.keras without the checkpoint of "
                f"its run, so this run would overwrite it: choose another output folder. "
                f"Received: out={str(self.out)!r}"
            )
        model = build()
        self.folder.mkdir(parents=True, exist_ok=True)
        write_text_atomically(self.folder / "arguments.json", json.dumps(self.arguments))
        save_model_atomically(model, spec)
        return model

    def _check_resumable(self, state):
        saved = json.loads((self.folder / "arguments.json").read_text())
        # Runs before paths were resolved saved them as spelt (relative to their cwd).
        saved.update({k: _path_named(saved[k]) for k in PATH_ARGUMENTS if k in saved})
        changed = sorted(
            k for k in set(saved) | set(self.arguments) if saved.get(k) != self.arguments.get(k)
        )
        if changed:
            raise ValueError(
                f"{str(self.out)!r} holds the checkpoint of a run with other arguments, "
                f"so it cannot be resumed: choose another output folder, or delete "
                f"{str(self.folder)!r} to start afresh. Received: "
                + ", ".join(
                    f"{k}={self.arguments.get(k)!r} (saved: {saved.get(k)!r})" for k in changed
                )
            )
        if self.epochs is not None and state["epoch"] > self.epochs:
            raise ValueError(
                f"{str(self.out)!r} holds a run trained for {state['epoch']} epochs, more than "
                f"the {self.epochs} asked for: ask for at least {state['epoch']} to train on, "
                f"or choose another output folder. Received: epochs={self.epochs}"
            )

    def scope(self):
        """The distribution's scope (nothing without one): build and compile in it."""
        return distribute.scope(self.distribution)

    def eval_batch_size(self, examples):
        """Examples per validation batch for a split of `examples`: 256 at most.

        Under a distribution, a multiple of the replicas no larger than the
        split, so that a short split still gives one whole batch when the short
        last one is dropped (`drop_remainder`).
        """
        return distribute.round_batch_size(min(EVAL_BATCH_SIZE, examples), self.distribution)

    @property
    def drop_remainder(self):
        """Whether batches drop a short last one: under a distribution, as JAX's
        trainer needs every batch to split evenly over the replicas (64 examples
        in batches of 48 leave 16, which 3 replicas cannot share). TensorFlow's
        strategies could split it; dropping it on both trains on the same data."""
        return self.distribution is not None

    def check_splits(self, train, validation, batch_size):
        """Under a distribution, refuses a split of fewer examples than one batch.

        Its only batch would be the short one `drop_remainder` drops, so nothing
        would be trained on (Keras then fails deep in `fit`) or validated (Keras
        then skips validation without a word). Call it before `model()`, which
        writes the checkpoint: a refused run leaves nothing behind. Without a
        distribution the splits are not read.

        Args:
            train, validation: `tf.data.Dataset`s of examples (not batches);
                `validation` may be `None`.
            batch_size: int, the training batch.
        """
        if not self.drop_remainder:
            return
        _check_whole_batch(count_examples(train), batch_size, "training")
        if validation is not None:
            examples = count_examples(validation)
            _check_whole_batch(examples, self.eval_batch_size(examples), "validation")

    def fit(self, model, data, callbacks=None, **kwargs):
        """`model.fit` that resumes, in the distribution's scope; returns the history
        of every epoch, resumed ones too."""
        with self.scope():
            model.fit(data, callbacks=[self.checkpoint, *(callbacks or [])], **kwargs)
        return self.checkpoint.history

    def fit_pairs(self, model, train, validation, batch_size, seed, **kwargs):
        """`fit` on `model.prepare()`'s batches: `train` pairs shuffled, `validation` not."""
        validation_batch = self.eval_batch_size(count_examples(validation))
        return self.fit(
            model,
            model.prepare(train, batch_size, True, seed, drop_remainder=self.drop_remainder),
            validation_data=model.prepare(
                validation, validation_batch, drop_remainder=self.drop_remainder
            ),
            **kwargs,
        )

    @property
    def initial_epoch(self):
        """The epoch this process's `fit` started at (0 unless it resumed)."""
        return self.checkpoint.initial_epoch

    @property
    def train_seconds(self):
        """Seconds of every epoch trained so far, by this process and those before it."""
        return sum(self.checkpoint.epoch_seconds)

    def save(self, model, metrics):
        """Writes `model.keras` and `metrics.json` atomically; the checkpoint stays."""
        save_model_atomically(model, self.out / "model.keras")
        metrics = dict(metrics, resumed_from_epoch=self.initial_epoch)
        text = json.dumps(metrics, indent=2, ensure_ascii=False)
        write_text_atomically(self.out / "metrics.json", text)
        return metrics


def _check_whole_batch(examples, batch_size, split):
    if examples < batch_size:
        raise ValueError(
            f"Under a distribution every batch must be whole, so a short last batch "
            f"is dropped; the {split} examples ({examples}) are fewer than one batch "
            f"of {batch_size}, and none would be used: give more (--train-limit, "
            f"--eval-limit) or a smaller --batch-size. Received: {split} "
            f"examples={examples}, batch_size={batch_size}"
        )


def count_examples(dataset):
    """The length of `dataset`: its cardinality where tf.data knows it, else counted."""
    count = int(dataset.cardinality())
    return count if count >= 0 else sum(1 for _ in dataset)


def _output_folder(out):
    """`out` as a path to a folder that exists or can be made, or a `ValueError`.

    Nothing is created yet: a run refused later (an unknown dataset, say) leaves
    no empty folder behind.
    """
    if not isinstance(out, (str, os.PathLike)) or not os.fspath(out).strip():
        raise ValueError(f"`out` must be a folder path. Received: out={out!r}")
    out = pathlib.Path(out)
    existing = next(p for p in [out, *out.absolute().parents] if p.exists())
    if not existing.is_dir():
        raise ValueError(
            f"`out` must be a folder; {str(existing)!r} is a file. Received: out={str(out)!r}"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(
            f"`out` is not writable: no permission to write in {str(existing)!r}. "
            f"Received: out={str(out)!r}"
        )
    return out


def _path_named(value):
    """The absolute path `value` names, symbolic links resolved; other values as they are."""
    if isinstance(value, (str, os.PathLike)) and os.fspath(value):
        return os.path.realpath(os.fspath(value))
    return _jsonable(value)


def _jsonable(value):
    if isinstance(value, type):
        return value.__name__
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
