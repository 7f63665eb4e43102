"""`check_images`: the checks every image-reading application makes of a batch.

The captioners and the Vision Transformer read the same pixels, so they refuse
the same things with the same words: a NaN pixel gives NaN logits and a complex
one would be cast with only NumPy's `ComplexWarning`; neither is an image.
"""

import numpy as np
from keras import ops


def check_images(images, shape=None):
    """`images` as a NumPy array of a non-empty batch, after refusing what is no image.

    Args:
        images: `(batch, height, width, channels)` pixels: an array, a tensor of
            this backend, or a list of `(height, width, channels)` arrays.
        shape: `(height, width, channels)` that each image must have, or `None`
            (the caller resizes; `None` entries take any size).

    Returns:
        The images as a NumPy array, in their own numeric dtype.

    Raises:
        TypeError: for non-numeric, boolean or complex pixels.
        ValueError: for images of different shapes in one list, a rank other
            than 4, an empty batch or image, another `shape`, and NaN or
            infinite pixels (as float32: a float64 one beyond 3.4e38 too).
    """
    images = _as_array(images)
    dtype = images.dtype
    if not np.issubdtype(dtype, np.number) or np.iscomplexobj(images):
        raise TypeError(
            "Expected numeric, real-valued pixels (uint8, or floats on the 0-255 scale). "
            f"Received: images.dtype={dtype}"
        )
    expected = "(batch, height, width, channels)" if shape is None else f"(batch, {_dims(shape)})"
    if images.ndim != 4:
        raise ValueError(
            f"Expected a batch of images {expected}; for one image pass `image[None]`. "
            f"Received: images.shape={images.shape}"
        )
    if images.shape[0] == 0:
        raise ValueError(f"Expected at least one image. Received: images.shape={images.shape}")
    if 0 in images.shape[1:3]:
        raise ValueError(
            f"Expected images of at least 1x1 pixels. Received: images.shape={images.shape}"
        )
    if shape is not None and any(
        want is not None and got != want for got, want in zip(images.shape[1:], shape)
    ):
        raise ValueError(
            f"Expected images of shape {expected}, the model's input; resize them first "
            f"(e.g. `keras.ops.image.resize`). Received: images.shape={images.shape}"
        )
    if np.issubdtype(dtype, np.floating):
        # Checked as the models read them, float32: a float64 pixel beyond
        # float32's range (3.4e38) is finite here and infinite there.
        with np.errstate(over="ignore"):
            read = images.astype("float32") if dtype.itemsize > 4 else images
        if not np.isfinite(read).all():
            raise ValueError(
                "Images contain NaN or infinite pixels (as float32, which the model reads: "
                "beyond 3.4e38 is infinite); replace them (e.g. `np.nan_to_num`) first. "
                f"Received: {int(np.isnan(read).sum())} NaN and "
                f"{int(np.isinf(read).sum())} infinite values"
            )
    return images


def shapes_differ(images):
    """Whether `images` is a list (or tuple) of arrays of more than one shape."""
    if not isinstance(images, (list, tuple)):
        return False
    return len({np.shape(image) for image in _items(images)}) > 1


def _items(images):
    return [np.asarray(ops.convert_to_numpy(i) if ops.is_tensor(i) else i) for i in images]


def _as_array(images):
    if ops.is_tensor(images):
        return np.asarray(ops.convert_to_numpy(images))
    if not isinstance(images, (list, tuple)):
        return np.asarray(images)
    items = _items(images)
    shapes = [np.shape(image) for image in items]
    if len(set(shapes)) > 1:
        other = next(i for i, shape in enumerate(shapes) if shape != shapes[0])
        raise ValueError(
            "All images of a batch must have one shape; resize them to one size first. "
            f"Received: images[0].shape={shapes[0]}, images[{other}].shape={shapes[other]}"
        )
    return np.asarray(items)


def _dims(shape):
    return ", ".join("any" if dim is None else str(dim) for dim in shape)
