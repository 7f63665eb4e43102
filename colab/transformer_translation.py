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
# # The Transformer for translation
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/keras-seqattn/keras-seqattn/blob/main/colab/transformer_translation.ipynb)
#
# Lecture section 5 (Vaswani et al. 2017): an encoder and a decoder built from
# attention alone, no recurrence. Queries, keys and values are linear projections
# `Q = X W_Q`, `K = X W_K`, `V = X W_V`, and each of several heads computes
#
# $$\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\left(\frac{Q K^\top}{\sqrt{d_k}}\right) V .$$
#
# Sinusoidal positional encodings added to the embeddings give the order. An encoder
# block is self-attention, residual add and layer norm, then an MLP, residual add and
# layer norm; a decoder block adds causal self-attention before the cross-attention,
# whose queries are the decoder states and whose keys and values are the encoder
# outputs (the paper; the lecture notes swap the roles). Every position attends to
# every input in parallel, at the cost of `N x M` scores per head.

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
# ## Data
#
# The embedded `number_words/en_to_de` dataset (English number words to German,
# generated offline through TFDS) by default; set `USE_PUBLIC_DATA = True` for the
# public TED talks Portuguese-English corpus (`ted_hrlr_translate/pt_to_en`, a
# download).

# %%
import keras

from keras_seqattn import datasets
from keras_seqattn.applications import TransformerSeq2Seq

USE_PUBLIC_DATA = False
if USE_PUBLIC_DATA:
    DATASET, TOKENS, VOCABULARY, LENGTHS = "ted_hrlr_translate/pt_to_en", "word_piece", 8000, 64
else:
    DATASET, TOKENS, VOCABULARY, LENGTHS = "number_words/en_to_de", "sentence_piece", 200, None

train = datasets.load_translation_pairs(DATASET, split="train[:64]" if SMALL else "train")
validation = datasets.load_translation_pairs(
    DATASET, split="validation[:32]" if SMALL else "validation"
)
test = datasets.load_translation_pairs(DATASET, split="test[:16]" if SMALL else "test[:1000]")
for source, target in train.take(3).as_numpy_iterator():
    print(source.decode(), "->", target.decode())

# %% [markdown]
# ## Model and training
#
# `transformer_tiny` (hidden 64, 2+2 blocks, 4 heads) trains in a few minutes; the
# paper's sizes are `transformer_base` and `transformer_big`. The optimiser is the
# paper's Adam (`beta_2 = 0.98`) after a linear warm-up.

# %%
from keras_seqattn.applications.transformer_seq2seq import CONFIGS

keras.utils.set_random_seed(0)
SMALL_SIZES = dict(hidden_dim=16, num_layers=1, num_heads=2, intermediate_dim=32)
model = TransformerSeq2Seq.from_corpus(
    train,
    source_mode=TOKENS,
    target_mode=TOKENS,
    vocabulary_size=VOCABULARY,
    max_source_length=LENGTHS,
    max_target_length=LENGTHS,
    **(SMALL_SIZES if SMALL else CONFIGS["transformer_tiny"]),
)
warm_up = keras.optimizers.schedules.CosineDecay(
    0.0, decay_steps=10**9, warmup_target=1e-3, warmup_steps=400
)
model.compile(optimizer=keras.optimizers.Adam(warm_up, beta_2=0.98))
model.summary()
history = model.fit(
    model.prepare(train, batch_size=64, shuffle=True),
    validation_data=model.prepare(validation, batch_size=256),
    epochs=1 if SMALL else 5,
)

# %% [markdown]
# ## Generation
#
# `translate()` runs the encoder once, then decodes one token per step against a
# key/value cache, greedily or with beam search. It returns the last decoder block's
# cross-attention, averaged over the heads (`result.attention`) and per head
# (`result.attention_heads`).

# %%
from keras_seqattn.evaluation import evaluate_translation

pairs = list(test.take(4).as_numpy_iterator())
sources = [source.decode() for source, _ in pairs]
result = model.translate(sources)
beam = model.translate(sources, beam_width=4)
for (source, target), greedy, beamed in zip(pairs, result.text, beam.text):
    print(f"{source.decode()}\n  reference {target.decode()}\n  greedy    {greedy}")
    print(f"  beam      {beamed}")
print("attention per head of the first output:", result.attention_heads[0].shape)
scores = evaluate_translation(model, test)
print(f"exact match {scores['exact_match']:.1%}, BLEU {scores['bleu']:.1f}")

# %% [markdown]
# ## The cross-attention
#
# Averaged over the heads, then each head alone: heads specialise, and the average
# shows the same crossing as Bahdanau's attention ("zwei" looks at "two", "undvier"
# at "forty").

# %%
# %matplotlib inline
from keras_seqattn.visualization import plot_attention_heatmap

i = min(range(len(sources)), key=lambda k: len(sources[k]))
plot_attention_heatmap(
    result.attention[i], result.input_tokens[i], result.output_tokens[i], title=sources[i]
)

# %%
plot_attention_heatmap(
    result.attention_heads[i][:, 0],  # (output_len, source_len) of head 0
    result.input_tokens[i],
    result.output_tokens[i],
    title="head 0",
)

# %% [markdown]
# ## Export: SavedModel for TF Serving, `.tflite` for LiteRT
#
# The SavedModel holds the SentencePiece tokenisation (rewritten with core
# TensorFlow ops, so TF Serving needs no `tensorflow_text`), the encoder, the cached decoding loop
# and the detokenisation: strings in, strings out (see `serving.md`). We check
# that it answers like `translate()`.

# %%
import numpy as np
import tensorflow as tf

from keras_seqattn.export import export_model

folder = export_model(
    model, "runs/transformer_translation/export", tflite=True, overwrite=True, beam_width=1
)
print(sorted(path.name for path in folder.iterdir()))
loaded = tf.saved_model.load(str(folder / "saved_model"))
served = loaded.signatures["serving_default"](text=tf.constant(sources))
served_text = [text.decode() for text in served["text"].numpy()]
print(served_text)
assert len(served_text) == len(sources)
print("SavedModel agrees with translate():", served_text == result.text)

# %%
from ai_edge_litert.interpreter import Interpreter

# LiteRT runs builtin ops only, so the app tokenises: here with the model's tokenizer.
runner = Interpreter(model_path=str(folder / "model.tflite")).get_signature_runner()
source_ids = model.tokenize_sources(sources[:1])
row = np.zeros((1, model.max_source_length), "int32")  # batch 1, zero-padded
row[0, : source_ids.shape[1]] = source_ids[0]
answer = runner(source_ids=row)
lite_text = model.target_tokenizer.detokenize(answer["ids"])[0]
print(f"LiteRT: {sources[0]} -> {lite_text}")
assert int(answer["lengths"][0]) > 0
