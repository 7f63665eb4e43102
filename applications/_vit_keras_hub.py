"""keras-hub `ViTBackbone` / `ViTImageClassifier` weights in the original checkpoint layout.

A part of `vit_pretrained`: keras-hub's ViT is a Keras model, so its variables
are read off the object (a preset directory is loaded with keras-hub first).
"""

import keras
import numpy as np

from keras_seqattn.applications._vit_layout import _ATTENTION, _BLOCK, _refuse
from keras_seqattn.applications._vit_preprocessing import per_channel, positive


def load_keras_hub_preset(path):
    import keras_hub

    if (path / "task.json").is_file():
        return keras_hub.models.ViTImageClassifier.from_preset(str(path))
    return keras_hub.models.ViTBackbone.from_preset(str(path))


def from_keras_hub(model, where):
    """A keras-hub `ViTBackbone` or `ViTImageClassifier` object."""
    import keras_hub

    classifier = model if isinstance(model, keras_hub.models.ViTImageClassifier) else None
    backbone = classifier.backbone if classifier is not None else model
    if not isinstance(backbone, keras_hub.models.ViTBackbone):
        raise ValueError(
            "Expected a keras-hub ViTBackbone or ViTImageClassifier, a checkpoint directory "
            f"or a .safetensors file. Received: source of type {type(model).__name__}"
        )
    _refuse(not backbone.use_class_token, "a backbone without a class token", where)
    _refuse(backbone.data_format != "channels_last", "channels_first images", where)
    if classifier is not None:
        _refuse(classifier.pooling != "token", f"pooling={classifier.pooling!r}", where)
    embedding = backbone.get_layer("vit_patching_and_embedding")
    encoder = backbone.get_layer("vit_encoder")
    width, heads = backbone.hidden_dim, backbone.num_heads
    conv = embedding.patch_embedding
    arrays = {
        "embedding/kernel": _numpy(conv.kernel),
        "embedding/bias": _numpy(conv.bias) if conv.use_bias else np.zeros(width, "float32"),
        "cls": _numpy(embedding.class_token).reshape(1, 1, width),
        "Transformer/posembed_input/pos_embedding": _numpy(embedding.position_embedding.embeddings)[
            None
        ],
        "Transformer/encoder_norm/scale": _numpy(encoder.layer_norm.gamma),
        "Transformer/encoder_norm/bias": _numpy(encoder.layer_norm.beta),
    }
    for i, block in enumerate(encoder.encoder_layers):
        for name in ("query", "key", "value", "output"):
            dense = getattr(block.mha, f"_{name}_dense")
            key = _ATTENTION.format(i, "out" if name == "output" else name)
            arrays[f"{key}/kernel"] = _numpy(dense.kernel)
            bias_shape = (width,) if name == "output" else (heads, width // heads)
            arrays[f"{key}/bias"] = (
                np.zeros(bias_shape, "float32") if dense.bias is None else _numpy(dense.bias)
            )
        for name, norm in (
            ("LayerNorm_0", block.layer_norm_1),
            ("LayerNorm_2", block.layer_norm_2),
        ):
            arrays[f"{_BLOCK.format(i)}/{name}/scale"] = _numpy(norm.gamma)
            arrays[f"{_BLOCK.format(i)}/{name}/bias"] = _numpy(norm.beta)
        for name, dense in (("Dense_0", block.mlp.dense_1), ("Dense_1", block.mlp.dense_2)):
            key = f"{_BLOCK.format(i)}/MlpBlock_3/{name}"
            arrays[f"{key}/kernel"] = _numpy(dense.kernel)
            arrays[f"{key}/bias"] = (
                _numpy(dense.bias) if dense.use_bias else np.zeros(dense.units, "float32")
            )
    num_classes = None
    if classifier is not None:
        arrays["head/kernel"] = _numpy(classifier.output_dense.kernel)
        arrays["head/bias"] = _numpy(classifier.output_dense.bias)
        num_classes = classifier.output_dense.units
        if classifier.intermediate_dim is not None:
            arrays["pre_logits/kernel"] = _numpy(classifier.intermediate_layer.kernel)
    height, width_px, channels = backbone.image_shape
    ours = dict(
        image_size=height if height == width_px else (height, width_px),
        patch_size=_single(backbone.patch_size),
        num_classes=num_classes,
        hidden_dim=width,
        num_layers=backbone.num_layers,
        num_heads=heads,
        mlp_dim=backbone.mlp_dim,
        num_channels=channels,
        layer_norm_epsilon=backbone.layer_norm_epsilon,
        activation="gelu",  # keras-hub's MLP: Keras's exact "gelu"
        **_keras_hub_normalization(classifier, channels, (height, width_px), where),
    )
    grid = (height // ours["patch_size"], width_px // ours["patch_size"])
    return ours, arrays, grid, where


def _single(patch_size):
    if isinstance(patch_size, int):
        return patch_size
    height, width = patch_size
    if height != width:
        raise ValueError(
            f"VisionTransformer takes square patches. Received: patch_size={patch_size}"
        )
    return height


def _keras_hub_normalization(classifier, channels, image_size, where):
    """keras-hub's image converter as `pixel_mean`/`pixel_std`.

    The converter maps `[0, 255]` pixels to `x * scale + offset` (each left out when
    `None`; some keras-hub versions then normalise by `norm_mean`/`norm_std`), which
    is ours, `(x / 255 - mean) / std`, for `std = 1 / (255 scale)`, `mean = -offset std`.
    Without a converter, ViT's `[-1, 1]` pixels. Its resize is the caller's: the model
    takes images of its size only, so a converter to another size is refused.
    """
    converter = getattr(getattr(classifier, "preprocessor", None), "image_converter", None)
    if converter is None:
        return {}  # keras-hub's ViT presets and ours: [-1, 1]
    size = converter.image_size
    if size is not None and tuple(size) != tuple(image_size):
        raise ValueError(
            f"The image converter makes {size[0]}x{size[1]} images and the model takes "
            f"{image_size[0]}x{image_size[1]}. Received: image_size={tuple(size)}, {where}"
        )
    scale = np.asarray(
        per_channel(1.0 if converter.scale is None else converter.scale, channels, "scale", where)
    )
    offset = np.asarray(
        per_channel(
            0.0 if converter.offset is None else converter.offset, channels, "offset", where
        )
    )
    norm_mean, norm_std = (
        getattr(converter, "norm_mean", None),
        getattr(converter, "norm_std", None),
    )
    if norm_mean is not None or norm_std is not None:
        norm_mean = np.asarray(
            per_channel(0.0 if norm_mean is None else norm_mean, channels, "norm_mean", where)
        )
        norm_std = np.asarray(
            positive(
                per_channel(1.0 if norm_std is None else norm_std, channels, "norm_std", where),
                "norm_std",
                where,
            )
        )
        scale, offset = scale / norm_std, (offset - norm_mean) / norm_std
    positive(scale.tolist(), "scale", where)
    std = 1 / (255 * scale)
    return dict(pixel_mean=(-offset * std).tolist(), pixel_std=std.tolist())


def _numpy(variable):
    return np.asarray(keras.ops.convert_to_numpy(variable), "float32")
