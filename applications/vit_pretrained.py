"""Hugging Face, timm and keras-hub ViT checkpoints, read into `VisionTransformer`.

Each reader turns its source's names and layouts into those of the original
google-research checkpoints, so that `vit_checkpoint.assign_checkpoint_arrays`
checks and assigns every weight in one place. The files are read with the
`safetensors` package's NumPy API: neither torch nor transformers is needed at
run time (they are only the tests' references). We write the name maps
ourselves because no library maps these checkpoints into a Keras ViT of this
layout: keras-hub's converters build keras-hub's own `ViTBackbone`.
"""

import json
import pathlib

import numpy as np

from keras_seqattn.applications.vit_checkpoint import assign_checkpoint_arrays

# The heads of every standard width, for a timm state dict that does not say:
# timm's `vit_*` definitions (ViT-H and larger keep 16 heads, of 80+ channels).
_TIMM_HEADS = {192: 3, 384: 6, 512: 8, 768: 12, 1024: 16, 1280: 16, 1408: 16, 1664: 16}
# Hugging Face `hidden_act` values and the same function here.
_HF_ACTIVATIONS = {
    "gelu": "gelu",
    "gelu_new": "gelu_tanh",
    "gelu_pytorch_tanh": "gelu_tanh",
    "relu": "relu",
}
# Where each part lives in a Hugging Face (`ViTModel`, the saved file's names) and
# a timm (1.0 `VisionTransformer`) state dict.
_HF_NAMES = dict(
    patch="embeddings.patch_embeddings.projection",
    cls="embeddings.cls_token",
    position="embeddings.position_embeddings",
    norm="layernorm",
    head="classifier",
    block="encoder.layer.{}",
    norm1="layernorm_before",
    norm2="layernorm_after",
    fc1="intermediate.dense",
    fc2="output.dense",
)
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
_BLOCK = "Transformer/encoderblock_{}"
_ATTENTION = _BLOCK + "/MultiHeadDotProductAttention_1/{}"


def load_pretrained_vit(cls, source, num_classes=None, image_size=None, **overrides):
    """`VisionTransformer.from_pretrained`: see there."""
    config, arrays, grid_size, where = _read(source, overrides.get("num_heads"))
    # A `pre_logits` layer (keras-hub's `intermediate_dim`) has no place here.
    has_head = "head/kernel" in arrays and "pre_logits/kernel" not in arrays
    if num_classes is None:
        if not has_head:
            raise ValueError(
                "The checkpoint has no classification head this class can hold (a "
                "backbone, or a head behind a pre_logits layer); pass `num_classes` to "
                f"train a fresh one. Received: {where}"
            )
        num_classes = config["num_classes"]
    fresh_head = not has_head or num_classes != config["num_classes"]
    config = {**config, "num_classes": num_classes, **overrides}
    if image_size is not None:
        config["image_size"] = image_size
    model = cls(**config)
    assign_checkpoint_arrays(model, arrays, skip_head=fresh_head, source=where, grid_size=grid_size)
    return model


def _read(source, num_heads=None):
    """`(config, arrays, grid_size, description)` of any supported source."""
    try:
        return _read_source(source, num_heads)
    except KeyError as error:
        raise ValueError(
            f"The checkpoint lacks the array {error.args[0]!r} that its format has: it is "
            f"truncated or of another architecture. Received: source={str(source)!r}"
        ) from None


def check_checkpoint_path(source):
    """`source` as a path, if it can be a checkpoint: a `.safetensors` file, or a
    directory with a config.json. Cheap, so a job checks it before its data."""
    path = pathlib.Path(source)
    if path.is_file() and path.suffix == ".safetensors":
        return path
    if not (path / "config.json").is_file():
        raise ValueError(
            "Expected a checkpoint directory with a config.json (Hugging Face, timm or a "
            f"keras-hub preset) or a timm .safetensors file. Received: source={str(source)!r}"
        )
    return path


def _read_source(source, num_heads):
    from keras_seqattn.applications import _vit_keras_hub

    if not isinstance(source, (str, pathlib.Path)):
        return _vit_keras_hub.from_keras_hub(source, "a keras-hub model object")
    path = check_checkpoint_path(source)
    where = f"source={str(source)!r}"
    if path.suffix == ".safetensors":
        return _from_timm(_load_safetensors(path), {}, num_heads, where)
    hf_config = json.loads((path / "config.json").read_text())
    if str(hf_config.get("module", "")).startswith("keras_hub"):
        return _vit_keras_hub.from_keras_hub(_vit_keras_hub.load_keras_hub_preset(path), where)
    weights = path / "model.safetensors"
    if not weights.is_file():
        raise ValueError(f"Expected a model.safetensors beside config.json. Received: {where}")
    if "architecture" in hf_config:
        return _from_timm(_load_safetensors(weights), hf_config, num_heads, where)
    if hf_config.get("model_type") == "vit":
        return _from_hugging_face(_load_safetensors(weights), hf_config, path, where)
    raise ValueError(
        "config.json is neither a Hugging Face ViT (`model_type: vit`), a timm model "
        "(`architecture`) nor a keras-hub preset (`module: keras_hub...`). Received: "
        f"model_type={hf_config.get('model_type')!r}, {where}"
    )


def _load_safetensors(path):
    try:
        from safetensors.numpy import load_file
    except ImportError:  # pragma: no cover - the extra is in dev
        raise ImportError(
            "Reading .safetensors checkpoints needs the `safetensors` package: "
            "pip install 'keras-seqattn[pretrained]'"
        ) from None
    return load_file(str(path))


def _refuse(condition, what, where):
    if condition:
        raise ValueError(f"VisionTransformer cannot represent {what}. Received: {where}")


def _linear(weight):
    """A torch `Linear` weight `(out, in)` as a Keras kernel `(in, out)`."""
    return np.ascontiguousarray(weight.T)


def _conv(weight):
    """A torch `Conv2d` weight `(D, C, P, P)` as a Keras kernel `(P, P, C, D)`."""
    return np.ascontiguousarray(weight.transpose(2, 3, 1, 0))


def _heads(arrays, i, heads, q, k, v, out, out_bias, qkv_biases):
    """Fills block `i`'s attention arrays from `(D, D)` kernels `q, k, v, out`."""
    width = q.shape[0]
    head_dim = width // heads
    for name, kernel, bias in zip(("query", "key", "value"), (q, k, v), qkv_biases):
        arrays[_ATTENTION.format(i, f"{name}/kernel")] = kernel.reshape(width, heads, head_dim)
        bias = np.zeros(width, kernel.dtype) if bias is None else bias
        arrays[_ATTENTION.format(i, f"{name}/bias")] = bias.reshape(heads, head_dim)
    arrays[_ATTENTION.format(i, "out/kernel")] = out.reshape(heads, head_dim, width)
    arrays[_ATTENTION.format(i, "out/bias")] = out_bias


def _torch_arrays(state, names, layers, heads, attention):
    """The checkpoint layout of a torch ViT state dict named as `names` says.

    `attention(block)` gives block `block`'s `(q, k, v, out, out_bias, qkv_biases)`
    as Keras `(D, D)` kernels: the one part in which the two sources differ in
    layout (timm fuses q, k and v into one `qkv` matrix).
    """
    arrays = {
        "embedding/kernel": _conv(state[f"{names['patch']}.weight"]),
        "embedding/bias": state[f"{names['patch']}.bias"],
        "cls": state[names["cls"]],
        "Transformer/posembed_input/pos_embedding": state[names["position"]],
    }
    _norm(arrays, "Transformer/encoder_norm", state, names["norm"])
    if f"{names['head']}.weight" in state:
        _dense(arrays, "head", state, names["head"])
    for i in range(layers):
        block = names["block"].format(i)
        _heads(arrays, i, heads, *attention(block))
        ours = _BLOCK.format(i)
        _norm(arrays, f"{ours}/LayerNorm_0", state, f"{block}.{names['norm1']}")
        _norm(arrays, f"{ours}/LayerNorm_2", state, f"{block}.{names['norm2']}")
        _dense(arrays, f"{ours}/MlpBlock_3/Dense_0", state, f"{block}.{names['fc1']}")
        _dense(arrays, f"{ours}/MlpBlock_3/Dense_1", state, f"{block}.{names['fc2']}")
    return arrays


def _norm(arrays, key, state, prefix):
    arrays[f"{key}/scale"] = state[f"{prefix}.weight"]
    arrays[f"{key}/bias"] = state[f"{prefix}.bias"]


def _dense(arrays, key, state, prefix):
    arrays[f"{key}/kernel"] = _linear(state[f"{prefix}.weight"])
    arrays[f"{key}/bias"] = state[f"{prefix}.bias"]


def _from_hugging_face(state, config, path, where):
    """A `ViTModel` / `ViTForImageClassification` state dict and its config.json."""
    state = {key.removeprefix("vit."): value for key, value in state.items()}
    activation = config.get("hidden_act", "gelu")
    _refuse(activation not in _HF_ACTIVATIONS, f"hidden_act={activation!r}", where)
    _refuse("embeddings.cls_token" not in state, "a ViT without embeddings.cls_token", where)
    heads, layers = config["num_attention_heads"], config["num_hidden_layers"]

    def attention(block):
        prefix = f"{block}.attention.attention"
        q, k, v = (_linear(state[f"{prefix}.{n}.weight"]) for n in ("query", "key", "value"))
        biases = [state.get(f"{prefix}.{n}.bias") for n in ("query", "key", "value")]
        out = f"{block}.attention.output.dense"
        return q, k, v, _linear(state[f"{out}.weight"]), state[f"{out}.bias"], biases

    arrays = _torch_arrays(state, _HF_NAMES, layers, heads, attention)
    ours = dict(
        image_size=config.get("image_size", 224),
        patch_size=config.get("patch_size", 16),
        num_classes=state["classifier.weight"].shape[0] if "classifier.weight" in state else None,
        hidden_dim=config["hidden_size"],
        num_layers=layers,
        num_heads=heads,
        mlp_dim=config["intermediate_size"],
        num_channels=config.get("num_channels", 3),
        layer_norm_epsilon=config.get("layer_norm_eps", 1e-12),
        activation=_HF_ACTIVATIONS[activation],
        **_hugging_face_normalization(path, config.get("num_channels", 3)),
    )
    return ours, arrays, None, where


def _channels(values, channels):
    """One number or one per channel, as a list of `channels` floats."""
    return np.broadcast_to(np.asarray(values, float).reshape(-1), (channels,)).tolist()


def _hugging_face_normalization(path, channels):
    """`pixel_mean`/`pixel_std` of `preprocessor_config.json`; ViT's 0.5s without one."""
    file = path / "preprocessor_config.json"
    processor = json.loads(file.read_text()) if file.is_file() else {}
    if not processor.get("do_normalize", True):
        mean, std = 0.0, 1.0
    else:
        mean, std = processor.get("image_mean", 0.5), processor.get("image_std", 0.5)
    rescale = processor.get("rescale_factor", 1 / 255) if processor.get("do_rescale", True) else 1
    # Ours divides by 255 first: a processor that rescales otherwise scales its std.
    std = np.asarray(std, float) / (rescale * 255)
    return dict(pixel_mean=_channels(mean, channels), pixel_std=_channels(std, channels))


def _from_timm(state, config, num_heads, where):
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
    _refuse("cls_token" not in state, "a model without a class token (class_token=False)", where)
    args = config.get("model_args", {})
    width = state["cls_token"].shape[-1]
    heads = num_heads or args.get("num_heads") or _TIMM_HEADS.get(width)
    _refuse(heads is None, f"an unknown number of heads for width {width}: pass num_heads", where)
    layers = 1 + max(int(key.split(".")[1]) for key in state if key.startswith("blocks."))
    patch = state["patch_embed.proj.weight"]
    channels, patch_size = patch.shape[1], patch.shape[-1]
    grid = state["pos_embed"].shape[1] - 1
    side = int(round(grid**0.5))
    _refuse(
        side * side != grid,
        "a position embedding without the class token's (no_embed_class) or a non-square grid",
        where,
    )

    def attention(block):
        q, k, v = np.split(_linear(state[f"{block}.attn.qkv.weight"]), 3, axis=1)
        bias = state.get(f"{block}.attn.qkv.bias")
        biases = [None] * 3 if bias is None else np.split(bias, 3)
        out = f"{block}.attn.proj"
        return q, k, v, _linear(state[f"{out}.weight"]), state[f"{out}.bias"], biases

    arrays = _torch_arrays(state, _TIMM_NAMES, layers, heads, attention)
    pretrained = config.get("pretrained_cfg", {})
    input_size = pretrained.get("input_size", (channels, side * patch_size, side * patch_size))
    ours = dict(
        image_size=tuple(input_size[1:]) if input_size[1] != input_size[2] else input_size[1],
        patch_size=patch_size,
        num_classes=state["head.weight"].shape[0] if "head.weight" in state else None,
        hidden_dim=width,
        num_layers=layers,
        num_heads=heads,
        mlp_dim=state["blocks.0.mlp.fc1.weight"].shape[0],
        num_channels=channels,
        layer_norm_epsilon=1e-6,  # timm's LayerNorm
        activation="gelu",  # timm's nn.GELU, the exact form
        # timm's ViT weights of the original and AugReg runs are normalised by 0.5s.
        pixel_mean=_channels(pretrained.get("mean", 0.5), channels),
        pixel_std=_channels(pretrained.get("std", 0.5), channels),
    )
    return ours, arrays, (side, side), where
