"""The main job for translation models: train, evaluate, write the artefacts."""

import os
import time

import keras

from keras_seqattn import datasets
from keras_seqattn.evaluation import evaluate_translation, exact_match_by_length
from keras_seqattn.training._holds_out import holds_out
from keras_seqattn.training._resume import ResumableRun
from keras_seqattn.visualization import plot_attention_heatmap

# How each embedded dataset is best tokenised: German number words need subwords
# ("zwei", "undvierzig") to show the crossing alignment, and a small BPE vocabulary
# keeps them apart (at 500 pieces "zweiundvierzig" is one token again); dates need
# exact characters.
DEFAULT_TOKENS = {
    "number_words": "sentence_piece",
    "number_lists": "sentence_piece",
    "date_normalization": "character",
}
DEFAULT_VOCABULARY_SIZE = {"number_words": 200, "number_lists": 200}


def tokenization(dataset, tokens=None, vocabulary_size=None):
    """`(mode, vocabulary_size)` for `dataset`: the arguments, or its defaults."""
    family = dataset.split("/")[0]
    mode = tokens or DEFAULT_TOKENS.get(family, "word_piece")
    if vocabulary_size is None:
        vocabulary_size = DEFAULT_VOCABULARY_SIZE.get(family, 1000)
    return mode, vocabulary_size


@holds_out
def train_translation(
    model_class,
    dataset,
    out,
    epochs=10,
    batch_size=64,
    train_limit=None,
    eval_limit=None,
    tokens=None,
    vocabulary_size=None,
    learning_rate=1e-3,
    beam_width=1,
    seed=0,
    verbose="auto",
    distribution=None,
    **model_kwargs,
):
    """Trains `model_class` on `dataset`, evaluates on its test split, saves all.

    Writes into `out`: `model.keras` (vocabularies inside), `metrics.json`
    (exact match, BLEU, per-length exact match, timings, history) and, for
    models with attention, `attention.png` for the first test example. Until
    then `out/checkpoint/` holds the state after each epoch: the same call
    after a crash resumes after the last finished epoch (see `ResumableRun`).

    Args:
        distribution: optional, from `keras_seqattn.distribute.make_distribution`:
            the model is built, compiled and trained under it (a JAX
            `keras.distribution.Distribution` or a `tf.distribute.Strategy`);
            `batch_size` is the global batch and must divide by its replicas.

    Returns:
        The metrics dictionary.
    """
    run = ResumableRun(out, dict(locals(), model_class=model_class.__name__))
    keras.utils.set_random_seed(seed)
    train_split = f"train[:{train_limit}]" if train_limit else "train"
    train = datasets.load_translation_pairs(dataset, split=train_split)
    validation = datasets.load_translation_pairs(dataset, split="validation")
    test = datasets.load_translation_pairs(dataset, split="test")
    mode, vocabulary_size = tokenization(dataset, tokens, vocabulary_size)
    validation = validation.take(eval_limit or 2000)
    run.check_splits(train, validation, batch_size)
    with run.scope():
        model = run.model(
            lambda: model_class.from_corpus(
                train,
                source_mode=mode,
                target_mode=mode,
                vocabulary_size=vocabulary_size,
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
        verbose=verbose,
    )

    start = time.perf_counter()
    scores = evaluate_translation(model, test, beam_width=beam_width, limit=eval_limit)
    metrics = {
        "model": model_class.__name__,
        "dataset": dataset,
        "backend": keras.backend.backend(),
        "epochs": epochs,
        "train_examples": int(sum(1 for _ in train)),
        "parameters": int(model.count_params()),
        "train_seconds": round(run.train_seconds, 1),
        "eval_seconds": round(time.perf_counter() - start, 1),
        "exact_match": scores["exact_match"],
        "bleu": scores["bleu"],
        "test_examples": scores["count"],
        "exact_match_by_source_words": exact_match_by_length(scores["examples"]),
        "history": history,
        "examples": scores["examples"][:10],
    }
    metrics = run.save(model, metrics)
    _plot_first_example(model, scores["examples"][0][0], run.out / "attention.png")
    return metrics


def _plot_first_example(model, source, path):
    result = model.translate([source])
    if result.attention[0].size == 0:
        return  # A model without attention has no heat map to draw.
    plot_attention_heatmap(
        result.attention[0],
        result.input_tokens[0],
        result.output_tokens[0],
        title=source,
        path=os.fspath(path),
    )
