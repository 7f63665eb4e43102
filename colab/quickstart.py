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
# # keras-seqattn quickstart: attention that learns to read dates
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/keras-seqattn/keras-seqattn/blob/main/colab/quickstart.ipynb)
#
# Train the lecture's attention model (an RNN encoder-decoder with Bahdanau attention)
# to turn dates written in 15 locales ("3. Mai 2021", "May 3, 2021") into ISO
# `YYYY-MM-DD`, one character at a time, on TensorFlow, JAX or PyTorch. At each
# output step `t` the decoder scores its state against every encoder state `h_i`,
# and its context is their softmax-weighted sum:
#
# $$a_{t,i} = \mathrm{softmax}_i\big(f_{att}(s_{t-1}, h_i)\big), \qquad
# c_t = \sum_i a_{t,i} h_i .$$
#
# The other notebooks in `colab/` take each lecture model in turn: `seq2seq_rnn`,
# `attention_seq2seq`, `rnn_captioner`, `show_attend_tell`, `transformer_translation`,
# `transformer_captioning`, `vit`, and `export`.

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
# ## Train
#
# `date_normalization` is one of the embedded TFDS datasets: it is generated offline
# from Babel's locale data the first time it is loaded.

# %%
import keras

from keras_seqattn import datasets
from keras_seqattn.applications import AttentionSeq2Seq

keras.utils.set_random_seed(0)
pairs = datasets.load_translation_pairs(
    "date_normalization", split="train[:64]" if SMALL else "train[:20000]"
)
model = AttentionSeq2Seq.from_corpus(
    pairs,
    source_mode="character",
    target_mode="character",
    **(dict(embedding_dim=8, hidden_dim=16) if SMALL else dict(embedding_dim=32, hidden_dim=128)),
)
model.compile()
model.fit(model.prepare(pairs, batch_size=64, shuffle=True), epochs=1 if SMALL else 3)

# %% [markdown]
# ## Translate, and look at the attention

# %%
# %matplotlib inline
from keras_seqattn.visualization import plot_attention_heatmap

result = model.translate(["3. Mai 2021", "May 3, 2021", "2021年5月3日"])
print(result.text)
plot_attention_heatmap(
    result.attention[1], result.input_tokens[1], result.output_tokens[1], title="May 3, 2021"
)

# %% [markdown]
# ## Save, load, export
#
# The `.keras` file carries the vocabularies. `export_model` writes a SavedModel for
# TensorFlow Serving (strings in, strings out, since the tokens are characters) and a
# `.tflite` model for LiteRT; see `export.ipynb` and `serving.md`.

# %%
import tensorflow as tf

from keras_seqattn.export import export_model

os.makedirs("runs/quickstart", exist_ok=True)
model.save("runs/quickstart/model.keras")
reloaded = keras.saving.load_model("runs/quickstart/model.keras")
print(reloaded.translate(["May 3, 2021"]).text)
folder = export_model(reloaded, "runs/quickstart/export", overwrite=True, beam_width=1)
serve = tf.saved_model.load(str(folder / "saved_model")).signatures["serving_default"]
answer = serve(text=tf.constant(["May 3, 2021"]))
print("SavedModel:", answer["text"].numpy()[0].decode())
assert answer["text"].shape == (1,)
