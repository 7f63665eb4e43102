"""An independent NumPy ViT that reads the original checkpoint layout, to test against.

It follows google-research/vision_transformer `models_vit.py` line by line (with
the exact GELU, as `VisionTransformer`), on a flat dict of checkpoint arrays.
"""

import numpy as np
from scipy.special import erf

from tests.numpy_reference import softmax


def layer_norm(x, scale, bias, epsilon=1e-6):
    mean = x.mean(-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + epsilon) * scale + bias


def gelu(x):
    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


def random_checkpoint(config, num_classes, seed=0, grid=None):
    """Arrays with the original key names and shapes, for `config` (a CONFIGS entry)."""
    rng = np.random.default_rng(seed)
    p, c, d, m = (
        config["patch_size"],
        config["num_channels"],
        config["hidden_dim"],
        config["mlp_dim"],
    )
    heads = config["num_heads"]
    size = config["image_size"]
    grid = grid or (size // p, size // p)

    def normal(*shape, scale=0.2):
        return (rng.normal(size=shape) * scale).astype("float32")

    arrays = {
        "embedding/kernel": normal(p, p, c, d, scale=0.05),
        "embedding/bias": normal(d),
        "cls": normal(1, 1, d),
        "Transformer/posembed_input/pos_embedding": normal(1, 1 + grid[0] * grid[1], d),
        "Transformer/encoder_norm/scale": 1 + normal(d),
        "Transformer/encoder_norm/bias": normal(d),
        "head/kernel": normal(d, num_classes),
        "head/bias": normal(num_classes),
    }
    for i in range(config["num_layers"]):
        block = f"Transformer/encoderblock_{i}"
        attention = f"{block}/MultiHeadDotProductAttention_1"
        for name in ("query", "key", "value"):
            arrays[f"{attention}/{name}/kernel"] = normal(d, heads, d // heads)
            arrays[f"{attention}/{name}/bias"] = normal(heads, d // heads)
        arrays[f"{attention}/out/kernel"] = normal(heads, d // heads, d)
        arrays[f"{attention}/out/bias"] = normal(d)
        for norm in ("LayerNorm_0", "LayerNorm_2"):
            arrays[f"{block}/{norm}/scale"] = 1 + normal(d)
            arrays[f"{block}/{norm}/bias"] = normal(d)
        arrays[f"{block}/MlpBlock_3/Dense_0/kernel"] = normal(d, m)
        arrays[f"{block}/MlpBlock_3/Dense_0/bias"] = normal(m)
        arrays[f"{block}/MlpBlock_3/Dense_1/kernel"] = normal(m, d)
        arrays[f"{block}/MlpBlock_3/Dense_1/bias"] = normal(d)
    return arrays


def vit_forward(arrays, images, num_layers):
    """Logits of the original ViT for `[0, 255]` images `(B, H, W, C)`."""
    x = images.astype("float64") / 127.5 - 1.0
    kernel = arrays["embedding/kernel"]
    p, _, c, d = kernel.shape
    b, h, w, _ = x.shape
    patches = x.reshape(b, h // p, p, w // p, p, c).transpose(0, 1, 3, 2, 4, 5)
    x = patches.reshape(b, -1, p * p * c) @ kernel.reshape(-1, d) + arrays["embedding/bias"]
    x = np.concatenate([np.broadcast_to(arrays["cls"], (b, 1, d)), x], axis=1)
    x = x + arrays["Transformer/posembed_input/pos_embedding"]
    for i in range(num_layers):
        prefix = f"Transformer/encoderblock_{i}/"

        def get(name, prefix=prefix):
            return arrays[prefix + name]

        y = layer_norm(x, get("LayerNorm_0/scale"), get("LayerNorm_0/bias"))
        mha = "MultiHeadDotProductAttention_1/"
        q, k, v = (
            np.einsum("btd,dhk->bthk", y, get(mha + f"{n}/kernel")) + get(mha + f"{n}/bias")
            for n in ("query", "key", "value")
        )
        weights = softmax(np.einsum("bqhk,bshk->bhqs", q, k) / np.sqrt(q.shape[-1]))
        context = np.einsum("bhqs,bshk->bqhk", weights, v)
        x = x + np.einsum("bqhk,hkd->bqd", context, get(mha + "out/kernel")) + get(mha + "out/bias")
        y = layer_norm(x, get("LayerNorm_2/scale"), get("LayerNorm_2/bias"))
        y = gelu(y @ get("MlpBlock_3/Dense_0/kernel") + get("MlpBlock_3/Dense_0/bias"))
        x = x + y @ get("MlpBlock_3/Dense_1/kernel") + get("MlpBlock_3/Dense_1/bias")
    x = layer_norm(
        x, arrays["Transformer/encoder_norm/scale"], arrays["Transformer/encoder_norm/bias"]
    )
    return x[:, 0] @ arrays["head/kernel"] + arrays["head/bias"]
