"""tf.data pipeline that turns (image, caption) pairs into teacher-forcing batches."""

import tensorflow as tf

from keras_seqattn.text.pipelines import check_batch_size


def prepare_image(image, image_size, num_channels):
    """One image to float32 `(height, width, num_channels)` pixels in `[0, 255]`.

    The captioners' resizing policy, shared by training and `caption()`: an image
    of another size is resized bilinearly to `image_size` (the aspect ratio is
    not kept), a grey image is repeated into 3 channels when the model takes 3,
    and an RGB image becomes grey (`tf.image.rgb_to_grayscale`) when it takes 1.
    Values are not rescaled: `uint8` and float images alike are on the 0-255
    scale, which `ImageFeatureEncoder` expects.

    Args:
        image: `(height, width, channels)` tensor, any real dtype.
        image_size: `(height, width)` of the model.
        num_channels: 1 or 3, the model's channels.

    Returns:
        float32 `(height, width, num_channels)` tensor.
    """
    channels = image.shape[-1]
    if len(image.shape) != 3 or channels not in (1, 3):
        raise ValueError(
            "Expected images of shape (height, width, 1 or 3 channels). "
            f"Received: image.shape={tuple(image.shape)}"
        )
    image = tf.cast(image, tf.float32)
    if channels == 1 and num_channels == 3:
        image = tf.tile(image, (1, 1, 3))
    elif channels == 3 and num_channels == 1:
        image = tf.image.rgb_to_grayscale(image)
    if tuple(image.shape[:2]) != tuple(image_size):
        image = tf.image.resize(image, image_size, method="bilinear")
    return tf.ensure_shape(image, (*image_size, num_channels))


def decode_image(data, image_size, num_channels):
    """Encoded image bytes -> float32 `(height, width, num_channels)` pixels in `[0, 255]`.

    The one decoding policy of the CLI's `predict` and the exported `image_bytes`
    signature: JPEG, PNG, GIF (first frame) or BMP; 16-bit PNGs are brought to the
    8-bit scale (`tf.io.decode_image` to `uint8`); grey is repeated into RGB, RGB
    becomes grey by luminance and an alpha channel is dropped; then the image is
    resized bilinearly to `image_size`, as `prepare_image` does.

    Args:
        data: scalar string tensor (or bytes), the encoded image.
        image_size: `(height, width)` of the model.
        num_channels: 1 or 3, the model's channels.

    Returns:
        float32 `(height, width, num_channels)` tensor.

    Raises:
        tf.errors.InvalidArgumentError: for bytes that are no image (or a truncated one).
    """
    image = tf.io.decode_image(data, expand_animations=False)  # (h, w, 1 to 4), uint8
    native = tf.shape(image)[-1]
    if num_channels == 3:
        # Grey repeated into RGB; an alpha channel dropped.
        image = tf.cond(
            native < 3,
            lambda: tf.tile(image[..., :1], (1, 1, 3)),
            lambda: image[..., :3],
        )
    else:
        image = tf.cond(
            native < 3,
            lambda: tf.cast(image[..., :1], tf.float32),
            lambda: tf.image.rgb_to_grayscale(tf.cast(image[..., :3], tf.float32)),
        )
    image = tf.ensure_shape(tf.cast(image, tf.float32), (None, None, num_channels))
    # prepare_image resizes only when the size differs; resizing to the same size is
    # the identity, so resizing always gives the same pixels in one graph.
    return prepare_image(
        tf.image.resize(image, image_size, method="bilinear"), image_size, num_channels
    )


def caption_batches(
    pairs,
    tokenizer,
    image_size,
    num_channels,
    caption_length,
    batch_size=64,
    shuffle=False,
    seed=0,
    drop_remainder=False,
):
    """`(image, caption)` pairs -> `({"images", "target_ids"}, labels)` batches.

    Images go through `prepare_image()` (resized to the model's size, channels
    matched, pixels kept on the 0-255 scale). The decoder input is
    `[START] w_1 .. w_n` and the labels are `w_1 .. w_n [STOP]`, both padded
    with 0 to `caption_length`, so every batch has one static shape (one
    compilation on JAX and TensorFlow). Runs in tf.data for every Keras backend.

    Args:
        pairs: `tf.data.Dataset` of `(image, caption)`, e.g. from
            `keras_seqattn.datasets.load_caption_pairs`.
        tokenizer: the captions' `SequenceTokenizer`.
        image_size: `(height, width)` of the model's images.
        num_channels: 1 or 3.
        caption_length: int, padded caption length (`[START]` or `[STOP]`
            included).
        batch_size: int. Defaults to `64`.
        shuffle: bool, shuffle pairs before batching. Defaults to `False`.
        seed: int, shuffle seed. Defaults to `0`.
        drop_remainder: bool, drop the last batch when it is short (so that
            every batch splits evenly over data-parallel replicas). Defaults
            to `False`.

    Returns:
        A batched, prefetched `tf.data.Dataset`.
    """
    if not isinstance(pairs, tf.data.Dataset):
        raise TypeError(
            "`pairs` must be a tf.data.Dataset of (image, caption). "
            f"Received: pairs={type(pairs).__name__}"
        )
    check_batch_size(batch_size)
    spec = pairs.element_spec
    if not (
        isinstance(spec, tuple)
        and len(spec) == 2
        and getattr(spec[1], "dtype", None) == tf.string
        and spec[1].shape.rank == 0
        and getattr(spec[0], "dtype", tf.string) != tf.string
    ):
        raise ValueError(
            "Expected a dataset of (image, caption) pairs: numeric images and "
            "scalar strings, as `keras_seqattn.datasets.load_caption_pairs()` "
            f"gives. Received: element_spec={spec}"
        )
    image_size = tuple(image_size)

    def to_example(image, caption):
        return prepare_image(image, image_size, num_channels), caption

    def to_batch(images, captions):
        features = {
            "images": images,
            "target_ids": tokenizer(captions, add_start=True, sequence_length=caption_length),
        }
        labels = tokenizer(captions, add_stop=True, sequence_length=caption_length)
        return features, labels

    if shuffle:
        pairs = pairs.shuffle(10_000, seed=seed, reshuffle_each_iteration=True)
    return (
        pairs.map(to_example, num_parallel_calls=tf.data.AUTOTUNE)
        .batch(batch_size, drop_remainder=drop_remainder)
        .map(to_batch, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )
