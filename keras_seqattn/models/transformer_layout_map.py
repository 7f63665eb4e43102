"""The Megatron-style `keras.distribution.LayoutMap` of the Transformer applications."""

import keras

# Variable path patterns (as `LayoutMap` matches them: the whole path) of every
# Transformer block and embedding in TransformerSeq2Seq, TransformerCaptioner and
# VisionTransformer, with the axes sharded over the model axis `M`. Shapes as Keras's
# `MultiHeadAttention`, `Dense` and `Embedding` hold them; D is the model width,
# h the heads, k the head width, F the MLP width, V the vocabulary.
_MEGATRON = {
    # Column-parallel: each device holds whole heads, h / M of them.
    r".*attention/(query|key|value)/kernel": (None, "M", None),  # (D, h, k)
    r".*attention/(query|key|value)/bias": ("M", None),  # (h, k)
    # Row-parallel: each device's heads feed its rows; one all-reduce after.
    r".*attention/attention_output/kernel": ("M", None, None),  # (h, k, D)
    r".*mlp_intermediate/kernel": (None, "M"),  # (D, F)
    r".*mlp_intermediate/bias": ("M",),  # (F,)
    r".*mlp_output/kernel": ("M", None),  # (F, D)
    # Embeddings over the width, not the vocabulary: a vocabulary of characters
    # rarely divides by the device count, the width must anyway (heads do).
    r".*_embedding/embeddings": (None, "M"),  # (V, D)
    r".*patch_encoder/embedding/kernel": (None, None, None, "M"),  # (p, p, C, D)
    r".*patch_encoder/embedding/bias": ("M",),  # (D,)
    r".*patch_encoder/position_embedding": (None, None, "M"),  # (1, N, D)
    # The output projections read the width: row-parallel.
    r"(output_dense|head)/kernel": ("M", None),  # (D, V) or (D, classes)
}


def transformer_layout_map(device_mesh, model_dim="model", batch_dim="batch"):
    """A `LayoutMap` that shards a Transformer application over `model_dim`.

    The sharding of Megatron-LM (Shoeybi et al., 2019): the query, key and value
    projections are split by heads and the attention output projection by its
    input rows, so each device attends with its own heads and one all-reduce
    joins them; the MLP's first kernel is split by columns and its second by
    rows, the same way. Embeddings, the patch projection and the output layer
    are split over the model width. Norms, biases added after an all-reduce and
    anything the map does not name stay replicated. Weights are replicated over
    `batch_dim`, which splits the batch (`keras.distribution.ModelParallel`'s
    `batch_dim_name`).

    Every sharded axis must divide by the size of `model_dim`: `num_heads`,
    `hidden_dim` and `intermediate_dim` (`mlp_dim` for the ViT).

    Args:
        device_mesh: `keras.distribution.DeviceMesh` with axes `batch_dim` and
            `model_dim`.
        model_dim: str, the mesh axis the weights are split over. Defaults to
            `"model"`.
        batch_dim: str, the mesh axis the batch is split over. Defaults to
            `"batch"`.

    Returns:
        A `keras.distribution.LayoutMap`.

    Example:

    ```python
    devices = keras.distribution.list_devices()  # e.g. 8 accelerators
    mesh = keras.distribution.DeviceMesh((2, 4), ("batch", "model"), devices)
    distribution = keras.distribution.ModelParallel(
        layout_map=TransformerSeq2Seq.get_layout_map(mesh), batch_dim_name="batch"
    )
    with distribution.scope():
        model = TransformerSeq2Seq.from_corpus(pairs)
        model.compile()
        model.fit(model.prepare(pairs, batch_size=64))
    ```

    Reference:
        Shoeybi et al., 2019, "Megatron-LM: Training Multi-Billion Parameter
        Language Models Using Model Parallelism", https://arxiv.org/abs/1909.08053
    """
    if not isinstance(device_mesh, keras.distribution.DeviceMesh):
        raise ValueError(
            "`device_mesh` must be a `keras.distribution.DeviceMesh`. "
            f"Received: device_mesh={device_mesh!r}"
        )
    for name, axis in (("model_dim", model_dim), ("batch_dim", batch_dim)):
        if axis not in device_mesh.axis_names:
            raise ValueError(
                f"`{name}` must be an axis of the device mesh, one of "
                f"{list(device_mesh.axis_names)}. Received: {name}={axis!r}"
            )
    if model_dim == batch_dim:
        raise ValueError(
            f"`model_dim` and `batch_dim` must be different mesh axes. "
            f"Received: model_dim={model_dim!r}, batch_dim={batch_dim!r}"
        )
    layout_map = keras.distribution.LayoutMap(device_mesh)
    for pattern, axes in _MEGATRON.items():
        layout_map[pattern] = tuple(model_dim if a == "M" else a for a in axes)
    return layout_map


def check_model_parallel(sizes, model_parallel):
    """Refuses a model whose sharded axes do not divide by `model_parallel`.

    Args:
        sizes: dict of the sizes `transformer_layout_map` splits, by argument
            name (`{"num_heads": 4, "hidden_dim": 256, ...}`).
        model_parallel: int, the size of the mesh's model axis.
    """
    bad = {name: size for name, size in sizes.items() if size % model_parallel}
    if bad:
        raise ValueError(
            f"Model parallelism over {model_parallel} devices splits heads, width and MLP "
            f"width into {model_parallel} equal parts, so each must divide by "
            f"{model_parallel}. Received: "
            + ", ".join(f"{name}={size}" for name, size in sorted(bad.items()))
        )
