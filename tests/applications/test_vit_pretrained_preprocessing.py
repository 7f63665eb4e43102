"""A Hugging Face checkpoint's image processor, reproduced by `from_pretrained` or refused.

One tiny HF ViT is saved once; each case writes only a preprocessor_config.json
beside links to its config.json and model.safetensors. Our model on the raw
uint8 images must give the logits of transformers' `ViTImageProcessor` followed
by the HF model, for every combination of `do_rescale`, `rescale_factor`,
`do_normalize` and `image_mean`/`image_std` (scalar or per channel, on the
`[0, 1]` or the `[0, 255]` scale); what the model cannot represent is refused by
the field that asks for it.
"""

import json
import warnings

import keras
import numpy as np
import pytest

from keras_seqattn.applications import VisionTransformer
from tests.applications.hf_vit import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    hf_forward,
    hf_model,
    processor,
    uint8_images,
)

IMAGES = uint8_images((2, 32, 32, 3), seed=5)
RESCALES = {
    "no_rescale": dict(do_rescale=False),
    "rescale_1/255": dict(do_rescale=True, rescale_factor=1 / 255),
    "rescale_1/127.5": dict(do_rescale=True, rescale_factor=1 / 127.5),
}
# (mean, std) on the [0, 1] scale, each given as it is and 255 times larger.
STATISTICS = {"scalar": (0.45, 0.3), "per_channel": (IMAGENET_MEAN, IMAGENET_STD)}


def _normalizations():
    # Statistics that a processor without do_normalize must ignore.
    yield "no_normalize", dict(do_normalize=False, image_mean=[9.0, 9.0, 9.0], image_std=1e-3)
    for kind, (mean, std) in STATISTICS.items():
        for scale in (1, 255):
            statistics = [np.multiply(mean, scale).tolist(), np.multiply(std, scale).tolist()]
            yield (
                f"{kind}_x{scale}",
                dict(do_normalize=True, image_mean=statistics[0], image_std=statistics[1]),
            )


CASES = [
    pytest.param({**rescale, **normalize}, id=f"{r}-{n}")
    for r, rescale in RESCALES.items()
    for n, normalize in _normalizations()
]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("hf_vit_processors")
    model, _ = hf_model(path, seed=7, attn_implementation="eager")
    return path, model


def _with_processor(checkpoint, directory, fields):
    """A checkpoint directory: the saved model's files and a preprocessor_config.json."""
    path, _ = checkpoint
    for name in ("config.json", "model.safetensors"):
        (directory / name).symlink_to(path / name)
    (directory / "preprocessor_config.json").write_text(
        json.dumps({"image_processor_type": "ViTImageProcessor", "do_resize": False, **fields})
    )
    return directory


@pytest.mark.only_backend(
    "tensorflow",
    reason="the map from processor fields to pixel_mean/pixel_std is NumPy; the loaded "
    "model on every backend is compared with transformers in test_vit_pretrained.py",
)
@pytest.mark.parametrize("fields", CASES)
def test_processor_combinations_give_the_hugging_face_logits(checkpoint, tmp_path, fields):
    hf_processor = processor(do_resize=False, **fields)
    expected = hf_forward(checkpoint[1], hf_processor, IMAGES, output_attentions=False).logits
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to say: the map is exact
        model = VisionTransformer.from_pretrained(_with_processor(checkpoint, tmp_path, fields))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model(IMAGES)), expected.numpy(), rtol=1e-5, atol=1e-4
    )


def test_resizing_and_cropping_to_the_model_size_are_exact(checkpoint, tmp_path):
    fields = dict(
        do_resize=True,
        size={"height": 32, "width": 32},
        resample=3,
        do_center_crop=True,
        crop_size=32,
        do_convert_rgb=True,
    )
    expected = hf_forward(checkpoint[1], processor(**fields), IMAGES, output_attentions=False)
    expected = expected.logits.numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = VisionTransformer.from_pretrained(_with_processor(checkpoint, tmp_path, fields))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(IMAGES)), expected, atol=1e-4)


def test_a_resize_then_crop_back_is_said_by_field(checkpoint, tmp_path):
    # DeiT's pipeline at this size: 40x40 bicubic, then the central 32x32.
    fields = dict(do_resize=True, size=40, resample=3, do_center_crop=True, crop_size=32)
    directory = _with_processor(checkpoint, tmp_path, fields)
    with pytest.warns(UserWarning, match=r"size=40 with resample=3.*crop_size=32") as record:
        VisionTransformer.from_pretrained(directory)
    assert record[0].filename == __file__  # attributed to the caller's line


@pytest.mark.parametrize(
    "fields, field",
    [
        (dict(do_resize=True, size={"height": 48, "width": 48}), "size"),
        (dict(do_resize=True, size={"shortest_edge": 32, "longest_edge": 64}), "size"),
        (dict(do_resize=True, size={"height": "32", "width": 32}), "size"),
        (dict(do_center_crop=True, crop_size={"height": 24, "width": 24}), "crop_size"),
        (dict(do_pad=True, pad_size={"height": 40, "width": 40}), "pad_size"),
        (dict(image_processor_type="ConvNextImageProcessor"), "image_processor_type"),
        (dict(image_mean=[0.5, 0.5]), "image_mean"),
        (dict(image_std=[0.5, 0.0, 0.5]), "image_std"),
        (dict(image_std="0.5"), "image_std"),
        (dict(rescale_factor=0), "rescale_factor"),
        (dict(do_rescale="yes"), "do_rescale"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_what_the_model_cannot_represent_is_refused_by_field(checkpoint, tmp_path, fields, field):
    with pytest.raises(ValueError, match=f"Received: {field}=.*source="):
        VisionTransformer.from_pretrained(_with_processor(checkpoint, tmp_path, fields))
