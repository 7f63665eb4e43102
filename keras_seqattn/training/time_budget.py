"""A callback that ends `fit` once a wall-clock budget is spent."""

import time

import keras


class TimeBudget(keras.callbacks.Callback):
    """Stops training after `seconds` of wall-clock time, and times each epoch.

    The budget is checked after every batch, so training stops within one step
    of it; the benchmarks use it to give every model the same minutes.
    `epoch_seconds` holds the wall time of each epoch run (the first one
    includes compilation).

    Args:
        seconds: float > 0, the training budget.

    Example:

    >>> model = keras.Sequential([keras.layers.Dense(1)])
    >>> model.compile(loss="mse")
    >>> budget = TimeBudget(seconds=60)
    >>> _ = model.fit(np.zeros((4, 2)), np.zeros((4, 1)), epochs=2, callbacks=[budget], verbose=0)
    >>> len(budget.epoch_seconds)
    2
    """

    def __init__(self, seconds):
        super().__init__()
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0:
            raise ValueError(f"`seconds` must be a positive number. Received: seconds={seconds!r}")
        self.seconds = seconds
        self.epoch_seconds = []

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()
        self.epoch_seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_seconds.append(time.perf_counter() - self.epoch_start)

    def on_train_batch_end(self, batch, logs=None):
        if time.perf_counter() - self.start > self.seconds:
            self.model.stop_training = True
