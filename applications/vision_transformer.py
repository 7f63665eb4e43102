"""VisionTransformer: image patches through a pre-norm Transformer encoder (ViT)."""

import keras
import numpy as np
from keras import ops

from keras_seqattn.layers import PatchEncoder, TransformerEncoder
from keras_seqattn.layers._checks import check_dropout
from keras_seqattn.models._arguments import check_flags, check_model_kwargs, check_sizes
from keras_seqattn.models._dtype_policy import with_dtype_argument
from keras_seqattn.models._images import check_images
from keras_seqattn.models._optimizer import build_optimizer
from keras_seqattn.models.transformer_layout_map import transformer_layout_map

# The paper's Table 1 sizes (Ti and S from its follow-ups, DeiT and AugReg) with the
# patch sizes that google-research/vision_transformer publishes, and two sizes for
# the embedded 32x32 grey digits that train on a CPU in minutes.
_SIZES = {
    "ti": dict(hidden_dim=192, num_layers=12, num_heads=3, mlp_dim=768),
    "s": dict(hidden_dim=384, num_layers=12, num_heads=6, mlp_dim=1536),
    "b": dict(hidden_dim=768, num_layers=12, num_heads=12, mlp_dim=3072),
    "l": dict(hidden_dim=1024, num_layers=24, num_heads=16, mlp_dim=4096),
    "h": dict(hidden_dim=1280, num_layers=32, num_heads=16, mlp_dim=5120),
}
_IMAGENET = dict(image_size=224, num_channels=3)
CONFIGS = {
    **{
        f"vit_{size}{patch}": dict(**_IMAGENET, patch_size=patch, **_SIZES[size])
        for size, patch in [
            ("ti", 16),
            ("s", 16),
            ("s", 32),
            ("b", 8),
            ("b", 16),
            ("b", 32),
            ("l", 16),
            ("l", 32),
            ("h", 14),
        ]
    },
    # The digits are 8x8 scans blown up 4x: an 8-pixel patch is 2x2 scanned
    # pixels (a 4x4 grid of tokens). 4-pixel patches, one scanned pixel each,
    # measured 90% against 97% (benchmarks/vit_digits.py).
    "vit_tiny_digits": dict(
        image_size=32,
        num_channels=1,
        patch_size=8,
        hidden_dim=64,
        num_layers=4,
        num_heads=4,
        mlp_dim=128,
        dropout=0.1,
    ),
    "vit_micro_digits": dict(
        image_size=32,
        num_channels=1,
        patch_size=8,
        hidden_dim=32,
        num_layers=2,
        num_heads=2,
        mlp_dim=64,
    ),
}


@keras.saving.register_keras_serializable(package="keras_seqattn")
class VisionTransformer(keras.Model):
    """The Vision Transformer (ViT) image classifier of Dosovitskiy et al. (2021).

    1. Rescaling of `[0, 255]` pixels to `[-1, 1]` (`include_rescaling`, the
       original models' preprocessing), or to `(x / 255 - pixel_mean) /
       pixel_std` per channel (a checkpoint trained with ImageNet statistics).
    2. `PatchEncoder`: `P x P` patches, linearly projected to `hidden_dim`,
       a learned class token prepended, learned position embeddings added:
       `(batch, N + 1, hidden_dim)`.
    3. `num_layers` pre-norm `TransformerEncoder` blocks, each
       `x = x + MSA(LN(x)); x = x + MLP(LN(x))` with a GELU MLP of width
       `mlp_dim` and layer norm epsilon `1e-6`, as the paper's code (the
       GELU's form and the epsilon are options, for checkpoints that differ).
    4. A final layer norm (`encoder_norm`), then a linear `head` (zeros at
       first, as in the original code) on the class token's output: logits
       `(batch, num_classes)`.

    The named sizes of the paper and the original checkpoints are in `CONFIGS`
    (`"vit_b16"` is ViT-B/16) with two small ones for the embedded 32x32 digits;
    build them with `VisionTransformer.from_config_name()`. Original `.npz`
    checkpoints load with `load_vit_npz()`; Hugging Face, timm and keras-hub
    checkpoints with `VisionTransformer.from_pretrained()`.

    Args:
        image_size: int or `(height, width)` of the input images.
        patch_size: int, the patch side `P`; must divide the image size.
        num_classes: int, the number of classes.
        hidden_dim: int, the width `D` of every token.
        num_layers: int, the number of encoder blocks.
        num_heads: int, attention heads per block; must divide `hidden_dim`.
        mlp_dim: int, width of each block's MLP hidden layer.
        dropout: float, dropout after the position embeddings, on the
            attention weights, and on each block's sublayer outputs.
            Defaults to `0.0`.
        num_channels: int, image channels. Defaults to `3`.
        include_rescaling: bool, map `[0, 255]` pixels to `[-1, 1]` in the
            model. Defaults to `True`.
        layer_norm_epsilon: float. Defaults to `1e-6`.
        activation: the MLP's activation: `"gelu"` (exact, as Hugging Face's
            and timm's ViTs), `"gelu_tanh"` (the tanh approximation of the
            original Flax code) or another Keras activation. Defaults to
            `"gelu"`.
        pixel_mean: `num_channels` floats, the per-channel mean of `[0, 1]`
            pixels that `include_rescaling` subtracts, e.g. ImageNet's
            `(0.485, 0.456, 0.406)`. Defaults to `None`: 0.5 per channel.
        pixel_std: `num_channels` floats > 0 that it divides by, e.g.
            `(0.229, 0.224, 0.225)`. Defaults to `None`: 0.5 per channel,
            which with the default mean maps pixels to `[-1, 1]`.
        name: model name. Defaults to `"vision_transformer"`.

    Inputs: images `(batch, height, width, num_channels)`, pixel values in
    `[0, 255]` (in `[-1, 1]` with `include_rescaling=False`), `uint8` or float
    alike (both are cast to float32 and rescaled the same way). The model is a
    functional `keras.Model`; `predict()` and `attention_maps()` refuse images
    of another size or channel count (resize them first, e.g.
    `keras.ops.image.resize`) and NaN, infinite, complex or boolean pixels up
    front, as the captioners do.
    Output: logits `(batch, num_classes)`.

    Example:

    >>> model = VisionTransformer.from_config_name("vit_micro_digits", num_classes=10)
    >>> tuple(model(np.zeros((2, 32, 32, 1))).shape)
    (2, 10)
    >>> tuple(model.attention_maps(np.zeros((2, 32, 32, 1))).shape)  # 16 patches + class
    (2, 2, 2, 17, 17)

    Reference:
        Dosovitskiy et al. (2021), An Image is Worth 16x16 Words: Transformers
        for Image Recognition at Scale, section 3.1, eqs. 1-4, and Table 1.
    """

    # `dtype=` builds every layer under that policy (see `with_dtype_argument`).
    @with_dtype_argument
    def __init__(
        self,
        image_size,
        patch_size,
        num_classes,
        hidden_dim,
        num_layers,
        num_heads,
        mlp_dim,
        dropout=0.0,
        num_channels=3,
        include_rescaling=True,
        layer_norm_epsilon=1e-6,
        activation="gelu",
        pixel_mean=None,
        pixel_std=None,
        name="vision_transformer",
        **kwargs,
    ):
        check_sizes(
            num_classes=num_classes,
            num_layers=num_layers,
            hidden_dim=hidden_dim,
            num_heads=num_heads,
            mlp_dim=mlp_dim,
        )
        check_dropout(dropout)
        check_flags(include_rescaling=include_rescaling)
        if hidden_dim % num_heads:
            raise ValueError(
                "`num_heads` must divide `hidden_dim`. "
                f"Received: hidden_dim={hidden_dim!r}, num_heads={num_heads!r}"
            )
        check_model_kwargs(type(self), kwargs)
        rescaling = _rescaling(pixel_mean, pixel_std, num_channels)
        # === Layers ===
        patch_encoder = PatchEncoder(
            image_size,
            patch_size,
            hidden_dim,
            num_channels=num_channels,
            name="patch_encoder",
        )
        blocks = [
            TransformerEncoder(
                num_heads=num_heads,
                intermediate_dim=mlp_dim,
                dropout=dropout,
                activation=activation,
                layer_norm_epsilon=layer_norm_epsilon,
                normalize_first=True,
                name=f"encoder_block_{i}",
            )
            for i in range(num_layers)
        ]
        # === Functional model ===
        height, width = patch_encoder.grid_size
        images = keras.Input((height * patch_size, width * patch_size, num_channels), name="images")
        x = images
        if include_rescaling:
            x = keras.layers.Rescaling(**rescaling, name="rescaling")(x)
        x = patch_encoder(x)  # (B, N + 1, D)
        x = keras.layers.Dropout(dropout, name="embedding_dropout")(x)
        for block in blocks:
            x = block(x)  # (B, N + 1, D)
        x = keras.layers.LayerNormalization(epsilon=layer_norm_epsilon, name="encoder_norm")(x)
        class_token = x[:, 0]  # (B, D)
        logits = keras.layers.Dense(num_classes, kernel_initializer="zeros", name="head")(
            class_token
        )
        super().__init__(inputs=images, outputs=logits, name=name, **kwargs)
        # === Config ===
        self.patch_encoder, self.blocks = patch_encoder, blocks
        self.image_size = image_size
        self.patch_size = patch_size
        self.num_classes = num_classes
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.mlp_dim = mlp_dim
        self.dropout = dropout
        self.num_channels = num_channels
        self.include_rescaling = include_rescaling
        self.layer_norm_epsilon = layer_norm_epsilon
        self.activation = activation
        # As lists of floats, so that the config is the same after a JSON round trip.
        self.pixel_mean = _per_channel("pixel_mean", pixel_mean, num_channels)
        self.pixel_std = _per_channel("pixel_std", pixel_std, num_channels)

    @classmethod
    def from_config_name(cls, config_name, num_classes, **overrides):
        """Builds a named size of `CONFIGS`, e.g. `"vit_b16"` for ViT-B/16.

        Args:
            config_name: a key of `CONFIGS`.
            num_classes: int, the number of classes.
            **overrides: other constructor arguments, e.g. `image_size=384`
                (fine-tuning resolution) or `dropout=0.1`.
        """
        if config_name not in CONFIGS:
            raise ValueError(
                f"Unknown ViT config. Known: {', '.join(CONFIGS)}. "
                f"Received: config_name={config_name!r}"
            )
        return cls(**{**CONFIGS[config_name], "num_classes": num_classes, **overrides})

    @classmethod
    def from_pretrained(cls, source, num_classes=None, image_size=None, **overrides):
        """A ViT with the weights of a Hugging Face, timm or keras-hub checkpoint.

        Reads, with neither torch nor transformers (the `safetensors` package
        reads the files; `pip install keras-seqattn[pretrained]`):

        - a Hugging Face `ViTForImageClassification` or `ViTModel` directory
          (`config.json`, `model.safetensors`, optionally
          `preprocessor_config.json`: its `do_rescale`, `rescale_factor`,
          `do_normalize`, `image_mean` and `image_std` become the
          `pixel_mean` and `pixel_std` that give the processor's numbers
          from `[0, 255]` pixels; images are resized by the caller, so a
          processor that resizes to another size is refused by field and
          one that resizes then crops back is said in a warning);
        - a timm `vit_*` checkpoint: a Hub directory (`config.json` with
          `architecture` and `pretrained_cfg`, `model.safetensors`) or a bare
          `.safetensors` state dict (then pass `num_heads=` unless the
          width is a standard one);
        - a keras-hub `ViTBackbone` or `ViTImageClassifier`: the object, or
          a directory written by its `save_to_preset()` (the image converter's
          scale and offset become `pixel_mean` and `pixel_std`).

        The width, depth, heads, MLP width, patch and image size, classes,
        layer norm epsilon, GELU form and preprocessing come from the
        checkpoint; what this class cannot represent (no class token, mean
        pooling, a `pre_logits` layer kept as the head, non-square patches,
        ...) is refused with the config key that says so, and a file that
        cannot be read (a truncated `.safetensors`, invalid JSON) by its name.
        Absent biases (`qkv_bias=False`) load as zeros, which is the same
        function.

        Args:
            source: a directory or `.safetensors` path, or a keras-hub model.
            num_classes: int, to fine-tune on other classes: the head is
                replaced by a fresh one (zeros, as the original code). Defaults
                to the checkpoint's head; required for a checkpoint without
                one (`ViTModel`, a keras-hub backbone, a timm model with
                `num_classes=0`).
            image_size: int or `(height, width)`, to fine-tune at another
                resolution: the position embeddings are resized bilinearly.
                Defaults to the checkpoint's.
            **overrides: other constructor arguments, e.g. `dropout=0.1`.

        Returns:
            A `VisionTransformer`.

        Example (with network, e.g. on Colab):

        ```python
        from huggingface_hub import snapshot_download
        path = snapshot_download("google/vit-base-patch16-224")
        model = VisionTransformer.from_pretrained(path)  # the 1000 ImageNet classes
        tuned = VisionTransformer.from_pretrained(path, num_classes=10)  # fresh head
        ```

        Reference:
            Dosovitskiy et al. (2021), An Image is Worth 16x16 Words, section 3.2.
        """
        from keras_seqattn.applications.vit_pretrained import load_pretrained_vit

        return load_pretrained_vit(cls, source, num_classes, image_size, **overrides)

    def fit(self, *args, **kwargs):
        """`keras.Model.fit`, the optimizer built first (`build_optimizer`)."""
        build_optimizer(self)
        return super().fit(*args, **kwargs)

    def predict(self, x, *args, **kwargs):
        """`keras.Model.predict`, refusing bad images first as `attention_maps()` does.

        Images given as an array, a tensor or a list (not a dataset or a
        generator, which Keras reads batch by batch) are checked by
        `check_images`: the model's shape, no NaN, infinite, complex or boolean
        pixels, at least one image; the model itself would give NaN
        probabilities for a NaN image and a graph error for another size.
        """
        if isinstance(x, (np.ndarray, list, tuple)) or ops.is_tensor(x):
            x = check_images(x, self.input_shape[1:])
        return super().predict(x, *args, **kwargs)

    def attention_maps(self, images, batch_size=32):
        """Every block's attention weights, for rollout and plots.

        Args:
            images: `(batch, height, width, num_channels)` images, as the
                model's inputs.
            batch_size: int, images per forward pass. Defaults to `32`.

        Returns:
            A NumPy array `(batch, num_layers, num_heads, N + 1, N + 1)`: row
            `t` of `[b, l, h]` is how token `t` (0 is the class token) attends
            to every token in block `l`, head `h`.

        Raises:
            ValueError: for images of another shape than the model's inputs,
                an empty batch, NaN or infinite pixels, or a `batch_size` < 1.
            TypeError: for non-numeric, boolean or complex images.
        """
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(
                f"`batch_size` must be an int >= 1. Received: batch_size={batch_size!r}"
            )
        images = check_images(images, self.input_shape[1:])
        maps = []
        for start in range(0, len(images), batch_size):
            x = ops.convert_to_tensor(images[start : start + batch_size], "float32")
            if self.include_rescaling:
                x = self.get_layer("rescaling")(x)
            x = self.patch_encoder(x)  # (B, N + 1, D)
            scores = []
            for block in self.blocks:
                x, block_scores = block(x, return_attention_scores=True, training=False)
                scores.append(ops.convert_to_numpy(block_scores))  # (B, heads, N + 1, N + 1)
            maps.append(np.stack(scores, axis=1))  # (B, layers, heads, N + 1, N + 1)
        return np.concatenate(maps, axis=0)

    def with_image_size(self, image_size):
        """A copy of this model for another image size, for fine-tuning.

        All weights are copied; the position embeddings are resized to the new
        patch grid (`PatchEncoder.set_position_embedding`), as the paper does
        when fine-tuning at a higher resolution than pre-training.
        """
        config = {**self.get_config(), "image_size": image_size}
        model = type(self).from_config(config)
        position_embedding = model.patch_encoder.position_embedding
        # Both models create the same variables in the same order.
        for new, old in zip(model.weights, self.weights):
            if new is position_embedding:
                model.patch_encoder.set_position_embedding(old, self.patch_encoder.grid_size)
            else:
                new.assign(old)
        return model

    # The Megatron sharding of every Transformer application, for
    # `keras.distribution.ModelParallel`: see `transformer_layout_map`.
    get_layout_map = staticmethod(transformer_layout_map)

    def get_config(self):
        return {
            "image_size": self.image_size,
            "patch_size": self.patch_size,
            "num_classes": self.num_classes,
            "hidden_dim": self.hidden_dim,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "mlp_dim": self.mlp_dim,
            "dropout": self.dropout,
            "num_channels": self.num_channels,
            "include_rescaling": self.include_rescaling,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "activation": self.activation,
            "pixel_mean": self.pixel_mean,
            "pixel_std": self.pixel_std,
            "name": self.name,
            "dtype": self.dtype_policy.name,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _rescaling(pixel_mean, pixel_std, num_channels):
    """`Rescaling` arguments: `[0, 255]` to `(x / 255 - mean) / std` per channel."""
    if pixel_mean is None and pixel_std is None:
        return dict(scale=1 / 127.5, offset=-1.0)  # mean = std = 0.5, as ever
    mean = _per_channel("pixel_mean", 0.5 if pixel_mean is None else pixel_mean, num_channels)
    std = _per_channel("pixel_std", 0.5 if pixel_std is None else pixel_std, num_channels)
    if min(std) <= 0:
        raise ValueError(
            f"`pixel_std` must be > 0 in every channel. Received: pixel_std={pixel_std!r}"
        )
    return dict(scale=[1 / (255 * s) for s in std], offset=[-m / s for m, s in zip(mean, std)])


def _per_channel(name, value, num_channels):
    """`value` (a number or one per channel) as a list of floats; `None` stays."""
    if value is None:
        return None
    values = [value] * num_channels if isinstance(value, (int, float)) else list(value)
    if len(values) != num_channels or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in values
    ):
        raise ValueError(
            f"`{name}` must be a finite number or {num_channels}, one per channel. "
            f"Received: {name}={value}"
        )
    return [float(v) for v in values]
