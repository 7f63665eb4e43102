"""Tiny random Hugging Face ViTs saved as checkpoints, and their own forward pass.

The references of `test_vit_pretrained*.py`: transformers' `ViTForImageClassification`
and the PIL/NumPy `ViTImageProcessor` (`ViTImageProcessorPil`, the one that needs no
torchvision; `ViTImageProcessor` falls back to it).
"""

import numpy as np
import pytest

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

SIZE = dict(
    image_size=32,
    patch_size=8,
    num_channels=3,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=64,
)
IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def randomize(model, seed=0):
    """Every parameter random, so that no zero bias or unit scale hides a slip."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.2)
    return model.eval()


def processor(**fields):
    """A `ViTImageProcessor` (PIL/NumPy backend) with `fields` over its defaults."""
    return transformers.ViTImageProcessorPil(**fields)


def hf_model(path, cls="ViTForImageClassification", seed=0, **config):
    """A saved random HF ViT with an ImageNet-statistics processor beside it."""
    vit_config = transformers.ViTConfig(**{**SIZE, "num_labels": 5, **config})
    model = randomize(
        getattr(transformers, cls)(
            vit_config, **({} if cls.endswith("Classification") else {"add_pooling_layer": False})
        ),
        seed,
    )
    model.save_pretrained(path, safe_serialization=True)
    image_processor = processor(do_resize=False, image_mean=IMAGENET_MEAN, image_std=IMAGENET_STD)
    image_processor.save_pretrained(path)
    return model, image_processor


def hf_forward(model, image_processor, images, output_attentions=True):
    """The HF model's output on uint8 `images` `(B, H, W, C)` through its processor."""
    pixels = image_processor(list(images), return_tensors="pt")["pixel_values"]
    # One thread: torch's pool, beside the other processes on these cores, made a
    # forward pass of this tiny model take 0.37 s instead of 2 ms.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            return model(pixels.float(), output_attentions=output_attentions)
    finally:
        torch.set_num_threads(threads)


def uint8_images(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype="uint8")
