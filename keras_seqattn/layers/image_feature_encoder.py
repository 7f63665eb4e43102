"""The captioners' CNN: an image to a grid of feature vectors, one per region."""

import keras
from keras import ops

from keras_seqattn.layers import _jax_cpu_cnn
from keras_seqattn.layers._checks import as_bool

SMALL_CNN = "small_cnn"


def check_weights(backbone, weights, name="weights"):
    """Raises a `ValueError` unless `weights` (called `name`) suit `backbone`."""
    if not (weights is None or (isinstance(weights, str) and weights == "imagenet")):
        raise ValueError(f'`{name}` must be None or "imagenet". Received: {name}={weights!r}')
    if backbone == SMALL_CNN and weights is not None:
        raise ValueError(
            f"`{name}` must be None for the small CNN, which is trained from scratch: pass "
            "a keras.applications `backbone` to load pretrained weights. "
            f"Received: {name}={weights!r}"
        )


@keras.saving.register_keras_serializable(package="keras_seqattn")
class ImageFeatureEncoder(keras.layers.Layer):
    """Turns images into the spatial grid of feature vectors a captioner attends over.

    1. Pixels: the layer takes values in `[0, 255]`, of any dtype (the `uint8`
       images of TFDS, or floats on that scale); NaN pixels are replaced by 0
       (black), so one corrupt pixel cannot turn every weight into NaN.
    2. Convolutions: either a small CNN trained from scratch (`backbone=
       "small_cnn"`: per entry of `filters`, a 3x3 convolution with ReLU and a
       2x2 max pooling, after scaling pixels to `[0, 1]`), or any
       `keras.applications` model by name (`"MobileNetV2"`, `"ResNet50"`,
       `"EfficientNetB0"`, ...) without its classifier, after that model's own
       `preprocess_input` (which expects the same `[0, 255]` pixels).
    3. Grid: the last feature map `(batch, H', W', C')` becomes the sequence
       `(batch, H' * W', C')`, row-major (cell `i` is row `i // W'`, column
       `i % W'`).
    4. Optionally the vectors are projected to `output_dim` with a ReLU.
    5. Optionally (`position_embedding=True`) a learned vector per cell is
       added: a convolution's features say what is in a cell but hardly where
       the cell is, and an attention decoder that must read objects in order
       (left to right) needs the where. Added last, linearly, so it tells the
       decoder where it looked only through a peaked attention map: a uniform
       one (or a mean over the grid) gets the same constant from every image.

    The image size is fixed when the layer is built, so the grid
    `grid_shape(image_size)` is known; the small CNN needs each side to be a
    multiple of `2 ** len(filters)`. Images of another size are the caller's to
    resize (`CaptioningModel.caption()` and `caption_batches` do it, bilinearly).

    Args:
        backbone: `"small_cnn"` or the name of a `keras.applications` model.
            Defaults to `"small_cnn"`.
        filters: tuple of ints, the small CNN's channels per stage; each stage
            halves the grid. Defaults to `(32, 64, 128)` (64x64 -> 8x8 grid).
        weights: for a backbone, `None` (random initialisation; no download) or
            `"imagenet"` (downloads the pretrained weights, e.g. on Colab; needs 3
            channels). Must be `None` for the small CNN. Defaults to `None`.
        trainable_backbone: bool, `False` freezes the backbone (or the small
            CNN); the projection stays trainable. Defaults to `True`.
        position_embedding: bool, add a learned embedding per grid cell.
            Defaults to `False`.
        output_dim: int or `None`, width of a learned projection of every grid
            vector (`Dense` with ReLU); `None` keeps the CNN's channels.
            Defaults to `None`.
        **kwargs: other keyword arguments of `keras.layers.Layer`.

    Call arguments:
        images: `(batch, height, width, channels)` pixels in `[0, 255]`, of
            the size the layer was built for; `batch` may be 0. NaN pixels
            become 0; inf pixels propagate.
        training: Python boolean.

    Returns:
        `(batch, H' * W', feature_dim)` feature vectors.

    Example:

    >>> encoder = ImageFeatureEncoder(filters=(8, 16))
    >>> images = np.random.randint(0, 256, size=(2, 32, 32, 1)).astype("uint8")
    >>> tuple(encoder(images).shape), encoder.grid_shape((32, 32))
    ((2, 64, 16), (8, 8))

    Reference:
        Xu et al. (2015), Show, Attend and Tell: Neural Image Caption Generation
        with Visual Attention, section 3.1.1 (the lower convolutional layer's
        annotation vectors).
    """

    def __init__(
        self,
        backbone=SMALL_CNN,
        filters=(32, 64, 128),
        weights=None,
        trainable_backbone=True,
        position_embedding=False,
        output_dim=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if backbone != SMALL_CNN and not callable(getattr(keras.applications, str(backbone), None)):
            raise ValueError(
                f'`backbone` must be "{SMALL_CNN}" or a keras.applications model name '
                f'such as "MobileNetV2" or "ResNet50". Received: backbone={backbone!r}'
            )
        filters = tuple(filters) if isinstance(filters, (list, tuple)) else filters
        if (
            not isinstance(filters, tuple)
            or not filters
            or not all(isinstance(f, int) and not isinstance(f, bool) and f > 0 for f in filters)
        ):
            raise ValueError(
                "`filters` must be a non-empty tuple of positive ints. "
                f"Received: filters={filters!r}"
            )
        check_weights(backbone, weights)
        if output_dim is not None and (
            not isinstance(output_dim, int) or isinstance(output_dim, bool) or output_dim < 1
        ):
            raise ValueError(
                f"`output_dim` must be a positive int or None. Received: output_dim={output_dim!r}"
            )
        self.backbone = backbone
        self.filters = filters
        self.weights_source = weights
        self.trainable_backbone = as_bool("trainable_backbone", trainable_backbone)
        self.position_embedding = as_bool("position_embedding", position_embedding)
        self.output_dim = output_dim

    def build(self, images_shape):
        height, width, channels = self._check_shape(images_shape)
        self._image_shape = (height, width, channels)
        if self.backbone == SMALL_CNN:
            self.cnn = self._small_cnn((height, width, channels))
        else:
            self.cnn = self._application((height, width, channels))
        self.cnn.trainable = self.trainable_backbone
        grid_height, grid_width, channels = self.cnn.output.shape[1:]
        self.projection = None
        if self.output_dim is not None:
            self.projection = keras.layers.Dense(
                self.output_dim, activation="relu", name="projection", dtype=self.dtype_policy
            )
            self.projection.build((None, None, channels))
        self.positions = None
        if self.position_embedding:
            self.positions = keras.layers.Embedding(
                grid_height * grid_width,
                self.output_dim or channels,
                name="position_embedding",
                dtype=self.dtype_policy,
            )
            self.positions.build((None,))
        self.built = True

    def _check_shape(self, shape):
        if len(shape) != 4:
            raise ValueError(
                "ImageFeatureEncoder takes images of shape (batch, height, width, "
                f"channels). Received: images.shape={tuple(shape)}"
            )
        height, width, channels = shape[1:]
        if None in (height, width, channels):
            raise ValueError(
                "The image height, width and channels must be known. "
                f"Received: images.shape={tuple(shape)}"
            )
        if self.weights_source == "imagenet" and channels != 3:
            raise ValueError(
                f"ImageNet weights need 3 channels. Received: images.shape={tuple(shape)}"
            )
        step = 2 ** len(self.filters)
        if self.backbone == SMALL_CNN and (height % step or width % step):
            raise ValueError(
                f"The small CNN with {len(self.filters)} stages needs sides that are "
                f"multiples of {step}. Received: images.shape={tuple(shape)}"
            )
        return height, width, channels

    def _small_cnn(self, input_shape):
        inputs = keras.Input(input_shape, dtype=self.compute_dtype)
        x = keras.layers.Rescaling(1 / 255, dtype=self.dtype_policy)(inputs)
        for i, width in enumerate(self.filters):
            x = _jax_cpu_cnn.Conv2D(  # keras.layers.Conv2D but on JAX's CPU
                width,
                3,
                padding="same",
                activation="relu",
                name=f"conv_{i}",
                dtype=self.dtype_policy,
            )(x)
            x = _jax_cpu_cnn.MaxPooling2D(name=f"pool_{i}", dtype=self.dtype_policy)(x)
        return keras.Model(inputs, x, name="small_cnn")

    def _application(self, input_shape):
        application = getattr(keras.applications, self.backbone)
        # `keras.applications.<module>.preprocess_input` of the same family.
        module = getattr(keras.applications, application.__module__.rsplit(".", 1)[-1])
        inputs = keras.Input(input_shape, dtype=self.compute_dtype)
        model = application(include_top=False, weights=self.weights_source, input_shape=input_shape)
        outputs = model(module.preprocess_input(inputs))
        return keras.Model(inputs, outputs, name=self.backbone.lower())

    def call(self, images, training=None):
        if tuple(self._check_shape(images.shape)) != self._image_shape:
            raise ValueError(
                "The layer was built for images of shape (batch, "
                f"{', '.join(map(str, self._image_shape))}); resize them first. "
                f"Received: images.shape={tuple(images.shape)}"
            )
        images = ops.cast(images, self.compute_dtype)
        images = ops.where(ops.isnan(images), ops.zeros_like(images), images)
        features = self.cnn(images, training=training)  # (B, H', W', C')
        _, grid_height, grid_width, channels = self.cnn.output.shape
        cells = grid_height * grid_width
        features = ops.reshape(
            features, (ops.shape(features)[0], cells, channels)
        )  # (B, H'*W', C')
        if self.projection is not None:
            features = self.projection(features)  # (B, H'*W', output_dim)
        if self.positions is not None:
            positions = self.positions(ops.arange(cells, dtype="int32"))  # (H'*W', D)
            features = features + positions[None]  # (B, H'*W', D)
        return features

    def grid_shape(self, image_size):
        """`(H', W')` of the grid for images of `image_size` `(height, width)`."""
        height, width = image_size
        if self.backbone == SMALL_CNN:
            step = 2 ** len(self.filters)
            return height // step, width // step
        if not self.built:
            raise ValueError("Build the layer first: a backbone's grid depends on its layers.")
        return tuple(self.cnn.output.shape[1:3])

    def compute_output_shape(self, images_shape):
        height, width = images_shape[1:3]
        if self.backbone == SMALL_CNN:
            cells = (height // 2 ** len(self.filters)) * (width // 2 ** len(self.filters))
            channels = self.filters[-1]
        else:
            if not self.built:
                self.build(images_shape)
            grid = self.cnn.output.shape[1:3]
            cells, channels = grid[0] * grid[1], self.cnn.output.shape[-1]
        return (images_shape[0], cells, self.output_dim or channels)

    def get_config(self):
        config = super().get_config()
        config.update(
            backbone=self.backbone,
            filters=self.filters,
            weights=self.weights_source,
            trainable_backbone=self.trainable_backbone,
            position_embedding=self.position_embedding,
            output_dim=self.output_dim,
        )
        return config
