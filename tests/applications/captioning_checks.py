"""Checks every captioning application must pass, shared by their test files.

The data: 32x32 grey images with bright squares in some of their four
quadrants, captioned by the quadrants' names in reading order ("one three").
A tiny CNN learns it in a few hundred steps on any backend.
"""

import functools
import json
import os
import subprocess
import sys

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_seqattn.text import SequenceTokenizer
from tests.conftest import BACKEND

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QUADRANTS = ("one", "two", "three", "four")  # top left, top right, bottom left, bottom right
SMALL = dict(
    image_size=(32, 32),
    filters=(8, 16),
    embedding_dim=8,
    hidden_dim=32,
    feature_dim=16,
    max_caption_length=6,
)


@functools.lru_cache
def quadrant_scenes(count=96, seed=0):
    """`(images uint8 (count, 32, 32, 1), captions)`; boxes too, normalised."""
    rng = np.random.default_rng(seed)
    images = np.zeros((count, 32, 32, 1), "uint8")
    captions, boxes = [], []
    for n in range(count):
        chosen = sorted(rng.choice(4, size=int(rng.integers(1, 4)), replace=False).tolist())
        for q in chosen:
            y, x = 16 * (q // 2) + 4, 16 * (q % 2) + 4
            images[n, y : y + 8, x : x + 8, 0] = 255
        captions.append(" ".join(QUADRANTS[q] for q in chosen))
        boxes.append(
            [
                [
                    (16 * (q // 2)) / 32,
                    (16 * (q % 2)) / 32,
                    (16 * (q // 2) + 16) / 32,
                    (16 * (q % 2) + 16) / 32,
                ]
                for q in chosen
            ]
        )
    return images, captions, boxes


@functools.lru_cache
def tokenizer():
    return SequenceTokenizer.from_corpus(quadrant_scenes()[1])


def pairs():
    images, captions, _ = quadrant_scenes()
    return tf.data.Dataset.from_tensor_slices((images, captions))


def model(cls, **kwargs):
    return cls(tokenizer(), **{**SMALL, **kwargs})


def fit_learns(model, steps=160, batch_size=16):
    """Trains `steps` batches; returns (loss before training, loss after)."""
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    data = model.prepare(pairs(), batch_size=batch_size)
    before = model.evaluate(data, verbose=0, return_dict=True)["loss"]
    model.fit(data.repeat(), steps_per_epoch=steps // 2, epochs=2, verbose=0)
    return before, model.evaluate(data, verbose=0, return_dict=True)["loss"]


def never_stop(model):
    """Makes [STOP] impossible: its output bias becomes -1e9."""
    bias = ops.convert_to_numpy(model.decoder.output_dense.bias).copy()
    bias[model.tokenizer.stop_id] = -1e9
    model.decoder.output_dense.bias.assign(bias)


def reload_on_backends(paths, images_path, backends):
    """Loads each `.keras` file under each backend and captions the saved images.

    Returns:
        dict backend -> list of `(ids, attention)` per path, as NumPy arrays.
    """
    code = (
        "import sys, json, numpy as np, keras, keras_seqattn.applications\n"
        "images = np.load(sys.argv[1])\n"
        "out = []\n"
        "for p in sys.argv[2:]:\n"
        "    r = keras.saving.load_model(p, safe_mode=True).caption(images)\n"
        "    out.append([r.ids.tolist(), [a.tolist() for a in r.attention]])\n"
        "print(json.dumps(out))"
    )
    results = {}
    for backend in backends:
        env = dict(os.environ, KERAS_BACKEND=backend)
        out = subprocess.run(
            [sys.executable, "-c", code, images_path, *paths],
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO,
            timeout=300,
        )
        assert out.returncode == 0, out.stderr[-3000:]
        results[backend] = json.loads(out.stdout.strip().splitlines()[-1])
    return results


def other_backends():
    return [b for b in ("tensorflow", "jax", "torch") if b != BACKEND]
