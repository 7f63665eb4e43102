"""TimeBudget: fit stops once the budget is spent, and every epoch is timed."""

import keras
import numpy as np
import pytest

from keras_seqattn.training import TimeBudget


def small_model():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def test_spent_budget_stops_after_the_first_batch():
    x, y = np.zeros((32, 2), "float32"), np.zeros((32, 1), "float32")
    budget = TimeBudget(seconds=1e-9)
    history = small_model().fit(x, y, batch_size=4, epochs=5, callbacks=[budget], verbose=0)
    assert len(history.history["loss"]) == 1
    assert len(budget.epoch_seconds) == 1 and budget.epoch_seconds[0] > 0


def test_ample_budget_runs_every_epoch():
    x, y = np.zeros((8, 2), "float32"), np.zeros((8, 1), "float32")
    budget = TimeBudget(seconds=600)
    history = small_model().fit(x, y, batch_size=4, epochs=3, callbacks=[budget], verbose=0)
    assert len(history.history["loss"]) == 3 and len(budget.epoch_seconds) == 3


@pytest.mark.parametrize("seconds", [0, -1, "10", True])
def test_bad_budget(seconds):
    with pytest.raises(ValueError, match="Received: seconds="):
        TimeBudget(seconds)
