"""timm `VisionTransformer` state dicts in the original checkpoint layout.

A part of `vit_pretrained`: a timm checkpoint is a bare `.safetensors` state dict
or a Hub directory whose config.json adds `model_args` and `pretrained_cfg`.
"""

import numpy as np

from keras_seqattn.applications._vit_layout import _array, _linear, _refuse, _torch_arrays
from keras_seqattn.applications._vit_preprocessing import timm_normalization

# The heads of every standard width, for a timm state dict that does not say:
# timm's `vit_*` definitions (ViT-H and larger keep 16 heads, of 80+ channels).
_TIMM_HEADS = {192: 3, 384: 6, 512: 8, 768: 12, 1024: 16, 1280: 16, 1408: 16, 1664: 16}
# Where each part lives in a timm 1.0 `VisionTransformer` state dict.
_TIMM_NAMES = dict(
    patch="patch_embed.proj",
    cls="cls_token",
    position="pos_embed",
    norm="norm",
    head="head",
    block="blocks.{}",
    norm1="norm1",
    norm2="norm2",
    fc1="mlp.fc1",
    fc2="mlp.fc2",
)


def from_timm(state, config, num_heads, where):
    """A timm `VisionTransformer` state dict (and its Hub config.json, if any)."""
    for key, what in (
        ("reg_token", "register tokens (reg_token)"),
        ("norm_pre.weight", "a pre-norm before the blocks (norm_pre)"),
        ("fc_norm.weight", "mean pooling with fc_norm (global_pool='avg')"),
        ("attn_pool.latent", "attention pooling (attn_pool)"),
        ("blocks.0.ls1.gamma", "layer scale (init_values)"),
        ("blocks.0.attn.q_norm.weight", "query-key norms (qk_norm)"),
    ):
        _refuse(key in state, what, where)
    if not all(name in state for name in ("patch_embed.proj.weight", "pos_embed")):
        raise ValueError(
            "Expected a timm ViT state dict (cls_token, pos_embed, patch_embed.proj.weight, "
            f"blocks.N.*). Received: {len(state)} tensors such as {sorted(state)[:4]}, {where}"
        )
    _refuse("cls_token" not in state, "a model without a class token (class_token=False)", where)
    args = _section(config, "model_args", where)
    pretrained = _section(config, "pretrained_cfg", where)
    width = _array(state, "cls_token", (1, 1, None), where).shape[-1]
    heads = num_heads or args.get("num_heads") or _TIMM_HEADS.get(width)
    if heads is not None and (not isinstance(heads, int) or isinstance(heads, bool) or heads < 1):
        raise ValueError(f"`num_heads` must be an int >= 1. Received: num_heads={heads!r}, {where}")
    _refuse(heads is None, f"an unknown number of heads for width {width}: pass num_heads", where)
    _refuse(width % heads, f"{heads} heads of width {width} (not a multiple)", where)
    layers = 1 + max(
        (int(key.split(".")[1]) for key in state if key.startswith("blocks.")), default=-1
    )
    patch = _array(state, "patch_embed.proj.weight", (width, None, None, None), where)
    channels, patch_size = patch.shape[1], patch.shape[-1]
    _refuse(patch.shape[2] != patch_size, f"non-square patches of {patch.shape[2:]}", where)
    tokens = _array(state, "pos_embed", (1, None, width), where).shape[1]
    side = int(round((tokens - 1) ** 0.5))
    input_size = pretrained.get("input_size", (channels, side * patch_size, side * patch_size))
    if not (
        isinstance(input_size, (list, tuple))
        and len(input_size) == 3
        and all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in input_size)
    ):
        raise ValueError(
            "pretrained_cfg's `input_size` must be [channels, height, width], ints > 0. "
            f"Received: input_size={input_size!r}, {where}"
        )
    height, width_px = input_size[1:]
    grid = (height // patch_size, width_px // patch_size)
    _refuse(
        1 + grid[0] * grid[1] != tokens,
        f"{tokens} position embeddings for a {grid[0]}x{grid[1]} grid and a class token (a "
        "model with no_embed_class, or pretrained_cfg's input_size is not the model's)",
        where,
    )

    def attention(block):
        qkv = _array(state, f"{block}.attn.qkv.weight", (3 * width, width), where)
        q, k, v = np.split(_linear(qkv), 3, axis=1)
        bias = state.get(f"{block}.attn.qkv.bias")
        biases = (
            [None] * 3
            if bias is None
            else np.split(_array(state, f"{block}.attn.qkv.bias", (3 * width,), where), 3)
        )
        out = f"{block}.attn.proj"
        kernel = _linear(_array(state, f"{out}.weight", (width, width), where))
        return q, k, v, kernel, state[f"{out}.bias"], biases

    arrays = _torch_arrays(state, _TIMM_NAMES, layers, heads, attention, where)
    ours = dict(
        image_size=height if height == width_px else (height, width_px),
        patch_size=patch_size,
        num_classes=state["head.weight"].shape[0] if "head.weight" in state else None,
        hidden_dim=width,
        num_layers=layers,
        num_heads=heads,
        mlp_dim=state["blocks.0.mlp.fc1.weight"].shape[0],
        num_channels=channels,
        layer_norm_epsilon=1e-6,  # timm's LayerNorm
        activation="gelu",  # timm's nn.GELU, the exact form
        **timm_normalization(pretrained, channels, where),
    )
    return ours, arrays, grid, where


def _section(config, key, where):
    """A dict of a timm config.json (`{}` without it)."""
    value = config.get(key, {})
    if not isinstance(value, dict):
        raise ValueError(
            f"config.json's `{key}` must be a JSON object. Received: {key}={value!r}, {where}"
        )
    return value
