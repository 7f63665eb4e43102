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
# # Seq2Seq with RNNs and attention (Bahdanau)
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/keras-seqattn/keras-seqattn/blob/main/colab/attention_seq2seq.ipynb)
#
# Lecture section 2. The plain encoder-decoder squeezes the whole source into one
# vector `c`. With attention, the decoder keeps every encoder state `h_1 .. h_S` and
# builds a new context at every output step `t` from its previous state `s_{t-1}`:
#
# $$e_{t,i} = f_{att}(s_{t-1}, h_i) = v^\top \tanh(W_q s_{t-1} + W_k h_i), \qquad
# a_{t,i} = \frac{\exp e_{t,i}}{\sum_j \exp e_{t,j}}, \qquad
# c_t = \sum_i a_{t,i} h_i$$
#
# and `s_t = g(y_{t-1}, s_{t-1}, c_t)`. Everything is differentiable, so the
# alignment is learned by backpropagation alone; the weights `a_{t,i}` form a
# (target x source) matrix that we draw as a heat map at the end.

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
# download). German puts the units before the tens ("forty-two" is "zweiundvierzig"),
# so the attention has to cross.

# %%
import keras

from keras_seqattn import datasets
from keras_seqattn.applications import AttentionSeq2Seq

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
# `from_corpus` learns both vocabularies (here SentencePiece BPE, so German compounds
# split into pieces like "zwei", "und", "vierzig"); a bidirectional encoder makes each
# `h_i` centre on source word `i`.

# %%
keras.utils.set_random_seed(0)
SIZES = dict(embedding_dim=16, hidden_dim=32) if SMALL else dict(embedding_dim=128, hidden_dim=256)
model = AttentionSeq2Seq.from_corpus(
    train,
    source_mode=TOKENS,
    target_mode=TOKENS,
    vocabulary_size=VOCABULARY,
    max_source_length=LENGTHS,
    max_target_length=LENGTHS,
    bidirectional=True,
    **SIZES,
)
model.compile(optimizer=keras.optimizers.Adam(1e-3))
model.summary()
history = model.fit(
    model.prepare(train, batch_size=64, shuffle=True),
    validation_data=model.prepare(validation, batch_size=256),
    epochs=1 if SMALL else 3,
)

# %% [markdown]
# ## Generation
#
# `translate()` decodes greedily (`beam_width=1`) or with beam search, and returns the
# text together with the attention of every output token.

# %%
from keras_seqattn.evaluation import evaluate_translation

pairs = list(test.take(4).as_numpy_iterator())
sources = [source.decode() for source, _ in pairs]
result = model.translate(sources)
beam = model.translate(sources, beam_width=4)
for (source, target), greedy, beamed in zip(pairs, result.text, beam.text):
    print(f"{source.decode()}\n  reference {target.decode()}\n  greedy    {greedy}")
    print(f"  beam      {beamed}")
scores = evaluate_translation(model, test)
print(f"exact match {scores['exact_match']:.1%}, BLEU {scores['bleu']:.1f}")

# %% [markdown]
# ## The attention heat map
#
# Row `t` is `a_{t,:}`: where the decoder looked while it wrote output token `t`
# (here for the shortest of the sources above).

# %%
# %matplotlib inline
from keras_seqattn.visualization import plot_attention_heatmap

i = min(range(len(sources)), key=lambda k: len(sources[k]))
plot_attention_heatmap(
    result.attention[i], result.input_tokens[i], result.output_tokens[i], title=sources[i]
)

# %% [markdown]
# ## Luong attention: the current state scores
#
# Luong et al. (2015) turn Bahdanau's order around: the RNN steps first, its new
# state `h_t` scores every `h_s` (`dot`, `general` `h_t . W_a h_s`, or `concat`), and
# the context enters only through the attentional state `h~_t = tanh(W_c [c_t; h_t])`,
# which gives the logits and, with input feeding, is fed to the next step. Same data,
# sizes and epochs; the heat map of the same source.

# %%
from keras_seqattn.applications import LuongSeq2Seq

keras.utils.set_random_seed(0)
luong = LuongSeq2Seq.from_corpus(
    train,
    source_mode=TOKENS,
    target_mode=TOKENS,
    vocabulary_size=VOCABULARY,
    max_source_length=LENGTHS,
    max_target_length=LENGTHS,
    bidirectional=True,
    score_mode="general",
    **SIZES,
)
luong.compile(optimizer=keras.optimizers.Adam(1e-3))
luong.fit(
    luong.prepare(train, batch_size=64, shuffle=True),
    validation_data=luong.prepare(validation, batch_size=256),
    epochs=1 if SMALL else 3,
)
luong_scores = evaluate_translation(luong, test)
print(f"Luong: exact match {luong_scores['exact_match']:.1%}, BLEU {luong_scores['bleu']:.1f}")
luong_result = luong.translate([sources[i]])
plot_attention_heatmap(
    luong_result.attention[0],
    luong_result.input_tokens[0],
    luong_result.output_tokens[0],
    title=f"Luong (general): {sources[i]}",
)

# %% [markdown]
# ## Export: SavedModel for TF Serving, `.tflite` for LiteRT
#
# The SavedModel holds the SentencePiece tokenisation (rewritten with core
# TensorFlow ops, so TF Serving needs no `tensorflow_text`), the whole generation
# loop and the detokenisation: strings in, strings out (see `serving.md`). We
# check that it answers like `translate()`.

# %%
import numpy as np
import tensorflow as tf

from keras_seqattn.export import export_model

folder = export_model(
    model, "runs/attention_seq2seq/export", tflite=True, overwrite=True, beam_width=1
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

# %% [markdown]
# ## Long inputs: a new context at every step (Bahdanau et al., Fig. 2)
#
# `number_lists/en_to_fr` holds lists of numbers in English words, 1 to 100 tokens
# long, each item translated into French in order (`"forty two , seven"` ->
# `"quarante deux , sept"`): nothing short of the whole source gives the target. As
# Bahdanau et al.'s RNNsearch-30, we train on the sources of at most 30 tokens and
# test on every length. The vocabularies and the model's buffers come from all
# lengths, so that a 100-token test source fits; `prepare(..., lengths="longest")`
# pads the training batches only as far as the short sources need.
# `benchmarks/long_inputs.py` runs the full study (README, "Long inputs").
# Compare this curve with the one in `seq2seq_rnn.ipynb`.

# %%
from matplotlib.figure import Figure

from keras_seqattn.evaluation import item_alignment, quality_by_length

LONG_DATASET, TRAIN_MAX_WORDS = "number_lists/en_to_fr", 30
long_train = datasets.load_translation_pairs(
    LONG_DATASET, split="train[:400]" if SMALL else "train"
)
long_test = datasets.load_translation_pairs(LONG_DATASET, split="test[:60]" if SMALL else "test")
short_train = datasets.load_translation_pairs(
    LONG_DATASET, split="train[:400]" if SMALL else "train", max_source_words=TRAIN_MAX_WORDS
)

keras.utils.set_random_seed(0)
long_model = AttentionSeq2Seq.from_corpus(
    long_train, source_mode="sentence_piece", target_mode="sentence_piece", vocabulary_size=200,
    bidirectional=True, **SIZES,
)  # fmt: skip
long_model.compile(optimizer=keras.optimizers.Adam(2e-3))
long_model.fit(
    # Padded to the longest short pair, not to the 100-token buffers.
    long_model.prepare(short_train, batch_size=64, shuffle=True, lengths="longest"),
    epochs=1 if SMALL else 5,
)

# %%
long_scores = evaluate_translation(long_model, long_test, batch_size=500)
rows = quality_by_length(long_scores["examples"], bucket_edges=range(10, 101, 10))
figure = Figure(figsize=(9, 3), layout="constrained")
for k, (key, label) in enumerate([("bleu", "BLEU"), ("exact_match", "exact match")]):
    axes = figure.add_subplot(1, 2, k + 1)
    scale = 1 if key == "bleu" else 100
    axes.plot([row["lengths"] for row in rows], [scale * row[key] for row in rows], marker="o")
    axes.axvline(2, color="gray", linestyle=":")  # the end of the 21-30 bucket: trained
    axes.set(xlabel="source length (tokens)", ylabel=label, ylim=(0, 101))
    axes.tick_params(axis="x", labelrotation=45)
figure.suptitle(f"AttentionSeq2Seq trained on sources of at most {TRAIN_MAX_WORDS} tokens")
figure

# %% [markdown]
# On the longest test source the alignment should stay on the diagonal: each French
# item looks at its English item. `item_alignment` measures it: the share of each
# output token's attention on the source item it translates (one token either side
# counts), and how often the most attended position moves forward.

# %%
longest_source = max((source for source, _, _ in long_scores["examples"]), key=len)
long_result = long_model.translate([longest_source])
print(item_alignment(
    long_result.attention[0], long_result.input_tokens[0], long_result.output_tokens[0]
))  # fmt: skip
plot_attention_heatmap(
    long_result.attention[0],
    long_result.input_tokens[0],
    long_result.output_tokens[0],
    title=f"{len(longest_source.split())} source tokens",
)
