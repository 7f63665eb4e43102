"""Image patches to a sequence of vectors: the Vision Transformer's input layer."""

import math

import keras
from keras import ops

from keras_seqattn.layers._checks import as_bool, check_positive_int


def _pair(value, name):
    """`16` -> `(16, 16)`; `(32, 48)` stays; anything else is a `ValueError`."""
    try:
        pair = (value, value) if isinstance(value, int) else tuple(value)
    except TypeError:
        pair = ()
    if len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair):
        raise ValueError(f"`{name}` must be an int or a pair of ints. Received: {name}={value!r}")
    if min(pair) < 1:
        raise ValueError(f"`{name}` must be positive. Received: {name}={value!r}")
    return pair


@keras.saving.register_keras_serializable(package="keras_seqattn")
class PatchEncoder(keras.layers.Layer):
    """Cuts images into patches, embeds them, adds a class token and positions.

    The Vision Transformer's input (Dosovitskiy et al. 2021, eq. 1):

    1. Cut the `(batch, H, W, C)` image into `N = (H / P) * (W / P)` patches of
       `P x P` pixels, flatten each, project it linearly to `hidden_dim`:
       `(batch, N, hidden_dim)`. The projection is one `Conv2D` with kernel and
       stride `P` (`embedding`, kernel `(P, P, C, hidden_dim)`), which is the
       same map as a `Dense` on flattened patches and has the layout of the
       original checkpoints' `embedding/kernel`.
    2. With `use_class_token`, prepend a learned vector (`class_token`, zeros at
       first, as in the original code): `(batch, N + 1, hidden_dim)`.
    3. Add learned position embeddings (`position_embedding`, `(1, N + 1,
       hidden_dim)`, normal with stddev 0.02), row by row over the patch grid.

    The captioning Transformer encodes an image as its patch vectors only:
    pass `use_class_token=False` to get `(batch, N, hidden_dim)`.

    Fine-tuning at another resolution keeps the patch size and changes the
    grid; `set_position_embedding()` interpolates learned embeddings from one
    grid to another (`resize_position_embedding()`), as the paper does.

    Args:
        image_size: int or `(height, width)`, the input image size.
        patch_size: int `P`; must divide the height and the width.
        hidden_dim: int, the width `D` of every patch vector.
        num_channels: int, image channels `C`. Defaults to `3`.
        use_class_token: bool, prepend the learned class token. Defaults to
            `True`.
        **kwargs: other keyword arguments of `keras.layers.Layer`.

    Call arguments:
        images: `(batch, H, W, C)` images, any numeric dtype (cast to the
            layer's compute dtype; rescale them beforehand); `batch` may be 0.
            NaN or inf pixels propagate to their patch's vector.

    Returns:
        `(batch, N + 1, hidden_dim)`, the class token first, or
        `(batch, N, hidden_dim)` without it.

    Example:

    >>> encoder = PatchEncoder(image_size=32, patch_size=8, hidden_dim=16, num_channels=1)
    >>> tuple(encoder(np.zeros((2, 32, 32, 1))).shape)  # 4 x 4 patches and the class token
    (2, 17, 16)

    Reference:
        Dosovitskiy et al. (2021), An Image is Worth 16x16 Words: Transformers
        for Image Recognition at Scale, section 3.1 and appendix D.4.
    """

    def __init__(
        self,
        image_size,
        patch_size,
        hidden_dim,
        num_channels=3,
        use_class_token=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        height, width = _pair(image_size, "image_size")
        if not isinstance(patch_size, int) or isinstance(patch_size, bool) or patch_size < 1:
            raise ValueError(
                f"`patch_size` must be a positive int. Received: patch_size={patch_size!r}"
            )
        if height % patch_size or width % patch_size:
            raise ValueError(
                "`patch_size` must divide the image height and width. Received: "
                f"image_size={image_size!r}, patch_size={patch_size!r}"
            )
        check_positive_int("hidden_dim", hidden_dim)
        check_positive_int("num_channels", num_channels)
        self.image_size = image_size
        self.patch_size = patch_size
        self.hidden_dim = hidden_dim
        self.num_channels = num_channels
        self.use_class_token = use_class_token = as_bool("use_class_token", use_class_token)
        self.grid_size = (height // patch_size, width // patch_size)
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.sequence_length = self.num_patches + int(use_class_token)

    def build(self, input_shape):
        self._check_shape(input_shape)
        self.embedding = keras.layers.Conv2D(
            self.hidden_dim,
            kernel_size=self.patch_size,
            strides=self.patch_size,
            padding="valid",
            data_format="channels_last",
            name="embedding",
            dtype=self.dtype_policy,
        )
        self.embedding.build((None, *_pair(self.image_size, "image_size"), self.num_channels))
        if self.use_class_token:
            self.class_token = self.add_weight(
                shape=(1, 1, self.hidden_dim), initializer="zeros", name="class_token"
            )
        self.position_embedding = self.add_weight(
            shape=(1, self.sequence_length, self.hidden_dim),
            initializer=keras.initializers.RandomNormal(stddev=0.02),
            name="position_embedding",
        )
        self.built = True

    def _check_shape(self, shape):
        expected = (*_pair(self.image_size, "image_size"), self.num_channels)
        if len(shape) != 4 or any(
            got is not None and got != want for got, want in zip(shape[1:], expected)
        ):
            raise ValueError(
                f"Expected images of shape (batch, {', '.join(map(str, expected))}). "
                f"Received: images.shape={tuple(shape)}"
            )

    def call(self, images):
        self._check_shape(images.shape)
        images = ops.cast(images, self.compute_dtype)
        x = self.embedding(images)  # (B, H/P, W/P, D)
        batch_size = ops.shape(x)[0]
        x = ops.reshape(x, (batch_size, self.num_patches, self.hidden_dim))  # (B, N, D)
        if self.use_class_token:
            cls = ops.broadcast_to(
                ops.cast(self.class_token, x.dtype), (batch_size, 1, self.hidden_dim)
            )  # (B, 1, D)
            x = ops.concatenate([cls, x], axis=1)  # (B, N + 1, D)
        return x + ops.cast(self.position_embedding, x.dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.sequence_length, self.hidden_dim)

    def set_position_embedding(self, embedding, grid_size=None):
        """Assigns learned position embeddings, resized to this layer's grid.

        Args:
            embedding: `(1, prefix + gh * gw, hidden_dim)` array, `prefix` being
                1 with a class token and 0 without, as this layer's.
            grid_size: `(gh, gw)` of `embedding`. Defaults to a square grid
                (an error if `gh * gw` is not a square).
        """
        if not self.built:
            self.build((None, *_pair(self.image_size, "image_size"), self.num_channels))
        embedding = ops.convert_to_numpy(embedding)
        prefix = int(self.use_class_token)
        if embedding.ndim != 3 or embedding.shape[0] != 1 or embedding.shape[2] != self.hidden_dim:
            raise ValueError(
                f"Expected a position embedding of shape (1, length, {self.hidden_dim}). "
                f"Received: embedding.shape={embedding.shape}"
            )
        if grid_size is None:
            side = math.isqrt(max(embedding.shape[1] - prefix, 0))
            grid_size = (side, side)
        resized = self.resize_position_embedding(embedding, grid_size, self.grid_size, prefix)
        self.position_embedding.assign(ops.cast(resized, self.position_embedding.dtype))

    @staticmethod
    def resize_position_embedding(embedding, grid_size, new_grid_size, num_prefix_tokens=1):
        """Interpolates position embeddings from one patch grid to another.

        The first `num_prefix_tokens` vectors (the class token's) are kept; the
        `gh * gw` grid vectors are resized bilinearly as a `(gh, gw, D)` image
        (`keras.ops.image.resize`, half-pixel centres). The paper's code uses
        `scipy.ndimage.zoom(order=1)`, also linear, which aligns the corner
        pixels instead, so values near the borders differ slightly.

        Args:
            embedding: `(1, num_prefix_tokens + gh * gw, D)` tensor or array.
            grid_size: `(gh, gw)` of `embedding`.
            new_grid_size: `(gh', gw')` wanted.
            num_prefix_tokens: int, tokens before the grid. Defaults to `1`.

        Returns:
            A `(1, num_prefix_tokens + gh' * gw', D)` tensor.
        """
        grid_size = _pair(grid_size, "grid_size")
        new_grid_size = _pair(new_grid_size, "new_grid_size")
        length = num_prefix_tokens + grid_size[0] * grid_size[1]
        if len(embedding.shape) != 3 or embedding.shape[:2] != (1, length):
            raise ValueError(
                f"A {grid_size[0]}x{grid_size[1]} grid with {num_prefix_tokens} prefix "
                f"token(s) needs a position embedding of shape (1, {length}, dim). "
                f"Received: embedding.shape={tuple(embedding.shape)}, grid_size={grid_size!r}"
            )
        embedding = ops.convert_to_tensor(embedding)
        if grid_size == new_grid_size:
            return embedding
        dim = embedding.shape[-1]
        prefix = embedding[:, :num_prefix_tokens]  # (1, prefix, D)
        grid = ops.reshape(embedding[:, num_prefix_tokens:], (1, *grid_size, dim))  # (1, gh, gw, D)
        grid = ops.image.resize(
            grid, new_grid_size, interpolation="bilinear", data_format="channels_last"
        )  # (1, gh', gw', D)
        grid = ops.reshape(grid, (1, new_grid_size[0] * new_grid_size[1], dim))  # (1, N', D)
        return ops.concatenate([prefix, ops.cast(grid, prefix.dtype)], axis=1)

    def get_config(self):
        config = super().get_config()
        config.update(
            image_size=self.image_size,
            patch_size=self.patch_size,
            hidden_dim=self.hidden_dim,
            num_channels=self.num_channels,
            use_class_token=self.use_class_token,
        )
        return config
