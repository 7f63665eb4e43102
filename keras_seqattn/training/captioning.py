"""The main job for captioning models: train, evaluate, write the artefacts."""

import os
import time

import keras

from keras_seqattn import datasets
from keras_seqattn.evaluation import evaluate_captioning
from keras_seqattn.training._holds_out import holds_out
from keras_seqattn.training._resume import ResumableRun
from keras_seqattn.visualization import plot_caption_attention


def _split(builder, *names):
    """The first of `names` that `builder` has."""
    for name in names:
        if name in builder.info.splits:
            return name
    raise ValueError(
        f"Dataset {builder.info.full_name!r} has none of the splits {names}. "
        f"Received: splits={list(builder.info.splits)}"
    )


@holds_out
def train_captioner(
    model_class,
    dataset,
    out,
    epochs=10,
    batch_size=64,
    train_limit=None,
    eval_limit=None,
    vocabulary_size=1000,
    learning_rate=1e-3,
    beam_width=1,
    image_size=None,
    seed=0,
    data_dir=None,
    verbose="auto",
    callbacks=None,
    distribution=None,
    **model_kwargs,
):
    """Trains `model_class` on `dataset`'s captions, evaluates on its test split, saves all.

    Writes into `out`: `model.keras` (vocabulary inside), `metrics.json` (exact
    match, BLEU-4, CIDEr, attention localisation where the dataset has boxes,
    timings, history) and, for a model with attention (`AttentionCaptioner`,
    `TransformerCaptioner`), `attention.png`: the first test image with the
    attention of every generated word. Until then `out/checkpoint/` holds the
    state after each epoch: the same call after a crash resumes after the last
    finished epoch.

    Args:
        model_class: `RNNCaptioner`, `AttentionCaptioner` or `TransformerCaptioner`.
        dataset: a captioning dataset: `"digit_scenes"` (embedded) or
            `"coco_captions"` (public; needs `image_size`).
        out: output folder.
        image_size: `(height, width)` the images are resized to; `None` takes the
            dataset's fixed size.
        train_limit, eval_limit: optional numbers of examples to use.
        callbacks: optional extra Keras callbacks for `fit` (e.g. a time budget).
        distribution: optional, from `keras_seqattn.distribute.make_distribution`:
            the model is built, compiled and trained under it (a JAX
            `keras.distribution.Distribution` or a `tf.distribute.Strategy`);
            `batch_size` is the global batch and must divide by its replicas.
        **model_kwargs: the model's own constructor arguments (sizes; e.g. a
            `TransformerCaptioner.CONFIGS` entry), passed through unchanged.

    Returns:
        The metrics dictionary.
    """
    run = ResumableRun(out, dict(locals(), model_class=model_class.__name__))
    keras.utils.set_random_seed(seed)
    builder = datasets.prepare(dataset, data_dir)
    datasets.check_caption_pairs(builder)  # before its image feature is read
    height, width, channels = builder.info.features["image"].shape
    image_size = tuple(image_size or (height, width))
    if None in image_size:
        raise ValueError(
            f"Images of {dataset!r} vary in size: pass `image_size`. Received: image_size=None"
        )
    test_split = _split(builder, "test", "validation", "val")
    validation_split = _split(builder, "validation", "val", "test")

    def limited(split, limit):
        return f"{split}[:{limit}]" if limit else split

    train = datasets.load_caption_pairs(dataset, limited("train", train_limit), data_dir)
    # Validation after every epoch: at most 2,000 captions of a large split. `take`,
    # not a `[:2000]` slice, which TFDS refuses on a split that has fewer examples.
    validation = datasets.load_caption_pairs(dataset, validation_split, data_dir)
    validation = validation.take(eval_limit or 2000)
    run.check_splits(train, validation, batch_size)
    with run.scope():
        model = run.model(
            lambda: model_class.from_corpus(
                train,
                vocabulary_size=vocabulary_size,
                image_size=image_size,
                num_channels=channels,
                **model_kwargs,
            )
        )
        model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    history = run.fit_pairs(
        model,
        train,
        validation,
        batch_size,
        seed,
        epochs=epochs,
        callbacks=callbacks,
        verbose=verbose,
    )

    start = time.perf_counter()
    test = datasets.load(dataset, split=test_split, data_dir=data_dir)
    scores = evaluate_captioning(model, test, beam_width=beam_width, limit=eval_limit)
    metrics = {
        "model": model_class.__name__,
        "dataset": dataset,
        "backend": keras.backend.backend(),
        "epochs": len(history.get("loss", [])),
        "train_examples": int(sum(1 for _ in train)),
        "parameters": int(model.count_params()),
        "train_seconds": round(run.train_seconds, 1),
        "eval_seconds": round(time.perf_counter() - start, 1),
        **{k: scores[k] for k in ("exact_match", "bleu", "cider", "attention_localization")},
        "localized_words": scores["localized_words"],
        "test_examples": scores["count"],
        "history": history,
        "examples": scores["examples"][:10],
    }
    metrics = run.save(model, metrics)
    plot_first_example(model, test, run.out / "attention.png")
    return metrics


def plot_first_example(model, examples, path):
    """Draws the first image of `examples` with its words' attention; `False` if none."""
    image = next(iter(examples.take(1).as_numpy_iterator()))["image"]
    result = model.caption(image[None], grid_attention=True)
    if result.attention[0].size == 0:
        return False  # A model without attention has no maps to draw.
    plot_caption_attention(
        image,
        result.attention[0],
        result.output_tokens[0],
        title=result.text[0],
        path=os.fspath(path),
    )
    return True
