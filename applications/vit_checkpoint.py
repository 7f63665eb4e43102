"""Loads the original google-research/vision_transformer `.npz` checkpoints."""

import logging

import numpy as np

logger = logging.getLogger(__name__)

# The head is replaced when fine-tuning; `pre_logits` is the tanh layer of the
# ImageNet-21k checkpoints, which the paper drops for fine-tuning.
_HEAD_KEYS = ("head/kernel", "head/bias")


def _checkpoint_keys(model):
    """`{checkpoint key: (variable, transform)}` for every weight of `model`."""
    encoder = model.patch_encoder
    keys = {
        "embedding/kernel": encoder.embedding.kernel,  # (P, P, C, D) in both.
        "embedding/bias": encoder.embedding.bias,
        "cls": encoder.class_token,  # (1, 1, D)
        "Transformer/posembed_input/pos_embedding": encoder.position_embedding,
        "Transformer/encoder_norm/scale": model.get_layer("encoder_norm").gamma,
        "Transformer/encoder_norm/bias": model.get_layer("encoder_norm").beta,
        "head/kernel": model.get_layer("head").kernel,  # (D, classes)
        "head/bias": model.get_layer("head").bias,
    }
    for i, block in enumerate(model.blocks):
        prefix = f"Transformer/encoderblock_{i}"
        attention = block.self_attention
        # Keras's MultiHeadAttention projections have the checkpoint's layout:
        # query/key/value (D, heads, head_dim), out (heads, head_dim, D).
        dense = {
            "query": attention.query_dense,
            "key": attention.key_dense,
            "value": attention.value_dense,
            "out": attention.output_dense,
        }
        for name, layer in dense.items():
            keys[f"{prefix}/MultiHeadDotProductAttention_1/{name}/kernel"] = layer.kernel
            keys[f"{prefix}/MultiHeadDotProductAttention_1/{name}/bias"] = layer.bias
        for name, norm in (
            ("LayerNorm_0", block.self_attention_norm),
            ("LayerNorm_2", block.mlp_norm),
        ):
            keys[f"{prefix}/{name}/scale"] = norm.gamma
            keys[f"{prefix}/{name}/bias"] = norm.beta
        for name, layer in (("Dense_0", block.mlp_intermediate), ("Dense_1", block.mlp_output)):
            keys[f"{prefix}/MlpBlock_3/{name}/kernel"] = layer.kernel
            keys[f"{prefix}/MlpBlock_3/{name}/bias"] = layer.bias
    return keys


def load_vit_npz(model, path, skip_head=False):
    """Loads an original ViT checkpoint into a `VisionTransformer`, in place.

    Reads the `.npz` files of google-research/vision_transformer (the
    ImageNet-21k, ImageNet-21k + 1k and AugReg checkpoints of ViT-Ti/S/B/L/H):
    `embedding/kernel` `(P, P, C, D)`, `cls`, `Transformer/posembed_input/
    pos_embedding`, per block `Transformer/encoderblock_{i}/LayerNorm_0`,
    `MultiHeadDotProductAttention_1/{query,key,value,out}`, `LayerNorm_2`,
    `MlpBlock_3/Dense_{0,1}`, then `Transformer/encoder_norm` and `head`. Every
    array is checked before any weight is changed. Position embeddings of another
    patch grid (a checkpoint trained at 224 pixels loaded into a 384-pixel model)
    are resized bilinearly, as the paper does for fine-tuning.

    The model must match the checkpoint's size (`CONFIGS`), patch size and
    channels, and its inputs are `[0, 255]` pixels rescaled to `[-1, 1]`
    (`include_rescaling=True`), the preprocessing of the original models. The
    original MLPs use the tanh approximation of GELU (Flax's `nn.gelu`): build
    the model with `activation="gelu_tanh"` to reproduce their logits; with the
    default exact GELU they differ by about 1e-3.

    Args:
        model: a `VisionTransformer`.
        path: path of the `.npz` file.
        skip_head: bool, leave `head` as initialised (zeros), to fine-tune on
            other classes. Needed for the ImageNet-21k checkpoints, whose
            `pre_logits` layer this model does not have. Defaults to `False`.

    Returns:
        The list of checkpoint keys that were not used.

    Raises:
        ValueError: listing every missing key and every array of the wrong
            shape (nothing is loaded then).

    Example (on Colab, where the checkpoints can be downloaded):

    ```python
    !wget -q https://storage.googleapis.com/vit_models/imagenet21k+imagenet2012/ViT-B_16.npz
    from keras_seqattn.applications import VisionTransformer, load_vit_npz
    model = VisionTransformer.from_config_name(
        "vit_b16", num_classes=1000, image_size=384, activation="gelu_tanh"
    )
    load_vit_npz(model, "ViT-B_16.npz")  # ImageNet-1k classifier at 384x384

    # Fine-tune an ImageNet-21k checkpoint on 10 classes at 224x224:
    !wget -q https://storage.googleapis.com/vit_models/imagenet21k/ViT-B_16.npz -O b16_21k.npz
    model = VisionTransformer.from_config_name("vit_b16", num_classes=10)
    load_vit_npz(model, "b16_21k.npz", skip_head=True)
    ```

    Reference:
        Dosovitskiy et al. (2021), An Image is Worth 16x16 Words, section 3.2;
        github.com/google-research/vision_transformer, `vit_jax/checkpoint.py`.
    """
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    return assign_checkpoint_arrays(model, arrays, skip_head, source=f"path={path!r}")


def assign_checkpoint_arrays(model, arrays, skip_head=False, source="", grid_size=None):
    """Assigns arrays named and shaped as the original checkpoints to `model`.

    The one place every ViT loader ends: `load_vit_npz` reads them from an
    `.npz`, the converters of `vit_pretrained` rename the arrays of Hugging
    Face, timm and keras-hub checkpoints into this layout. Every array is checked
    before any weight changes; position embeddings of another patch grid are
    resized (`PatchEncoder.set_position_embedding`).

    Args:
        model: a `VisionTransformer`.
        arrays: dict of NumPy arrays, keyed as `load_vit_npz` describes.
        skip_head: bool, leave `head` as initialised (a fresh head).
        source: str, where the arrays came from, for the error messages.
        grid_size: `(gh, gw)`, the patch grid of the checkpoint's position
            embeddings. Defaults to a square grid.

    Returns:
        The sorted list of keys of `arrays` that were not used.

    Raises:
        ValueError: listing every missing key and every misshapen array.
    """
    expected = _checkpoint_keys(model)
    if skip_head:
        for key in _HEAD_KEYS:
            expected.pop(key)
    elif any(key.startswith("pre_logits/") for key in arrays):
        raise ValueError(
            "The checkpoint has a `pre_logits` layer (an ImageNet-21k pre-training "
            "checkpoint) that VisionTransformer does not have; pass skip_head=True to "
            f"fine-tune a new head. Received: {source}"
        )
    position_key = "Transformer/posembed_input/pos_embedding"
    missing = sorted(key for key in expected if key not in arrays)
    misshapen = [
        f"{key}: {arrays[key].shape}, expected {tuple(variable.shape)}"
        for key, variable in expected.items()
        if key in arrays and key != position_key and arrays[key].shape != tuple(variable.shape)
    ]
    if position_key in arrays:
        position = arrays[position_key]
        if position.ndim != 3 or position.shape[::2] != (1, model.hidden_dim):
            misshapen.append(
                f"{position_key}: {position.shape}, expected (1, 1 + grid, {model.hidden_dim})"
            )
    if missing or misshapen:
        raise ValueError(
            f"The checkpoint does not fit {model.name}: {len(missing)} missing and "
            f"{len(misshapen)} misshapen arrays. Missing: {missing}. Misshapen: "
            f"{misshapen}. Received: {source}"
        )
    # First, as it is the one that can still fail (a grid that is not square):
    # resized when the checkpoint's patch grid is not the model's.
    model.patch_encoder.set_position_embedding(arrays[position_key], grid_size)
    for key, variable in expected.items():
        if key != position_key:
            variable.assign(arrays[key].astype(variable.dtype))
    unused = sorted(set(arrays) - set(expected))
    if unused:
        logger.info("%d checkpoint arrays left unused: %s", len(unused), unused)
    return unused
