"""MarianMT `state_dict` arrays (NumPy) into a `TransformerSeq2Seq`'s variables.

`load_marian` calls `assign_weights`: Hugging Face's `(out, in)` linear weights are
transposed, attention projections split into Keras's `(dim, heads, head_dim)`
layout, and whichever tied copy of the embedding the checkpoint kept is used.
"""

import numpy as np


def checkpoint_arrays(arrays, config):
    """`{role: array}` of a MarianMT `state_dict`, whichever tied copies it kept."""
    arrays = {key.removeprefix("model."): value for key, value in arrays.items()}
    embedding = None
    for key in ("shared.weight", "encoder.embed_tokens.weight", "decoder.embed_tokens.weight"):
        if key in arrays:
            embedding = arrays[key]
            break
    if embedding is None:
        raise ValueError(
            "model.safetensors has no token embedding. Expected one of model.shared.weight, "
            f"model.encoder.embed_tokens.weight. Received: keys {sorted(arrays)[:8]}"
        )
    if embedding.shape != (config["vocab_size"], config["d_model"]):
        raise ValueError(
            f"The token embedding must be (vocab_size, d_model)="
            f"{(config['vocab_size'], config['d_model'])}. Received: shape={embedding.shape}"
        )
    arrays["embedding"] = embedding
    return arrays


def assign_weights(model, arrays, config):
    """Copies a MarianMT `state_dict` (NumPy arrays) into `model`'s variables."""
    arrays = checkpoint_arrays(arrays, config)
    targets = _targets(model, arrays, config)
    for variable, value in targets:
        if tuple(variable.shape) != value.shape:
            raise ValueError(
                f"Cannot assign {value.shape} to {variable.path} of shape {tuple(variable.shape)}. "
                "Received: a checkpoint of another size than its config.json"
            )
        variable.assign(value.astype(variable.dtype))
    return model


def _targets(model, arrays, config):
    """`[(variable, array)]` in the layout of each Keras variable."""
    layers = model._layers_by_role
    heads = model.num_heads
    pairs = [(layers["target_embedding"].embeddings, arrays["embedding"])]
    if not model.share_embeddings:
        pairs.append((layers["source_embedding"].embeddings, arrays["encoder.embed_tokens.weight"]))
        pairs[0] = (layers["target_embedding"].embeddings, arrays["decoder.embed_tokens.weight"])
    bias = arrays.get("final_logits_bias", np.zeros((1, config["vocab_size"]), "float32"))
    if model.tie_output_embedding:
        pairs.append((layers["output_bias"].bias, bias.reshape(-1)))
    else:
        pairs.append((layers["output_dense"].kernel, _get(arrays, "lm_head.weight").T))
        pairs.append((layers["output_dense"].bias, bias.reshape(-1)))
    for side, blocks in (
        ("encoder", layers["encoder_layers"]),
        ("decoder", layers["decoder_layers"]),
    ):
        for i, block in enumerate(blocks):
            prefix = f"{side}.layers.{i}."
            parts = [("self_attn", block.self_attention, "self_attention_norm")]
            if side == "decoder":
                parts.append(("encoder_attn", block.cross_attention, "cross_attention_norm"))
            for name, attention, norm in parts:
                pairs += _attention(arrays, prefix + name, attention, heads)
                pairs += _norm(arrays, prefix + name + "_layer_norm", getattr(block, norm))
            for name, dense in (("fc1", block.mlp_intermediate), ("fc2", block.mlp_output)):
                pairs.append((dense.kernel, _get(arrays, prefix + name + ".weight").T))
                pairs.append((dense.bias, _get(arrays, prefix + name + ".bias")))
            pairs += _norm(arrays, prefix + "final_layer_norm", block.mlp_norm)
    return pairs


def _attention(arrays, prefix, attention, heads):
    """q/k/v `(h * d, D)` -> `(D, h, d)`; out `(D, h * d)` -> `(h, d, D)`."""
    pairs = []
    for name, dense in (
        ("q_proj", attention.query_dense),
        ("k_proj", attention.key_dense),
        ("v_proj", attention.value_dense),
    ):
        weight = _get(arrays, f"{prefix}.{name}.weight")  # (h * d, D)
        pairs.append((dense.kernel, weight.T.reshape(weight.shape[1], heads, -1)))
        pairs.append((dense.bias, _get(arrays, f"{prefix}.{name}.bias").reshape(heads, -1)))
    weight = _get(arrays, f"{prefix}.out_proj.weight")  # (D, h * d)
    out = attention.output_dense
    pairs.append((out.kernel, weight.T.reshape(heads, -1, weight.shape[0])))
    pairs.append((out.bias, _get(arrays, f"{prefix}.out_proj.bias")))
    return pairs


def _norm(arrays, prefix, norm):
    return [
        (norm.gamma, _get(arrays, prefix + ".weight")),
        (norm.beta, _get(arrays, prefix + ".bias")),
    ]


def _get(arrays, key):
    if key not in arrays:
        raise ValueError(f"model.safetensors lacks model.{key}. Received: a non-Marian checkpoint")
    return arrays[key]
