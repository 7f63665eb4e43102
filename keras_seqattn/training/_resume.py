"""What the training jobs share: a run that survives being killed, and atomic outputs.

A job (`train_translation`, `train_captioner`, `train_image_classifier`) keeps
its checkpoint in `out/checkpoint/`: the untrained model as built (with its
vocabularies, so a resumed run never re-derives them), the arguments of the run
and a `TrainingCheckpoint`. The same command run again after a crash resumes
after the last finished epoch; the folder goes once `model.keras` and
`metrics.json` are written.
"""

import json
import pathlib
import shutil

import keras

from keras_seqattn.training.training_checkpoint import (
    TrainingCheckpoint,
    save_model_atomically,
    write_text_atomically,
)

CHECKPOINT = "checkpoint"
# Arguments a resumed run may change: more epochs continue training, and the rest
# only name the folder or touch evaluation and logging.
FREE_ARGUMENTS = ("out", "epochs", "eval_limit", "beam_width", "verbose", "callbacks")


class ResumableRun:
    """One training job's output folder `out`, with its checkpoint."""

    def __init__(self, out, arguments):
        self.out = pathlib.Path(out)
        self.folder = self.out / CHECKPOINT
        self.arguments = {
            k: _jsonable(v) for k, v in sorted(arguments.items()) if k not in FREE_ARGUMENTS
        }
        self.checkpoint = TrainingCheckpoint(self.folder)
        self.out.mkdir(parents=True, exist_ok=True)

    def model(self, build):
        """The checkpoint's model if there is one (same arguments only), else `build()`."""
        spec = self.folder / "model.keras"
        if spec.exists() and self.checkpoint.read_state() is not None:
            saved = json.loads((self.folder / "arguments.json").read_text())
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
            return keras.saving.load_model(spec, safe_mode=True, compile=False)
        model = build()
        self.folder.mkdir(parents=True, exist_ok=True)
        write_text_atomically(self.folder / "arguments.json", json.dumps(self.arguments))
        save_model_atomically(model, spec)
        return model

    def fit(self, model, data, callbacks=None, **kwargs):
        """`model.fit` that resumes; returns the history of every epoch, resumed ones too."""
        model.fit(data, callbacks=[self.checkpoint, *(callbacks or [])], **kwargs)
        return self.checkpoint.history

    @property
    def initial_epoch(self):
        """The epoch this process's `fit` started at (0 unless it resumed)."""
        return self.checkpoint.initial_epoch

    def save(self, model, metrics):
        """Writes `model.keras` and `metrics.json` atomically, then drops the checkpoint."""
        save_model_atomically(model, self.out / "model.keras")
        metrics = dict(metrics, resumed_from_epoch=self.initial_epoch)
        text = json.dumps(metrics, indent=2, ensure_ascii=False)
        write_text_atomically(self.out / "metrics.json", text)
        shutil.rmtree(self.folder, ignore_errors=True)
        return metrics


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
