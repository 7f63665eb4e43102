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
# # Image captioning with a Transformer, no CNN
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/keras-seqattn/keras-seqattn/blob/main/colab/transformer_captioning.ipynb)
#
# Lecture section 7. The image is cut into `P x P` patches, each flattened and
# projected linearly, plus a learned position embedding per patch; a Transformer
# encoder runs over the `N = (H / P)(W / P)` patch tokens and a Transformer decoder
# over the words. In the decoder's cross-attention the queries are the words and the
# keys and values are the encoded patches:
#
# $$z_0 = [x_p^1 E; \dots; x_p^N E] + E_{pos}, \qquad
# \mathrm{CrossAttention}(Q_{words}, K_{patches}, V_{patches}) =
# \mathrm{softmax}\left(\frac{Q K^\top}{\sqrt{d_k}}\right) V$$
#
# Each row of the softmax is one word's distribution over the patch grid, which we
# draw over the image as for Show, Attend and Tell.

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

# Small mode trains on a thousand scenes for one epoch (64 steps): a few seconds, and
# about the least that gets the tiny model past empty captions.
train = datasets.load_caption_pairs(DATASET, split="train[:1024]" if SMALL else "train")
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
# `transformer_captioner_tiny_digits`: 8x8 patches (an 8x8 grid on a 64x64 scene, one
# or two cells per digit), hidden 128, 2+2 blocks, 4 heads. On COCO,
# `transformer_captioner_base` cuts 224x224 images into 16x16 patches.

# %%
from keras_seqattn.applications import TransformerCaptioner
from keras_seqattn.applications.transformer_captioner import CONFIGS

keras.utils.set_random_seed(0)
if SMALL:
    SIZES = dict(patch_size=8, hidden_dim=32, num_encoder_layers=1, num_decoder_layers=1)
    SIZES.update(num_heads=2, intermediate_dim=64)
elif USE_PUBLIC_DATA:
    SIZES = CONFIGS["transformer_captioner_base"]
else:
    SIZES = CONFIGS["transformer_captioner_tiny_digits"]
model = TransformerCaptioner.from_corpus(train, **IMAGES, **SIZES)
# Small mode: 64 steps in all, so a short warm-up and a much higher rate.
warm_up = keras.optimizers.schedules.CosineDecay(
    0.0, decay_steps=10**9, warmup_target=1e-2 if SMALL else 1e-3, warmup_steps=5 if SMALL else 400
)
model.compile(optimizer=keras.optimizers.Adam(warm_up, beta_2=0.98))
model.summary()
history = model.fit(
    model.prepare(train, batch_size=16 if SMALL else 64, shuffle=True),
    validation_data=model.prepare(validation, batch_size=256),
    epochs=1 if SMALL else 5,
)
print("patch grid:", model.grid_shape)

# %% [markdown]
# ## Generation
#
# `caption()` takes pixels on the 0-255 scale (resized to the model's size) and
# decodes greedily or with beam search. `evaluate_captioning` scores exact match,
# BLEU-4 and CIDEr on the test images.
#
# In small mode the model has seen each scene once: its captions use the right words
# at about the right length, but hardly depend on the image yet.

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
# ## Where each word looked
#
# The last decoder block's cross-attention, averaged over the heads
# (`result.attention`; per head in `result.attention_heads`), one map over the patch
# grid per generated word.

# %%
# %matplotlib inline
from keras_seqattn.visualization import plot_caption_attention

print("per head:", result.attention_heads[0].shape)
plot_caption_attention(
    images[0], result.attention[0], result.output_tokens[0], title=result.text[0]
)

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
