"""`TrainingCheckpoint`: the state `fit` needs to resume, written so a crash cannot tear it."""

import json
import os
import pathlib
import time

import keras

STATE = "state.json"


class TrainingCheckpoint(keras.callbacks.Callback):
    """Saves the training state after every epoch and restores it when `fit` starts.

    The same job as `keras.callbacks.BackupAndRestore`, written so that a crash
    at any moment leaves a complete checkpoint behind:

    1. After epoch `e` the weights (model and optimizer variables, so Adam's
       moments and the step count behind a learning-rate schedule too) go to a
       new file, `epoch-{e}.weights.h5`.
    2. Then `state.json` (the epoch count, the file's name, the history and
       the wall time of every epoch so far) is written to a temporary file and renamed over the
       old one, which is atomic on POSIX and Windows.
    3. Only then is the previous weights file deleted.

    `BackupAndRestore` instead rewrites one weights file and then one epoch
    counter in place: a crash while writing the weights leaves a torn file, and
    a crash between the two writes resumes from the next epoch's weights with
    the previous epoch's counter, so an epoch is trained twice. It also forgets
    the history of the epochs before the interruption, which this callback
    keeps in `history` (all epochs, first run and resumed runs together).

    When `fit` starts and `directory` holds a state, the weights are loaded and
    `fit` continues at the epoch after the last one saved; if that was the last
    epoch, `fit` trains no more. The model must be built (as every application
    is) and compiled the same way as in the interrupted run.

    Args:
        directory: folder of the checkpoint; created at the first save.

    Example:

    >>> import numpy as np, tempfile
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer="adam", loss="mse")
    >>> checkpoint = TrainingCheckpoint(tempfile.mkdtemp())
    >>> _ = model.fit(np.ones((4, 2)), np.ones((4, 1)), epochs=2, callbacks=[checkpoint],
    ...               verbose=0)
    >>> checkpoint.initial_epoch, len(checkpoint.history["loss"])
    (0, 2)
    """

    def __init__(self, directory):
        super().__init__()
        if not directory:
            raise ValueError(
                f"`directory` must be a folder path. Received: directory={directory!r}"
            )
        self.directory = pathlib.Path(directory)
        self.initial_epoch = 0
        self.history = {}
        self.epoch_seconds = []  # wall time of each epoch, resumed runs' too
        self._weights = None  # the weights file `state.json` names now
        self._epoch_start = None

    def read_state(self):
        """The saved state as a dict, or `None` where there is none."""
        path = self.directory / STATE
        if not path.exists():
            return None
        try:
            state = json.loads(path.read_text())
            weights = self.directory / state["weights"]
            epoch = int(state["epoch"])
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(
                f"The checkpoint state {str(path)!r} is unreadable ({error}); delete "
                f"{str(self.directory)!r} to start training afresh."
            ) from None
        if not weights.exists():
            raise ValueError(
                f"The checkpoint state {str(path)!r} names a missing weights file. "
                f"Received: weights={str(weights)!r}"
            )
        return dict(state, epoch=epoch)

    def on_train_begin(self, logs=None):
        state = self.read_state()
        self.initial_epoch, self.history, self._weights = 0, {}, None
        self.epoch_seconds = []
        if state is None:
            return
        optimizer = self.model.optimizer
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.model.trainable_variables)
        self.model.load_weights(self.directory / state["weights"])
        self.initial_epoch, self._weights = state["epoch"], state["weights"]
        self.history = {k: list(v) for k, v in state.get("history", {}).items()}
        self.epoch_seconds = [float(s) for s in state.get("epoch_seconds", [])]
        # What `fit` reads to skip the epochs already trained (as `BackupAndRestore`).
        self.model._initial_epoch = self.initial_epoch

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if self._epoch_start is not None:
            self.epoch_seconds.append(time.perf_counter() - self._epoch_start)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        self.directory.mkdir(parents=True, exist_ok=True)
        previous, weights = self._weights, f"epoch-{epoch + 1}.weights.h5"
        self.model.save_weights(self.directory / weights, overwrite=True)
        state = {
            "epoch": epoch + 1,
            "weights": weights,
            "history": self.history,
            "epoch_seconds": self.epoch_seconds,
        }
        write_text_atomically(self.directory / STATE, json.dumps(state, indent=1))
        self._weights = weights
        if previous is not None and previous != weights:
            (self.directory / previous).unlink(missing_ok=True)

    def on_train_end(self, logs=None):
        self.model._initial_epoch = None  # A later `fit` starts where it is told to.


def write_text_atomically(path, text):
    """Writes `text` to `path` through a temporary file and a rename."""
    path = pathlib.Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "w", encoding="utf-8") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


def save_model_atomically(model, path):
    """`model.save(path)` through a temporary `.keras` file and a rename."""
    path = pathlib.Path(path)
    temporary = path.with_name(f".{path.stem}.{os.getpid()}.tmp.keras")
    try:
        model.save(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
