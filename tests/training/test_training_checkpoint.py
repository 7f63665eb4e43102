"""TrainingCheckpoint and ResumableRun: an interrupted fit resumes exactly; writes are atomic."""

import json
import os

import keras
import numpy as np
import pytest

from keras_seqattn.training import TrainingCheckpoint
from keras_seqattn.training._resume import ResumableRun
from keras_seqattn.training.training_checkpoint import save_model_atomically, write_text_atomically

X = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
Y = (X @ np.array([[1.0], [-2.0], [0.5]], "float32")).astype("float32")


def model(seed):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    return model


class Crash(keras.callbacks.Callback):
    """Stands for a killed process: raises at the end of epoch `epoch`."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def fit(model, callbacks, epochs=5):
    return model.fit(
        X, Y, batch_size=4, epochs=epochs, shuffle=False, callbacks=callbacks, verbose=0
    )


def test_interrupted_fit_resumes_to_the_uninterrupted_weights(tmp_path):
    reference = model(seed=1)
    straight = TrainingCheckpoint(tmp_path / "straight")
    fit(reference, [straight])

    checkpoint = TrainingCheckpoint(tmp_path / "run")
    with pytest.raises(KeyboardInterrupt):
        fit(model(seed=1), [checkpoint, Crash(epoch=2)])
    # A new process: other initial weights, which the checkpoint must replace,
    # Adam's moments and step count included.
    resumed_model = model(seed=7)
    resumed = TrainingCheckpoint(tmp_path / "run")
    history = fit(resumed_model, [resumed])

    assert resumed.initial_epoch == 3
    assert len(history.history["loss"]) == 2  # Epochs 4 and 5 only: none lost or repeated.
    np.testing.assert_allclose(resumed.history["loss"], straight.history["loss"], rtol=1e-5)
    for got, want in zip(resumed_model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(resumed_model.optimizer.iterations), 20
    )
    # Only the newest weights file is kept.
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [
        "epoch-5.weights.h5",
        "state.json",
    ]


def test_finished_checkpoint_trains_no_more(tmp_path):
    fit(model(seed=1), [TrainingCheckpoint(tmp_path)], epochs=2)
    again = model(seed=1)
    checkpoint = TrainingCheckpoint(tmp_path)
    history = fit(again, [checkpoint], epochs=2)
    assert history.history == {} and checkpoint.initial_epoch == 2
    assert len(checkpoint.history["loss"]) == 2
    assert again._initial_epoch is None  # A later fit is not skipped.


def test_crash_while_writing_weights_keeps_the_previous_epoch(tmp_path, monkeypatch):
    trained = model(seed=1)
    fit(trained, [TrainingCheckpoint(tmp_path)], epochs=2)
    before = [w.copy() for w in trained.get_weights()]

    def torn_write(filepath, overwrite=True):
        with open(filepath, "wb") as file:
            file.write(b"\x89HDF half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(trained, "save_weights", torn_write)
    with pytest.raises(KeyboardInterrupt):
        fit(trained, [TrainingCheckpoint(tmp_path)], epochs=3)

    state = json.loads((tmp_path / "state.json").read_text())
    assert state["epoch"] == 2 and state["weights"] == "epoch-2.weights.h5"
    revived = model(seed=9)
    checkpoint = TrainingCheckpoint(tmp_path)
    fit(revived, [checkpoint], epochs=2)
    for got, want in zip(revived.get_weights(), before):
        np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.backend_independent(reason="file handling only")
def test_unreadable_state_is_a_clear_error(tmp_path):
    (tmp_path / "state.json").write_text("{not json")
    with pytest.raises(ValueError, match="unreadable.*delete"):
        TrainingCheckpoint(tmp_path).read_state()
    (tmp_path / "state.json").write_text(json.dumps({"epoch": 3, "weights": "gone.weights.h5"}))
    with pytest.raises(ValueError, match="missing weights file"):
        TrainingCheckpoint(tmp_path).read_state()
    with pytest.raises(ValueError, match="Received: directory=''"):
        TrainingCheckpoint("")


@pytest.mark.backend_independent(reason="file handling only")
def test_crash_mid_write_leaves_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "metrics.json"
    write_text_atomically(path, "old")

    def crash(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        write_text_atomically(path, "new")
    assert path.read_text() == "old"


def test_crash_mid_model_save_leaves_the_previous_model(tmp_path, monkeypatch):
    path = tmp_path / "model.keras"
    first = model(seed=1)
    save_model_atomically(first, path)
    second = model(seed=2)

    def torn_save(self, filepath, **kwargs):
        with open(filepath, "wb") as file:
            file.write(b"PK half an archive")
        raise KeyboardInterrupt

    monkeypatch.setattr(keras.Model, "save", torn_save)
    with pytest.raises(KeyboardInterrupt):
        save_model_atomically(second, path)
    monkeypatch.undo()
    revived = keras.saving.load_model(path, compile=False)
    for got, want in zip(revived.get_weights(), first.get_weights()):
        np.testing.assert_array_equal(got, want)
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]  # No temporary left.


def test_resuming_with_other_arguments_is_refused(tmp_path):
    run = ResumableRun(tmp_path, dict(hidden_dim=8, seed=0, epochs=2))
    built = run.model(lambda: model(seed=1))
    run.fit(built, X, y=Y, epochs=1, verbose=0)
    # More epochs continue the same run; the same arguments reload the saved model.
    same = ResumableRun(tmp_path, dict(hidden_dim=8, seed=0, epochs=5))
    assert same.model(lambda: pytest.fail("must load, not build")).count_params() == 21
    other = ResumableRun(tmp_path, dict(hidden_dim=16, seed=0, epochs=2))
    with pytest.raises(ValueError, match=r"other arguments.*hidden_dim=16 \(saved: 8\)"):
        other.model(lambda: model(seed=1))


def test_a_path_argument_resumes_however_it_is_spelt(tmp_path, monkeypatch):
    """`train vit --weights DIR` resumed with DIR spelt otherwise (absolute, via a link)."""
    checkpoint = tmp_path / "weights"
    checkpoint.mkdir()
    (tmp_path / "link").symlink_to(checkpoint)
    (tmp_path / "other").mkdir()
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "run"
    run = ResumableRun(out, dict(weights="weights", seed=0))
    run.fit(run.model(lambda: model(seed=1)), X, y=Y, epochs=1, verbose=0)
    for spelling in (str(checkpoint), "./weights", "link", checkpoint.relative_to(tmp_path)):
        same = ResumableRun(out, dict(weights=spelling, seed=0))
        assert same.model(lambda: pytest.fail("must load, not build")).count_params() == 21
    other = ResumableRun(out, dict(weights="other", seed=0))
    with pytest.raises(ValueError, match=rf"other arguments.*weights='{tmp_path}/other'"):
        other.model(lambda: model(seed=1))
    # A run from before paths were resolved saved the spelling, relative to its folder.
    arguments = out / "checkpoint" / "arguments.json"
    assert json.loads(arguments.read_text())["weights"] == str(checkpoint)
    arguments.write_text(json.dumps(dict(weights="weights", seed=0)))
    same = ResumableRun(out, dict(weights=str(checkpoint), seed=0))
    assert same.model(lambda: pytest.fail("must load, not build")).count_params() == 21
