# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Export: TensorFlow Serving and LiteRT
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/keras-seqattn/keras-seqattn/blob/main/colab/export.ipynb)
#
# A trained model is only useful where it can answer. `export_model` turns any
# application, trained on any backend, into a SavedModel whose signatures hold the
# whole generation loop (greedy search and beam search with a fixed-size buffer) and
# the detokenisation, with core TensorFlow ops only, and into a builtins-only `.tflite`
# model for LiteRT. Greedy search picks, step after step,
#
# $$y_t = \arg\max_y \; p(y \mid y_{<t}, x) \quad \text{until } y_t = \texttt{[STOP]},$$
#
# and beam search keeps the `k` best prefixes by log-probability, divided by the GNMT
# length penalty `((5 + |Y|) / 6)^alpha`. Here: a date normaliser with attention,
# exported, then called the way TF Serving and a phone would call it.

# %%
import os
import subprocess
import sys

PACKAGES = ["keras-seqattn @ git+https://github.com/keras-seqattn/keras-seqattn", "ai-edge-litert"]
if "google.colab" in sys.modules:  # Colab: install the package and LiteRT.
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", *PACKAGES], check=True)
os.environ.setdefault("KERAS_BACKEND", "tensorflow")  # or "jax", "torch"
# SEQATTN_SMALL=1: a few dozen examples, one epoch, tiny sizes (the notebook tests).
SMALL = os.environ.get("SEQATTN_SMALL") == "1"

# %% [markdown]
# ## A model to export
#
# `AttentionSeq2Seq` on the embedded `date_normalization` dataset (set
# `USE_PUBLIC_DATA = True` for TED talks Portuguese-English, a download), with
# character tokens, so the SavedModel takes strings.

# %%
import keras

from keras_seqattn import datasets
from keras_seqattn.applications import AttentionSeq2Seq

USE_PUBLIC_DATA = False
DATASET = "ted_hrlr_translate/pt_to_en" if USE_PUBLIC_DATA else "date_normalization"
keras.utils.set_random_seed(0)
pairs = datasets.load_translation_pairs(DATASET, split="train[:64]" if SMALL else "train[:20000]")
model = AttentionSeq2Seq.from_corpus(
    pairs,
    source_mode="character",
    target_mode="character",
    max_source_length=128 if USE_PUBLIC_DATA else None,
    max_target_length=128 if USE_PUBLIC_DATA else None,
    **(dict(embedding_dim=8, hidden_dim=16) if SMALL else dict(embedding_dim=32, hidden_dim=128)),
)
model.compile()
model.fit(model.prepare(pairs, batch_size=64, shuffle=True), epochs=1 if SMALL else 3)
sources = [source.decode() for source, _ in pairs.take(3).as_numpy_iterator()]
expected = model.translate(sources)
print(list(zip(sources, expected.text)))

# %% [markdown]
# ## Export
#
# `tflite=True` adds `model.tflite`; `quantize="float16"` or `"dynamic"` shrinks it.
# `export.json` lists the signatures, sizes and special token ids.

# %%
import json

from keras_seqattn.export import export_model

folder = export_model(model, "runs/export/dates", tflite=True, overwrite=True, beam_width=4)
small = export_model(model, "runs/export/dates_float16", tflite=True, quantize="float16",
                     overwrite=True, beam_width=1)  # fmt: skip
meta = json.loads((folder / "export.json").read_text())
print(json.dumps({key: meta[key] for key in ("model_class", "signatures", "max_source_length")}))
for path in (folder / "model.tflite", small / "model.tflite"):
    print(f"{path}: {path.stat().st_size / 1024:.0f} KiB")

# %% [markdown]
# ## The SavedModel, as TF Serving runs it
#
# In a process that imports only TensorFlow, as the `tensorflow/serving` image does:
# `serving_default` takes strings and returns text, ids, lengths and scores.

# %%
import subprocess
import sys

SERVER = """
import sys, tensorflow as tf
serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
print(serve(text=tf.constant(sys.argv[2:]))["text"].numpy())
"""
served = subprocess.run(
    [sys.executable, "-c", SERVER, str(folder / "saved_model"), *sources],
    capture_output=True,
    text=True,
    check=True,
)
print(served.stdout)

# %% [markdown]
# In this process: the beam signature, and the `attention` signature, whose weights
# we draw as the lecture's heat map.

# %%
# %matplotlib inline
import tensorflow as tf

from keras_seqattn.visualization import plot_attention_heatmap

loaded = tf.saved_model.load(str(folder / "saved_model"))
print(list(loaded.signatures))
greedy = loaded.signatures["serving_default"](text=tf.constant(sources))
beam = loaded.signatures["beam"](text=tf.constant(sources))
texts = [text.decode() for text in greedy["text"].numpy()]
print("greedy:", texts, "\nbeam:  ", [text.decode() for text in beam["text"].numpy()])
assert len(texts) == len(sources)
print("SavedModel agrees with translate():", texts == expected.text)
source_ids = model.tokenize_sources(sources[:1])
attention = loaded.signatures["attention"](source_ids=tf.constant(source_ids))
length = int(attention["lengths"][0])
plot_attention_heatmap(
    attention["attention"][0, :length].numpy(),  # (output_len, source_len)
    model.source_tokenizer.id_to_token(source_ids)[0],
    model.target_tokenizer.id_to_token(attention["ids"][:, :length].numpy())[0],
    title=f"{sources[0]} (from the SavedModel)",
)

# %% [markdown]
# ## LiteRT
#
# The `.tflite` model takes one zero-padded row of source ids (batch 1) and returns
# the output ids; the two vocabulary files tokenise and detokenise on the device, with
# no Keras and no TensorFlow (here as `serving.md` shows it).

# %%
import numpy as np
from ai_edge_litert.interpreter import Interpreter

source_vocabulary = json.loads((folder / "source_vocabulary.json").read_text())
target_vocabulary = json.loads((folder / "vocabulary.json").read_text())
index = {token: i for i, token in enumerate(source_vocabulary)}
text = sources[0].lower() if meta["lowercase"] else sources[0]
ids = [index.get(c, 1) for c in text][: meta["max_source_length"] - 1] + [3]  # 1 [UNK], 3 [STOP]
row = np.zeros((1, meta["max_source_length"]), "int32")
row[0, : len(ids)] = ids
for path in (folder / "model.tflite", small / "model.tflite"):
    answer = Interpreter(model_path=str(path)).get_signature_runner()(source_ids=row)
    output = answer["ids"][0][: answer["lengths"][0]]
    print(path.parent.name, repr("".join(target_vocabulary[i] for i in output if i > 3)))
    assert int(answer["lengths"][0]) > 0
