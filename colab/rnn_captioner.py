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
# # Image captioning with a CNN and an RNN
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/keras-seqattn/keras-seqattn/blob/main/colab/rnn_captioner.ipynb)
#
# Lecture section 3 (Vinyals et al. 2015, Show and Tell). A CNN turns the image into
# a grid of features `a_1 .. a_L`; their mean is the whole image in one vector `c`,
# which gives the RNN's initial state and is fed as the fixed context at every word:
#
# $$c = \frac{1}{L}\sum_i a_i, \qquad s_0 = \tanh(W_{init} c), \qquad
# s_t = g([E w_{t-1}; c], s_{t-1}), \qquad p(w_t) = \mathrm{softmax}(W_o [s_t; c])$$
#
# from `[START]` until `[STOP]`. It is the Seq2Seq bottleneck again: one vector for the
# whole image, while each word needs a different part of it. Compare with
# `show_attend_tell.ipynb`.

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
# The embedded `digit_scenes` dataset by default: 64x64 scenes of 2 to 5 real
# handwritten digits (scikit-learn's scans), captioned in reading order ("seven three
# one"), with a box per digit, generated offline through TFDS. Set
# `USE_PUBLIC_DATA = True` for COCO captions (`coco_captions`, about 38 GB: a
# download) with an ImageNet-pretrained ResNet50 (weights downloaded too).

# %%
import keras
import numpy as np

from keras_seqattn import datasets

USE_PUBLIC_DATA = False
if USE_PUBLIC_DATA:
    DATASET, VALIDATION = "coco_captions", "val"
    IMAGES = dict(image_size=(224, 224), num_channels=3)
else:
    DATASET, VALIDATION, IMAGES = "digit_scenes", "validation", {}

train = datasets.load_caption_pairs(DATASET, split="train[:64]" if SMALL else "train")
validation = datasets.load_caption_pairs(
    DATASET, split=f"{VALIDATION}[:32]" if SMALL else VALIDATION
)
test = datasets.load(DATASET, split="test[:16]" if SMALL else "test[:500]")


def reference(example):
    """The caption of a digit scene, or the first of a COCO image's five."""
    caption = example["caption"] if "caption" in example else example["captions"]["text"][0]
    return caption.decode()


for image, caption in train.take(3).as_numpy_iterator():
    print(image.shape, caption.decode())

# %% [markdown]
# ## Model and training
#
# `RNNCaptioner.from_corpus` learns the caption vocabulary (word pieces) and takes the
# image size from the data. On `digit_scenes` a small CNN is trained from scratch; on
# COCO a frozen ImageNet ResNet50 gives the features.

# %%
from keras_seqattn.applications import RNNCaptioner

keras.utils.set_random_seed(0)
if SMALL:
    SIZES = dict(filters=(8, 16), embedding_dim=8, hidden_dim=16, feature_dim=16)
elif USE_PUBLIC_DATA:
    SIZES = dict(backbone="ResNet50", backbone_weights="imagenet", trainable_backbone=False)
    SIZES.update(feature_dim=512, embedding_dim=256, hidden_dim=512)
else:
    SIZES = {}  # the defaults: filters (32, 64, 128), hidden 256
model = RNNCaptioner.from_corpus(train, **IMAGES, **SIZES)
model.compile(optimizer=keras.optimizers.Adam(2e-3))
model.summary()
history = model.fit(
    model.prepare(train, batch_size=64, shuffle=True),
    validation_data=model.prepare(validation, batch_size=256),
    epochs=1 if SMALL else 5,
)

# %% [markdown]
# ## Generation
#
# `caption()` takes pixels on the 0-255 scale (resized to the model's size) and
# decodes greedily or with beam search. `evaluate_captioning` scores exact match,
# BLEU-4 and CIDEr on the test images.

# %%
from keras_seqattn.evaluation import evaluate_captioning

examples = list(test.take(4).as_numpy_iterator())
images = np.concatenate([model.prepare_images(example["image"][None]) for example in examples])
result = model.caption(images, grid_attention=True)
beam = model.caption(images, beam_width=4)
for example, greedy, beamed in zip(examples, result.text, beam.text):
    print(f"reference {reference(example)}\n  greedy  {greedy}\n  beam    {beamed}")
scores = evaluate_captioning(model, test)
print({key: scores[key] for key in ("exact_match", "bleu", "cider", "attention_localization")})

# %% [markdown]
# ## The test images and their captions
#
# The model has no attention (`result.attention[0]` is `(length, 0)`), so there is no
# map to draw: only what it wrote.

# %%
# %matplotlib inline
from matplotlib.figure import Figure

print("attention of the first caption:", result.attention[0].shape)
figure = Figure(figsize=(2.4 * len(images), 2.8), layout="constrained")
for axes, image, example, text in zip(
    figure.subplots(1, len(images)), images, examples, result.text
):
    axes.imshow(image[..., 0] if image.shape[-1] == 1 else image / 255, cmap="gray")
    axes.set_title(f"{text}\n({reference(example)})", fontsize=8)
    axes.axis("off")
figure

# %% [markdown]
# ## Export: SavedModel for TF Serving, `.tflite` for LiteRT
#
# The SavedModel takes float images of the model's size (`serving_default`) or encoded
# JPEG/PNG bytes of any size (`image_bytes`) and returns the captions; the generation
# loop and the detokenisation are inside. We check that it answers like `caption()`.

# %%
import tensorflow as tf

from keras_seqattn.export import export_model

folder = export_model(model, f"runs/{model.name}/export", tflite=True, overwrite=True, beam_width=1)
print(sorted(path.name for path in folder.iterdir()))
loaded = tf.saved_model.load(str(folder / "saved_model"))
print(list(loaded.signatures))
served = loaded.signatures["serving_default"](images=tf.constant(images))
served_text = [text.decode() for text in served["text"].numpy()]
print(served_text)
assert len(served_text) == len(images)
print("SavedModel agrees with caption():", served_text == result.text)

# %%
from ai_edge_litert.interpreter import Interpreter

runner = Interpreter(model_path=str(folder / "model.tflite")).get_signature_runner()
answer = runner(images=images[:1])  # batch 1
print("LiteRT:", model.tokenizer.detokenize(answer["ids"])[0])
assert int(answer["lengths"][0]) > 0
