"""Hugging Face, timm and keras-hub ViT checkpoints, read into `VisionTransformer`.

Each reader turns its source's names and layouts into those of the original
google-research checkpoints, so that `vit_checkpoint.assign_checkpoint_arrays`
checks and assigns every weight in one place. The files are read with the
`safetensors` package's NumPy API: neither torch nor transformers is needed at
run time (they are only the tests' references). We write the name maps
ourselves because no library maps these checkpoints into a Keras ViT of this
layout: keras-hub's converters build keras-hub's own `ViTBackbone`.
"""

import pathlib

from keras_seqattn.applications import _vit_keras_hub, _vit_timm
from keras_seqattn.applications._vit_files import (  # noqa: F401 - check_checkpoint_path is API
    check_checkpoint_path,
    load_safetensors,
    read_json,
)
from keras_seqattn.applications._vit_layout import _array, _linear, _refuse, _torch_arrays
from keras_seqattn.applications._vit_preprocessing import hugging_face_normalization
from keras_seqattn.applications.vit_checkpoint import assign_checkpoint_arrays

# Hugging Face `hidden_act` values and the same function here.
_HF_ACTIVATIONS = {
    "gelu": "gelu",
    "gelu_new": "gelu_tanh",
    "gelu_pytorch_tanh": "gelu_tanh",
    "relu": "relu",
}
# Where each part lives in a Hugging Face `ViTModel` state dict (the saved file's
# names); `_vit_timm._TIMM_NAMES` says it for timm's.
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


def _read_source(source, num_heads):
    if not isinstance(source, (str, pathlib.Path)):
        return _vit_keras_hub.from_keras_hub(source, "a keras-hub model object")
    path = check_checkpoint_path(source)
    where = f"source={str(source)!r}"
    if path.suffix == ".safetensors":
        return _vit_timm.from_timm(load_safetensors(path), {}, num_heads, where)
    hf_config = read_json(path / "config.json")
    if str(hf_config.get("module", "")).startswith("keras_hub"):
        return _vit_keras_hub.from_keras_hub(_vit_keras_hub.load_keras_hub_preset(path), where)
    weights = path / "model.safetensors"
    if not weights.is_file():
        raise ValueError(f"Expected a model.safetensors beside config.json. Received: {where}")
    if "architecture" in hf_config:
        return _vit_timm.from_timm(load_safetensors(weights), hf_config, num_heads, where)
    if hf_config.get("model_type") == "vit":
        processor = path / "preprocessor_config.json"
        processor = read_json(processor) if processor.is_file() else None
        return _from_hugging_face(load_safetensors(weights), hf_config, processor, where)
    raise ValueError(
        "config.json is neither a Hugging Face ViT (`model_type: vit`), a timm model "
        "(`architecture`) nor a keras-hub preset (`module: keras_hub...`). Received: "
        f"model_type={hf_config.get('model_type')!r}, {where}"
    )


def _field(config, key, where, default=None, kind=int):
    """`config[key]` (or `default`), refused by name unless of `kind`."""
    value = config.get(key, default)
    if value is None:
        raise ValueError(
            f"config.json lacks `{key}`, which a Hugging Face ViT's has. Received: "
            f"{sorted(config)}, {where}"
        )
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError(
            f"config.json's `{key}` must be of type {kind.__name__}. Received: {key}={value!r}, "
            f"{where}"
        )
    return value


def _pair(config, key, default, where):
    """An int or `[height, width]` field of config.json as a `(height, width)` pair."""
    value = config.get(key, default)
    pair = (value, value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not (
        isinstance(pair, (list, tuple))
        and len(pair) == 2
        and all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in pair)
    ):
        raise ValueError(
            f"config.json's `{key}` must be an int > 0 or two, [height, width]. "
            f"Received: {key}={value!r}, {where}"
        )
    return tuple(pair)


def _from_hugging_face(state, config, processor, where):
    """A `ViTModel` / `ViTForImageClassification` state dict, its config.json and
    its preprocessor_config.json (`None` without one)."""
    state = {key.removeprefix("vit."): value for key, value in state.items()}
    activation = config.get("hidden_act", "gelu")
    known = isinstance(activation, str) and activation in _HF_ACTIVATIONS
    _refuse(not known, f"hidden_act={activation!r}", where)
    if "embeddings.patch_embeddings.projection.weight" not in state:
        raise ValueError(
            "Expected the weights of a Hugging Face ViT in model.safetensors (embeddings.*, "
            f"encoder.layer.N.*). Received: {len(state)} tensors such as {sorted(state)[:4]}, "
            f"{where}"
        )
    _refuse("embeddings.cls_token" not in state, "a ViT without embeddings.cls_token", where)
    heads = _field(config, "num_attention_heads", where)
    layers, width = _field(config, "num_hidden_layers", where), _field(config, "hidden_size", where)
    channels = _field(config, "num_channels", where, 3)
    image_size = _pair(config, "image_size", 224, where)
    patch = _pair(config, "patch_size", 16, where)
    _refuse(patch[0] != patch[1], f"non-square patches, patch_size={list(patch)}", where)
    _refuse(width % heads, f"{heads} heads of hidden_size={width} (not a multiple)", where)

    def attention(block):
        prefix = f"{block}.attention.attention"
        q, k, v = (
            _linear(_array(state, f"{prefix}.{n}.weight", (width, width), where))
            for n in ("query", "key", "value")
        )
        biases = [state.get(f"{prefix}.{n}.bias") for n in ("query", "key", "value")]
        out = f"{block}.attention.output.dense"
        kernel = _linear(_array(state, f"{out}.weight", (width, width), where))
        return q, k, v, kernel, state[f"{out}.bias"], biases

    arrays = _torch_arrays(state, _HF_NAMES, layers, heads, attention, where)
    ours = dict(
        image_size=image_size[0] if image_size[0] == image_size[1] else image_size,
        patch_size=patch[0],
        num_classes=state["classifier.weight"].shape[0] if "classifier.weight" in state else None,
        hidden_dim=width,
        num_layers=layers,
        num_heads=heads,
        mlp_dim=_field(config, "intermediate_size", where),
        num_channels=channels,
        layer_norm_epsilon=_field(config, "layer_norm_eps", where, 1e-12, float),
        activation=_HF_ACTIVATIONS[activation],
        **hugging_face_normalization(processor, channels, image_size, where),
    )
    grid = (image_size[0] // patch[0], image_size[1] // patch[1])
    return ours, arrays, grid, where
