"""A torch ViT state dict (Hugging Face's or timm's names) in the original layout.

The readers of `vit_pretrained`, `_vit_timm` and `_vit_keras_hub` rename their
sources into the google-research checkpoint layout (`Transformer/encoderblock_N/...`)
that `vit_checkpoint.assign_checkpoint_arrays` assigns; what they share lives here.
"""

import numpy as np

_BLOCK = "Transformer/encoderblock_{}"
_ATTENTION = _BLOCK + "/MultiHeadDotProductAttention_1/{}"


def _refuse(condition, what, where):
    if condition:
        raise ValueError(f"VisionTransformer cannot represent {what}. Received: {where}")


def _array(state, key, shape, where):
    """`state[key]`, refused by name unless of `shape` (`None`: any length there)."""
    array = state[key]
    if array.ndim != len(shape) or any(n not in (None, m) for n, m in zip(shape, array.shape)):
        expected = tuple("any" if n is None else n for n in shape)
        raise ValueError(
            f"The checkpoint's {key} has the shape {array.shape}, where its config needs "
            f"{expected}. Received: {where}"
        )
    return array


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


def _torch_arrays(state, names, layers, heads, attention, where):
    """The checkpoint layout of a torch ViT state dict named as `names` says.

    `attention(block)` gives block `block`'s `(q, k, v, out, out_bias, qkv_biases)`
    as Keras `(D, D)` kernels: the one part in which the two sources differ in
    layout (timm fuses q, k and v into one `qkv` matrix).
    """
    arrays = {
        "embedding/kernel": _conv(_array(state, f"{names['patch']}.weight", (None,) * 4, where)),
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
