"""Checks every translation application must pass, shared by their test files."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from tests.conftest import BACKEND

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def dataset(pairs):
    sources, targets = zip(*pairs)
    return tf.data.Dataset.from_tensor_slices((list(sources), list(targets)))


def fit_learns(model, pairs, steps=100, batch_size=16):
    """Trains `steps` batches; returns (first epoch's loss, the loss after training).

    100 steps take every translation application's loss from the first epoch's
    mean to 3-9 % of it (measured on TensorFlow and torch; 200 steps: 0.4-1.7 %);
    48 steps leave 32-34 %, so a model that does not learn cannot pass a bound
    of 30 %.
    """
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    batches = model.prepare(dataset(pairs), batch_size=batch_size, shuffle=True).repeat()
    history = model.fit(batches, steps_per_epoch=steps // 4, epochs=4, verbose=0)
    after = model.evaluate(model.prepare(dataset(pairs)), verbose=0, return_dict=True)
    return history.history["loss"][0], after["loss"]


def never_stop(model):
    """Makes [STOP] impossible: its output bias becomes -1e9."""
    bias = ops.convert_to_numpy(model.decoder.output_dense.bias).copy()
    bias[model.target_tokenizer.stop_id] = -1e9
    model.decoder.output_dense.bias.assign(bias)


def reload_on_backends(paths, texts, backends):
    """Loads each `.keras` file under each backend (one subprocess per backend).

    Returns:
        dict backend -> list of output id arrays, one per path.
    """
    code = (
        "import sys, json, keras, keras_seqattn.applications\n"
        "texts = json.loads(sys.argv[1])\n"
        "ids = [keras.saving.load_model(p, safe_mode=True).translate(texts).ids.tolist()"
        " for p in sys.argv[2:]]\n"
        "print(json.dumps(ids))"
    )
    results = {}
    for backend in backends:
        env = dict(os.environ, KERAS_BACKEND=backend)
        out = subprocess.run(
            [sys.executable, "-c", code, json.dumps(texts), *paths],
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO,
            timeout=300,
        )
        assert out.returncode == 0, out.stderr[-3000:]
        results[backend] = [np.array(i) for i in json.loads(out.stdout.strip().splitlines()[-1])]
    return results


def other_backends():
    return [b for b in ("tensorflow", "jax", "torch") if b != BACKEND]
