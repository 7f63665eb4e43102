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
# # The Vision Transformer (ViT)
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/keras-seqattn/keras-seqattn/blob/main/colab/vit.ipynb)
#
# Lecture section 7 (Dosovitskiy et al. 2021). Cut the image into `P x P` patches,
# flatten them into a sequence, project each linearly, prepend a learnable
# classification token, add position embeddings, run a (pre-norm) Transformer encoder
# and put a linear layer on the classification token's output:
#
# $$z_0 = [x_{class}; x_p^1 E; \dots; x_p^N E] + E_{pos}, \qquad
# z'_\ell = \mathrm{MSA}(\mathrm{LN}(z_{\ell-1})) + z_{\ell-1}, \qquad
# z_\ell = \mathrm{MLP}(\mathrm{LN}(z'_\ell)) + z'_\ell, \qquad
# y = W_{head}\,\mathrm{LN}(z_L^0)$$
#
# Where does the class token look? Per layer, its row of the attention; through all
# layers, attention rollout (Abnar & Zuidema 2020) multiplies the head-averaged
# attention of every layer, each plus the identity for the residual path.

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
# The embedded `digits` dataset by default: single handwritten digits, 32x32 grey
# (scikit-learn's scans, generated offline through TFDS). Set `USE_PUBLIC_DATA = True`
# for CIFAR-10 (`cifar10`, 32x32 colour, a download).

# %%
import keras
import numpy as np

from keras_seqattn import datasets
from keras_seqattn.applications import VisionTransformer
from keras_seqattn.training.image_classification import image_batches, warmup_cosine

USE_PUBLIC_DATA = False
DATASET = "cifar10" if USE_PUBLIC_DATA else "digits"
builder = datasets.prepare(DATASET)
height, width, channels = builder.info.features["image"].shape
label_names = builder.info.features["label"].names
train = datasets.load_image_labels(DATASET, split="train[:64]" if SMALL else "train")
test = datasets.load_image_labels(DATASET, split="test[:32]" if SMALL else "test")
print(builder.info.splits, label_names)

# %% [markdown]
# ## Model and training
#
# `vit_tiny_digits`: 8x8 patches (a 4x4 grid of tokens plus the class token), hidden
# 64, 4 blocks, 4 heads, 140k parameters. The paper's sizes are in `CONFIGS`
# (`"vit_b16"` is ViT-B/16). AdamW with a warm-up and a cosine decay, as the paper
# trains.

# %%
keras.utils.set_random_seed(0)
model = VisionTransformer.from_config_name(
    "vit_micro_digits" if SMALL else "vit_tiny_digits",
    num_classes=len(label_names),
    image_size=height,
    num_channels=channels,
    **(dict(patch_size=4) if USE_PUBLIC_DATA else {}),
)
epochs = 1 if SMALL else 20
steps = epochs * -(-int(train.cardinality()) // 64)
model.compile(
    optimizer=keras.optimizers.AdamW(
        warmup_cosine(1e-3, steps, steps // 10), weight_decay=0.05, global_clipnorm=1.0
    ),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)
model.summary()
history = model.fit(
    image_batches(train, batch_size=64, shuffle=True),
    validation_data=image_batches(test, batch_size=256),
    epochs=epochs,
    shuffle=False,  # image_batches shuffles; Keras cannot shuffle a tf.data.Dataset
)

# %% [markdown]
# ## Prediction

# %%
images, labels = next(iter(image_batches(test, batch_size=8).as_numpy_iterator()))
predicted = np.argmax(model.predict(images, verbose=0), axis=-1)
for label, guess in zip(labels, predicted):
    print(f"label {label_names[label]:>10}  predicted {label_names[guess]}")
accuracy = model.evaluate(image_batches(test, batch_size=256), return_dict=True, verbose=0)
print(f"test accuracy {accuracy['accuracy']:.1%}")

# %% [markdown]
# ## Where the class token looks
#
# `attention_maps()` returns every block's attention, `(batch, layers, heads, 1 + N,
# 1 + N)`; `plot_image_attention` draws the image, the rollout and the class token's
# attention in the first, middle and last layers.

# %%
# %matplotlib inline
from keras_seqattn.visualization import attention_rollout, plot_image_attention

scores = model.attention_maps(images[:1])  # (1, layers, heads, 1 + N, 1 + N)
rollout = attention_rollout(scores)[0, 0, 1:]  # the class token's row, over the patches
print("rollout over the patch grid:\n", rollout.reshape(model.patch_encoder.grid_size).round(3))
plot_image_attention(
    images[0],
    scores[0],
    grid_size=model.patch_encoder.grid_size,
    title=f"label {label_names[labels[0]]}, predicted {label_names[predicted[0]]}",
)

# %% [markdown]
# ## Fine-tune a pretrained ViT-B/16 (Colab, with network)
#
# From scratch, a ViT lacks the locality a CNN has built in and needs far more data
# than CIFAR-10; the paper pre-trains on ImageNet-21k and fine-tunes. Set
# `PRETRAINED = True` (with `USE_PUBLIC_DATA = True` and a GPU runtime) to download
# Google's ImageNet-21k ViT-B/16 from the Hugging Face Hub (`ViTModel`, 346 MB),
# read it into our `VisionTransformer` with a fresh 10-class head, and fine-tune it
# on CIFAR-10 upsampled to its 224 x 224 pixels, with the paper's fine-tuning recipe
# (SGD with momentum 0.9, no weight decay, global-norm clipping at 1, a cosine decay).
# The paper reports 98.95% test accuracy for this model (Dosovitskiy et al. 2021,
# Table 5, fine-tuned at 384 pixels for 10k steps at batch 512); two epochs at 224
# pixels and batch 32 should come close. We have not run this branch on a GPU: no
# number here comes from the real weights. `SEQATTN_PRETRAINED` names a local
# checkpoint instead of the download (the notebook tests use a tiny one).

# %%
from keras_seqattn.text.caption_pipeline import prepare_image

PRETRAINED = False
checkpoint = os.environ.get("SEQATTN_PRETRAINED")
if PRETRAINED or checkpoint:
    if checkpoint is None:
        from huggingface_hub import snapshot_download

        checkpoint = snapshot_download("google/vit-base-patch16-224-in21k")
    tuned = VisionTransformer.from_pretrained(checkpoint, num_classes=len(label_names))
    size, tuned_channels = tuned.input_shape[1:3], tuned.input_shape[3]

    def resized(images_and_labels):  # CIFAR's 32 x 32 (or the grey digits) to the model's
        return images_and_labels.map(lambda x, y: (prepare_image(x, size, tuned_channels), y))

    tuned_epochs = 1 if SMALL else 2
    tuned_steps = tuned_epochs * -(-int(train.cardinality()) // 32)
    tuned.compile(
        optimizer=keras.optimizers.SGD(
            keras.optimizers.schedules.CosineDecay(0.003, tuned_steps),
            momentum=0.9,
            global_clipnorm=1.0,
        ),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    tuned.fit(
        image_batches(resized(train), batch_size=32, shuffle=True),
        epochs=tuned_epochs,
        shuffle=False,
    )
    tuned_accuracy = tuned.evaluate(
        image_batches(resized(test), batch_size=128), return_dict=True, verbose=0
    )["accuracy"]
    print(f"fine-tuned {checkpoint}: test accuracy {tuned_accuracy:.1%}")

# %% [markdown]
# ## Export: SavedModel for TF Serving, `.tflite` for LiteRT
#
# `serving_default` takes float images on the 0-255 scale and returns the class
# probabilities and the top-k classes (with their names when `label_names` is given).

# %%
import tensorflow as tf

from keras_seqattn.export import export_model

folder = export_model(
    model, "runs/vit/export", tflite=True, overwrite=True, top_k=3, label_names=label_names
)
print(sorted(path.name for path in folder.iterdir()))
loaded = tf.saved_model.load(str(folder / "saved_model"))
served = loaded.signatures["serving_default"](images=tf.constant(images, "float32"))
print([[name.decode() for name in row] for row in served["top_k_labels"].numpy()])
served_classes = served["top_k_indices"].numpy()[:, 0]
assert served_classes.shape == (len(images),)
print("SavedModel agrees with predict():", bool((served_classes == predicted).all()))

# %%
from ai_edge_litert.interpreter import Interpreter

runner = Interpreter(model_path=str(folder / "model.tflite")).get_signature_runner()
answer = runner(images=images[:1].astype("float32"))  # batch 1
print("LiteRT top 3:", [label_names[i] for i in answer["top_k_indices"][0]])
assert answer["probabilities"].shape == (1, len(label_names))
