"""A checkpoint's image preprocessing as `VisionTransformer`'s `pixel_mean` and `pixel_std`.

A part of `vit_pretrained`. `VisionTransformer` maps `[0, 255]` pixels `x` to
`(x / 255 - pixel_mean) / pixel_std` per channel. A Hugging Face
`ViTImageProcessor` (or DeiT's, which ViT checkpoints of DeiT name) maps them to
`(x * r - mean) / std`, with `r = rescale_factor` if `do_rescale` else 1, and
`(mean, std) = (image_mean, image_std)` if `do_normalize` else `(0, 1)`. Both
are one affine map per channel, equal for

    pixel_mean = mean / (255 r),    pixel_std = std / (255 r).

Resizing is the caller's: the model takes images of its own size only (and
refuses others). A processor whose steps leave such an image as it is (a resize
to the model's size, a crop or pad to it) is represented exactly; one that
changes it (resize to 256 then crop 224, DeiT's) is said in a warning naming
the fields; one whose output is not of the model's size is refused by field.
`do_convert_rgb` leaves RGB arrays as they are (the model refuses other channel
counts); fields the processor class does not read are ignored, as it does.
"""

import math
import os
import sys
import warnings

import numpy as np

# Each processor family's defaults, for the fields a preprocessor_config.json leaves out
# (transformers' `ViTImageProcessor` and `DeiTImageProcessor` class attributes).
_DEFAULTS = {
    "ViT": dict(do_resize=True, size=224, resample=2, do_center_crop=False),
    "DeiT": dict(do_resize=True, size=256, resample=3, do_center_crop=True, crop_size=224),
}
_COMMON = dict(
    do_rescale=True,
    rescale_factor=1 / 255,
    do_normalize=True,
    image_mean=0.5,
    image_std=0.5,
    do_pad=False,
    default_to_square=True,
)
_SUFFIXES = ("ImageProcessorFast", "ImageProcessorPil", "ImageProcessor", "FeatureExtractor")


def per_channel(values, channels, field, where):
    """One number or exactly one per channel, as a list of `channels` floats."""
    array = np.asarray(values, dtype=object).reshape(-1)
    numbers = len(array) and all(_is_number(v) for v in array)
    if not numbers or (np.ndim(values) and len(array) != channels):
        raise ValueError(
            f"`{field}` must be a finite number or {channels}, one per channel. "
            f"Received: {field}={values!r}, {where}"
        )
    return np.broadcast_to(np.asarray(array, float), (channels,)).tolist()


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def positive(values, field, where):
    """`values` (a list of floats) if every one is > 0."""
    if min(values) <= 0:
        raise ValueError(f"`{field}` must be > 0. Received: {field}={values}, {where}")
    return values


def hugging_face_normalization(processor, channels, image_size, where):
    """`pixel_mean`/`pixel_std` of a `preprocessor_config.json`'s fields.

    Args:
        processor: the file's dict; `None` without one (ViT's 0.5s).
        channels: int, the model's channels.
        image_size: `(height, width)` the model takes.
        where: `"source=..."`, for the messages.
    """
    if processor is None:
        return {}
    kind = processor.get("image_processor_type") or processor.get("feature_extractor_type")
    family = kind or "ViTImageProcessor"
    for suffix in _SUFFIXES:
        family = family.removesuffix(suffix)
    if family not in _DEFAULTS:
        raise ValueError(
            "VisionTransformer reads the preprocessing of ViTImageProcessor and "
            f"DeiTImageProcessor only. Received: image_processor_type={kind!r}, {where}"
        )
    # A field given as null takes the class default, as in transformers.
    fields = {**_COMMON, **_DEFAULTS[family]}
    fields.update({k: v for k, v in processor.items() if v is not None})
    for flag in ("do_resize", "do_center_crop", "do_rescale", "do_normalize", "do_pad"):
        if not isinstance(fields.get(flag, False), bool):
            raise ValueError(
                f"`{flag}` must be true or false. Received: {flag}={fields[flag]!r}, {where}"
            )
    _check_sizes(fields, tuple(image_size), where)
    rescale = 1.0
    if fields["do_rescale"]:
        factor = fields["rescale_factor"]
        if not (_is_number(factor) and factor > 0):
            raise ValueError(
                "`rescale_factor` must be a number > 0. "
                f"Received: rescale_factor={factor!r}, {where}"
            )
        rescale = float(factor)
    mean, std = [0.0] * channels, [1.0] * channels
    if fields["do_normalize"]:
        mean = per_channel(fields["image_mean"], channels, "image_mean", where)
        std = per_channel(fields["image_std"], channels, "image_std", where)
        positive(std, "image_std", where)
    return dict(
        pixel_mean=[m / (255 * rescale) for m in mean],
        pixel_std=[s / (255 * rescale) for s in std],
    )


def _check_sizes(fields, image_size, where):
    """Refuses a processor whose images are not of `image_size`; warns if it
    changes images of that size (a resize followed by a crop back to it)."""
    shape, changed, last = image_size, [], None
    if fields["do_resize"]:
        resized = _resized(fields["size"], shape, fields["default_to_square"], where)
        if resized != shape:
            changed.append(
                f"do_resize to size={fields['size']!r} with resample={fields['resample']!r}"
            )
        shape, last = resized, ("size", fields["size"])
    if fields["do_center_crop"]:
        crop = _resized(fields.get("crop_size"), shape, True, where, field="crop_size")
        if crop != shape:
            changed.append(f"do_center_crop to crop_size={fields['crop_size']!r}")
        shape, last = crop, ("crop_size", fields["crop_size"])
    if fields["do_pad"] and fields.get("pad_size") is not None:
        padded = _resized(fields["pad_size"], shape, True, where, field="pad_size")
        shape, last = padded, ("pad_size", fields["pad_size"])
    if shape != image_size:
        raise ValueError(
            f"The checkpoint's image processor makes {shape[0]}x{shape[1]} images and the "
            f"model takes {image_size[0]}x{image_size[1]}. Received: {last[0]}={last[1]!r}, {where}"
        )
    if changed:
        _say(
            f"The checkpoint's image processor changes {image_size[0]}x{image_size[1]} images "
            f"({'; '.join(changed)}), which VisionTransformer does not do: it takes images "
            f"of its size as they are, so resize and crop yours as the processor does. {where}",
        )


def _resized(size, shape, default_to_square, where, field="size"):
    """The `(height, width)` that a resize (or crop, pad) to `size` gives an image of `shape`."""
    if isinstance(size, int) and not isinstance(size, bool):
        size = {"height": size, "width": size} if default_to_square else {"shortest_edge": size}
    elif isinstance(size, (list, tuple)) and len(size) == 2:
        size = {"height": size[0], "width": size[1]}
    valid = isinstance(size, dict) and all(
        isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in size.values()
    )
    if valid and set(size) == {"height", "width"}:
        return size["height"], size["width"]
    if valid and set(size) == {"shortest_edge"}:
        short, long = sorted(shape)
        edge = size["shortest_edge"]
        new = (edge, int(edge * long / short))
        return new if shape[0] <= shape[1] else new[::-1]
    raise ValueError(
        f"VisionTransformer reads a `{field}` of height and width, or shortest_edge, "
        f"as ints > 0. Received: {field}={size!r}, {where}"
    )


def timm_normalization(pretrained, channels, where):
    """`pixel_mean`/`pixel_std` of timm's `pretrained_cfg` (ViT's 0.5s without one).

    timm's eval transform divides by 255 before it normalises, so its `mean` and
    `std` are ours as they are. Its `crop_pct` below 1 (resize to
    `size / crop_pct`, then crop `size`; timm's default is 0.875) changes images
    of the model's size: said in a warning.
    """
    mean = per_channel(pretrained.get("mean", 0.5), channels, "pretrained_cfg.mean", where)
    std = per_channel(pretrained.get("std", 0.5), channels, "pretrained_cfg.std", where)
    positive(std, "pretrained_cfg.std", where)
    crop_pct = pretrained.get("crop_pct", 0.875)
    if pretrained and crop_pct != 1:
        _say(
            f"The checkpoint's timm eval transform resizes images to 1/crop_pct of the "
            f"model's size, then center-crops (crop_pct={crop_pct!r}, "
            f"interpolation={pretrained.get('interpolation')!r}), which VisionTransformer "
            f"does not do: it takes images of its size as they are. {where}",
        )
    return dict(pixel_mean=mean, pixel_std=std)


def _say(message):
    """A `UserWarning` attributed to the first caller outside this folder (the user's
    `from_pretrained` line), however deep the reader that found it."""
    here, frame, level = os.path.dirname(__file__), sys._getframe(0), 1
    while frame is not None and frame.f_code.co_filename.startswith(here):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, UserWarning, stacklevel=level)
