"""The main job for image classifiers: train a ViT, evaluate it, write the artefacts."""

import math
import time

import keras
import numpy as np

from keras_seqattn import datasets
from keras_seqattn.applications import VisionTransformer
from keras_seqattn.applications.vit_pretrained import check_checkpoint_path
from keras_seqattn.evaluation import evaluate_image_classification
from keras_seqattn.text.caption_pipeline import prepare_image
from keras_seqattn.training._holds_out import holds_out
from keras_seqattn.training._resume import ResumableRun, count_examples
from keras_seqattn.visualization import plot_image_attention

# Digits must not be mirrored (a mirrored 2 is no 2); natural images may be.
AUGMENTATIONS = ("shift", "shift_flip")


def augmentation_layers(kind):
    """A list of Keras preprocessing layers for random training augmentation.

    `"shift"`: random translation by up to 12.5% of each side (the usual 4 of
    32 pixels) and zoom by up to 10%, empty borders black. `"shift_flip"`:
    random translation with reflected borders and horizontal flips.
    """
    if kind not in AUGMENTATIONS:
        raise ValueError(f"`augmentation` must be one of {AUGMENTATIONS}. Received: {kind!r}")
    if kind == "shift":
        layers = [
            keras.layers.RandomTranslation(0.125, 0.125, fill_mode="constant"),
            keras.layers.RandomZoom(0.1, fill_mode="constant"),
        ]
    else:
        layers = [
            keras.layers.RandomTranslation(0.125, 0.125, fill_mode="reflect"),
            keras.layers.RandomFlip("horizontal"),
        ]
    return layers


def image_batches(
    images_and_labels,
    batch_size=64,
    shuffle=False,
    seed=0,
    limit=None,
    augmentation=None,
    drop_remainder=False,
):
    """Batches a `tf.data.Dataset` of `(image, label)` for `fit`, `evaluate`.

    Images stay in `[0, 255]`: the model rescales them. With `augmentation`
    (see `augmentation_layers()`), every batch is augmented in the tf.data
    pipeline, where Keras preprocessing layers run on any backend and keep the
    model's compiled graph free of them. `drop_remainder` drops a short last
    batch, so that every batch splits evenly over data-parallel replicas.
    """
    ds = images_and_labels.take(limit) if limit else images_and_labels
    if shuffle:
        ds = ds.shuffle(4096, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    if augmentation is not None:
        layers = augmentation_layers(augmentation)

        def augment(images, labels):
            # One layer at a time: in tf.data each switches to TensorFlow ops, which a
            # `keras.Sequential` of them does not do on the JAX and torch backends.
            for layer in layers:
                images = layer(images, training=True)
            return images, labels

        ds = ds.map(augment)
    return ds.prefetch(2)


def warmup_cosine(learning_rate, total_steps, warmup_steps):
    """Linear warm-up from 0 to `learning_rate`, then cosine decay to 0."""
    warmup_steps = min(warmup_steps, max(total_steps - 1, 0))
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0,
        decay_steps=max(total_steps - warmup_steps, 1),
        warmup_target=learning_rate,
        warmup_steps=warmup_steps,
    )


def _auto_augmentation(dataset_name, channels):
    """The `"auto"` augmentation of a dataset.

    None for the embedded `digits`: its 32x32 images are 8x8 scans blown up 4x,
    so a shift by a fraction of a scanned pixel blends neighbours into a blur the
    test images never show (`vit_tiny_digits` measured 86% test accuracy with
    shifts against 97% without, benchmarks/vit_digits.py).
    """
    if dataset_name == "digits":
        return None
    return "shift" if channels == 1 else "shift_flip"


@holds_out
def train_image_classifier(
    dataset,
    out,
    config="vit_tiny_digits",
    epochs=10,
    batch_size=64,
    learning_rate=1e-3,
    weight_decay=0.05,
    warmup_epochs=1,
    augmentation="auto",
    train_limit=None,
    eval_limit=None,
    seed=0,
    data_dir=None,
    verbose="auto",
    distribution=None,
    weights=None,
    image_size=None,
    model_class=VisionTransformer,
    **model_overrides,
):
    """Trains a `VisionTransformer` on `dataset`, evaluates on its test split, saves all.

    The image size, channels and classes come from the dataset; the rest of the
    model from `CONFIGS[config]` and `model_overrides`. With `weights`, the model
    is a pretrained checkpoint (`VisionTransformer.from_pretrained`) with a fresh
    head for the dataset's classes, fine-tuned at the checkpoint's image size
    and channels: every split's images are resized and their channels matched
    in the input pipeline (`prepare_image`, bilinear), as the paper fine-tunes
    CIFAR at 224 or 384 pixels. AdamW with a linear
    warm-up and a cosine decay (`keras.optimizers.schedules.CosineDecay`) and
    global-norm clipping at 1, as in the paper's training set-up.

    Writes into `out`: `model.keras`, `metrics.json` (test accuracy, timings,
    history) and `attention.png` (rollout and class-token attention of the first
    test image). Until then `out/checkpoint/` holds the state after each epoch:
    the same call after a crash resumes after the last finished epoch.

    Args:
        dataset: an image dataset with `image` and `label` features:
            `"digits"` (embedded), `"mnist"`, `"cifar10"`, ...
        out: output folder.
        config: a key of `CONFIGS`. Defaults to `"vit_tiny_digits"`.
        augmentation: `"auto"` (none for `"digits"`, `"shift"` for other
            one-channel images, which must not be mirrored, `"shift_flip"`
            otherwise), `None`, `"shift"` or `"shift_flip"`. Defaults to
            `"auto"`.
        warmup_epochs: float, epochs of linear learning-rate warm-up.
        train_limit, eval_limit: optional numbers of examples to use.
        distribution: optional, from `keras_seqattn.distribute.make_distribution`:
            the model is built, compiled and trained under it (a JAX
            `keras.distribution.Distribution` or a `tf.distribute.Strategy`);
            `batch_size` is the global batch and must divide by its replicas.
        weights: optional path of a pretrained checkpoint (a Hugging Face or
            timm directory, a timm `.safetensors`, a keras-hub preset
            directory) to fine-tune; `config` is then not used.
        image_size: optional int or `(height, width)`: the model's image size,
            the images resized to it. Defaults to the checkpoint's with
            `weights`, else the dataset's.
        model_class: the classifier: `VisionTransformer` or a class with its
            `from_config_name` and `from_pretrained` (a registered application
            of task `"classification"`). Defaults to `VisionTransformer`.

    Returns:
        The metrics dictionary.
    """
    run = ResumableRun(out, locals())
    if weights is not None:  # a mistyped path is told before any data is prepared
        check_checkpoint_path(weights)
    keras.utils.set_random_seed(seed)
    builder = datasets.prepare(dataset, data_dir)
    datasets.check_image_labels(builder)
    height, width, channels = builder.info.features["image"].shape
    num_classes = builder.info.features["label"].num_classes
    if augmentation == "auto":
        augmentation = _auto_augmentation(builder.name, channels)

    def load(split, limit=None):
        split = f"{split}[:{limit}]" if limit else split
        return datasets.load_image_labels(dataset, split=split, data_dir=data_dir)

    train = load("train", train_limit)
    validation = load("validation", eval_limit) if "validation" in builder.info.splits else None
    run.check_splits(train, validation, batch_size)
    train_examples = count_examples(train)
    steps_per_epoch = (
        train_examples // batch_size
        if run.drop_remainder
        else math.ceil(train_examples / batch_size)
    )
    schedule = warmup_cosine(
        learning_rate, epochs * steps_per_epoch, round(warmup_epochs * steps_per_epoch)
    )
    with run.scope():
        model = run.model(
            lambda: (
                model_class.from_pretrained(
                    weights, num_classes=num_classes, image_size=image_size, **model_overrides
                )
                if weights
                else model_class.from_config_name(
                    config,
                    num_classes=num_classes,
                    image_size=image_size or (height if height == width else (height, width)),
                    num_channels=channels,
                    **model_overrides,
                )
            )
        )
        model.compile(
            optimizer=keras.optimizers.AdamW(
                schedule, weight_decay=weight_decay, global_clipnorm=1.0
            ),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
    model_shape = tuple(model.input_shape[1:])
    if model_shape != (height, width, channels):
        train, validation, load = (
            _fit_to(model_shape, train),
            _fit_to(model_shape, validation),
            lambda split, limit=None, load=load: _fit_to(model_shape, load(split, limit)),
        )
    if validation is not None:
        validation = image_batches(
            validation,
            run.eval_batch_size(count_examples(validation)),
            drop_remainder=run.drop_remainder,
        )
    history = run.fit(
        model,
        image_batches(
            train,
            batch_size,
            shuffle=True,
            seed=seed,
            augmentation=augmentation,
            drop_remainder=run.drop_remainder,
        ),
        validation_data=validation,
        epochs=epochs,
        shuffle=False,  # The dataset is shuffled; Keras cannot shuffle tf.data.
        verbose=verbose,
    )

    test = load("test", eval_limit)
    start = time.perf_counter()
    # Not `model.evaluate`: under a tf.distribute strategy it fails on a batch that
    # leaves a replica no image, and the test split must be scored whole.
    scores = evaluate_image_classification(model, test)
    eval_seconds = time.perf_counter() - start
    metrics = {
        "model": model_class.__name__,
        "config": None if weights else config,
        "weights": None if weights is None else str(weights),
        "dataset": dataset,
        "backend": keras.backend.backend(),
        "epochs": epochs,
        "train_examples": train_examples,
        "parameters": int(model.count_params()),
        "train_seconds": round(run.train_seconds, 1),
        "eval_seconds": round(eval_seconds, 1),
        "test_accuracy": float(scores["accuracy"]),
        "test_loss": float(scores["loss"]),
        "test_examples": count_examples(test),
        "history": history,
    }
    metrics = run.save(model, metrics)
    image, label = next(iter(test.take(1).as_numpy_iterator()))
    _plot_attention(model, image, builder.info.features["label"].int2str(int(label)), run.out)
    return metrics


def _fit_to(shape, images_and_labels):
    """`(image, label)` pairs with images resized and channels matched to `shape`."""
    if images_and_labels is None:
        return None
    height, width, channels = shape

    def fit(image, label):
        return prepare_image(image, (height, width), channels), label

    return images_and_labels.map(fit)


def _plot_attention(model, image, label, out):
    logits = model.predict(image[np.newaxis], verbose=0)[0]
    scores = model.attention_maps(image[np.newaxis])[0]
    plot_image_attention(
        image,
        scores,
        grid_size=model.patch_encoder.grid_size,
        title=f"label {label}, predicted class {int(np.argmax(logits))}",
        path=str(out / "attention.png"),
    )
