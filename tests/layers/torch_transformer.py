"""Copies Keras Transformer blocks' weights into PyTorch's reference layers.

`torch.nn.TransformerEncoderLayer` / `TransformerDecoderLayer` are an independent
implementation of the same blocks; with the same weights and no dropout the
outputs must agree to float32 precision. Weights travel as NumPy arrays, so this
works whatever the Keras backend.
"""

import numpy as np
from keras import ops


def _np(variable):
    return np.asarray(ops.convert_to_numpy(variable), dtype="float32")


def _attention_weights(attention):
    """Keras MultiHeadAttention -> torch.nn.MultiheadAttention state entries."""
    projections = (attention.query_dense, attention.key_dense, attention.value_dense)
    kernels = [_np(dense.kernel) for dense in projections]
    biases = [_np(dense.bias) for dense in projections]
    width = kernels[0].shape[0]
    output_kernel = _np(attention.output_dense.kernel)  # (h, k, D)
    return {
        # torch computes x @ W.T + b with W (out, in); Keras kernels are (in, h, k).
        "in_proj_weight": np.concatenate([k.reshape(width, -1).T for k in kernels], 0),
        "in_proj_bias": np.concatenate([b.reshape(-1) for b in biases], 0),
        "out_proj.weight": output_kernel.reshape(-1, output_kernel.shape[-1]).T,
        "out_proj.bias": _np(attention.output_dense.bias),
    }


def _norm(norm):
    return {"weight": _np(norm.gamma), "bias": _np(norm.beta)}


def _dense(dense):
    return {"weight": _np(dense.kernel).T, "bias": _np(dense.bias)}


def _load(torch_layer, entries):
    import torch

    state = {key: torch.from_numpy(np.ascontiguousarray(value)) for key, value in entries.items()}
    torch_layer.load_state_dict(state)
    return torch_layer.eval()


def _prefixed(prefix, entries):
    return {f"{prefix}.{key}": value for key, value in entries.items()}


def torch_encoder_layer(layer, hidden_dim):
    """A `torch.nn.TransformerEncoderLayer` holding the weights of `layer`."""
    import torch

    torch_layer = torch.nn.TransformerEncoderLayer(
        hidden_dim,
        layer.num_heads,
        dim_feedforward=layer.intermediate_dim,
        dropout=0.0,
        layer_norm_eps=layer.layer_norm_epsilon,
        batch_first=True,
        norm_first=layer.normalize_first,
    )
    entries = {
        **_prefixed("self_attn", _attention_weights(layer.self_attention)),
        **_prefixed("linear1", _dense(layer.mlp_intermediate)),
        **_prefixed("linear2", _dense(layer.mlp_output)),
        **_prefixed("norm1", _norm(layer.self_attention_norm)),
        **_prefixed("norm2", _norm(layer.mlp_norm)),
    }
    return _load(torch_layer, entries)


def torch_decoder_layer(layer, hidden_dim):
    """A `torch.nn.TransformerDecoderLayer` holding the weights of `layer`."""
    import torch

    torch_layer = torch.nn.TransformerDecoderLayer(
        hidden_dim,
        layer.num_heads,
        dim_feedforward=layer.intermediate_dim,
        dropout=0.0,
        layer_norm_eps=layer.layer_norm_epsilon,
        batch_first=True,
        norm_first=layer.normalize_first,
    )
    entries = {
        **_prefixed("self_attn", _attention_weights(layer.self_attention)),
        **_prefixed("multihead_attn", _attention_weights(layer.cross_attention)),
        **_prefixed("linear1", _dense(layer.mlp_intermediate)),
        **_prefixed("linear2", _dense(layer.mlp_output)),
        **_prefixed("norm1", _norm(layer.self_attention_norm)),
        **_prefixed("norm2", _norm(layer.cross_attention_norm)),
        **_prefixed("norm3", _norm(layer.mlp_norm)),
    }
    return _load(torch_layer, entries)
