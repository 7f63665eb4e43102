"""Lecture section 7, measured: a small ViT from scratch against a small CNN.

Trains `VisionTransformer` (`--config`, default `vit_tiny_digits`) and a small
CNN with the same wall-clock budget, augmentation and optimiser on the embedded
32x32 handwritten digits (1,258 training images), then reports test accuracy and
training and inference throughput (images per second). With so little data the
CNN's locality prior is expected to win: the paper's ViTs beat CNNs only after
pre-training on 14M-300M images.

    KERAS_BACKEND=jax python benchmarks/vit_digits.py --minutes 5
    python benchmarks/vit_digits.py --smoke      # seconds; CI runs this

Writes `benchmarks/results/vit_digits_<backend>.json` and
`..._attention.png` (the ViT's attention rollout on a test digit), and prints a
table.
"""

import argparse
import json
import os
import pathlib
import platform
import statistics
import time

RESULTS = pathlib.Path(__file__).resolve().parent / "results"


def small_cnn(num_classes, image_shape):
    """Four 3x3 convolutions in two stages, global pooling and a linear head."""
    import keras

    inputs = keras.Input(image_shape, name="images")
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="rescaling")(inputs)
    for stage, width in enumerate((32, 64)):
        for i in range(2):
            x = keras.layers.Conv2D(
                width, 3, padding="same", activation="relu", name=f"conv{stage}_{i}"
            )(x)
        x = keras.layers.MaxPooling2D(name=f"pool{stage}")(x)
    x = keras.layers.GlobalAveragePooling2D(name="global_pool")(x)
    outputs = keras.layers.Dense(num_classes, name="head")(x)
    return keras.Model(inputs, outputs, name="small_cnn")


def run(name, model, args, train, test, train_examples):
    import keras

    from keras_seqattn.training import TimeBudget
    from keras_seqattn.training.image_classification import image_batches, warmup_cosine

    steps_per_epoch = -(-train_examples // args.batch_size)
    schedule = warmup_cosine(args.learning_rate, args.epochs * steps_per_epoch, steps_per_epoch)
    model.compile(
        optimizer=keras.optimizers.AdamW(
            schedule, weight_decay=args.weight_decay, global_clipnorm=1.0
        ),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    budget = TimeBudget(args.minutes * 60)
    start = time.perf_counter()
    history = model.fit(
        image_batches(
            train, args.batch_size, shuffle=True, seed=args.seed, augmentation=args.augmentation
        ),
        epochs=args.epochs,
        callbacks=[budget],
        shuffle=False,
        verbose=2,
    )
    train_seconds = time.perf_counter() - start
    test_batches = image_batches(test, batch_size=256)
    scores = model.evaluate(test_batches, return_dict=True, verbose=0)
    test_images = sum(int(images.shape[0]) for images, _ in test_batches)
    start = time.perf_counter()
    model.predict(test_batches, verbose=0)  # Timed after `evaluate` compiled the graph.
    inference_seconds = time.perf_counter() - start
    # The first epoch includes compilation; later ones are the steady state.
    steady = budget.epoch_seconds[1:] or budget.epoch_seconds
    return {
        "model": name,
        "parameters": int(model.count_params()),
        "epochs_run": len(history.history["loss"]),
        "train_seconds": round(train_seconds, 1),
        "test_accuracy": round(float(scores["accuracy"]), 4),
        "final_train_accuracy": round(history.history["accuracy"][-1], 4),
        "train_images_per_second": round(train_examples / statistics.median(steady), 1),
        "inference_images_per_second": round(test_images / inference_seconds, 1),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="training budget per model")
    parser.add_argument("--epochs", type=int, default=200, help="schedule length (if in budget)")
    parser.add_argument("--config", default="vit_tiny_digits")
    parser.add_argument("--patch-size", type=int, help="override the config's patch size")
    parser.add_argument("--dropout", type=float, help="override the config's dropout")
    parser.add_argument("--weight-decay", type=float, default=0.05)
    parser.add_argument(
        "--augmentation",
        default="shift",
        help="'shift' (translation + zoom in tf.data) or 'none'",
    )
    parser.add_argument("--models", default="vit,cnn", help="which of vit,cnn to train")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="tiny run: checks the script only")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    if args.smoke:
        args.minutes, args.epochs, args.config = 0.2, 2, "vit_micro_digits"
    if args.augmentation == "none":
        args.augmentation = None

    import keras

    from keras_seqattn import datasets
    from keras_seqattn.applications import VisionTransformer
    from keras_seqattn.visualization import plot_image_attention

    backend = keras.backend.backend()
    limit = 128 if args.smoke else None
    split = (lambda s: f"{s}[:{limit}]") if limit else (lambda s: s)
    train = datasets.load_image_labels("digits", split=split("train"))
    test = datasets.load_image_labels("digits", split=split("test"))
    train_examples = sum(1 for _ in train)

    results = []
    overrides = {
        key: value
        for key, value in (("patch_size", args.patch_size), ("dropout", args.dropout))
        if value is not None
    }
    keras.utils.set_random_seed(args.seed)
    vit = VisionTransformer.from_config_name(args.config, num_classes=10, **overrides)
    models = args.models.split(",")
    if "vit" in models:
        name = f"VisionTransformer/{args.config}"
        results.append(run(name, vit, args, train, test, train_examples))
        results[-1]["overrides"] = overrides
    if "cnn" in models:
        keras.utils.set_random_seed(args.seed)
        cnn = small_cnn(10, (32, 32, 1))
        results.append(run("SmallCNN", cnn, args, train, test, train_examples))
    for result in results:
        print(json.dumps(result), flush=True)

    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"vit_digits_{backend}" + ("_smoke" if args.smoke else "")
    if "vit" in models:
        image, label = next(test.as_numpy_iterator())
        plot_image_attention(
            image,
            vit.attention_maps(image[None])[0],
            grid_size=vit.patch_encoder.grid_size,
            title=f"digit {int(label)}: attention rollout and class-token attention",
            path=out / f"{stem}_attention.png",
        )
    report = {
        "benchmark": "vit_digits",
        "dataset": "digits",
        "backend": backend,
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "versions": {"keras": keras.__version__},
        "settings": {k: v for k, v in vars(args).items() if k != "out"},
        "train_examples": train_examples,
        "results": results,
    }
    (out / f"{stem}.json").write_text(json.dumps(report, indent=2))
    header = ("params", 9), ("epochs", 8), ("test acc", 10), ("train im/s", 12), ("infer im/s", 12)
    print("\n" + f"{'model':<34}" + "".join(f"{title:>{width}}" for title, width in header))
    for r in results:
        print(
            f"{r['model']:<34}{r['parameters']:>9}{r['epochs_run']:>8}{r['test_accuracy']:>10.3f}"
            f"{r['train_images_per_second']:>12}{r['inference_images_per_second']:>12}"
        )


if __name__ == "__main__":
    main()
