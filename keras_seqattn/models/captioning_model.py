"""What every captioning model shares: the tokenizer, data preparation, caption()."""

import warnings

import keras
import numpy as np
from keras import ops

from keras_seqattn.models._images import check_images, shapes_differ
from keras_seqattn.models.generation_result import GenerationResult
from keras_seqattn.models.generative_model import GenerativeModel

# Imported here so the tokenizer class is registered whenever a model is loaded.
from keras_seqattn.text import SequenceTokenizer, caption_batches


class CaptioningModel(GenerativeModel):
    """Base of the image-to-text applications (`RNNCaptioner`, `AttentionCaptioner`).

    It owns the captions' `SequenceTokenizer`, so a saved model carries its
    vocabulary, and the image format the model takes: `image_size`
    `(height, width)` and `num_channels`. Inputs of the training graph are
    `{"images": (batch, height, width, channels), "target_ids": (batch, T)}`:
    pixels on the 0-255 scale (`uint8` or float alike; `ImageFeatureEncoder`
    rescales them) and the decoder input `[START] w_1 .. w_n`; the labels are
    `w_1 .. w_n [STOP]` (see `prepare()`).

    Images of another size or channel count are resized and converted by one
    documented policy (`keras_seqattn.text.prepare_image`): bilinear resizing
    to `image_size` without keeping the aspect ratio, grey repeated into RGB,
    RGB averaged into grey by luminance. `caption()` refuses what it cannot
    caption meaningfully (see `prepare_images()`).
    """

    @staticmethod
    def _check_captioning_args(tokenizer, image_size, num_channels, max_caption_length):
        """Raises a clear error before any layer is built from bad arguments."""
        if not isinstance(tokenizer, SequenceTokenizer):
            raise ValueError(
                "`tokenizer` must be a keras_seqattn.text.SequenceTokenizer holding the "
                f"vocabulary. Received: tokenizer={tokenizer!r}"
            )
        size = tuple(image_size) if isinstance(image_size, (list, tuple)) else None
        if size is None or len(size) != 2 or not all(isinstance(s, int) and s > 0 for s in size):
            raise ValueError(
                f"`image_size` must be (height, width), two positive ints. "
                f"Received: image_size={image_size!r}"
            )
        if isinstance(num_channels, bool) or num_channels not in (1, 3):
            raise ValueError(
                f"`num_channels` must be 1 or 3. Received: num_channels={num_channels!r}"
            )
        if (
            not isinstance(max_caption_length, int)
            or isinstance(max_caption_length, bool)
            or max_caption_length < 2
        ):
            raise ValueError(
                f"`max_caption_length` must be an int >= 2. "
                f"Received: max_caption_length={max_caption_length!r}"
            )

    def _init_captioning(self, tokenizer, image_size, num_channels, max_caption_length):
        self.tokenizer = tokenizer
        self.image_size = tuple(image_size)
        self.num_channels = num_channels
        self.max_caption_length = max_caption_length

    @staticmethod
    def _inputs(image_size, num_channels):
        return {
            "images": keras.Input(shape=(*image_size, num_channels), name="images"),
            "target_ids": keras.Input(shape=(None,), dtype="int32", name="target_ids"),
        }

    @classmethod
    def from_corpus(
        cls,
        pairs,
        vocabulary_size=1000,
        lowercase=True,
        max_caption_length=None,
        image_size=None,
        num_channels=None,
        **kwargs,
    ):
        """Builds the caption vocabulary (word pieces) from training pairs, then the model.

        Args:
            pairs: `tf.data.Dataset` of `(image, caption)`, or a list of
                `(image array, caption string)`.
            vocabulary_size: int, largest vocabulary. Defaults to `1000`.
            lowercase: bool, lowercase the captions first. Defaults to `True`.
            max_caption_length: int or `None` to fit the longest caption plus
                `[START]`/`[STOP]`.
            image_size: `(height, width)`, or `None` to take the first image's
                (images of varied sizes, as in COCO, need it given).
            num_channels: 1 or 3, or `None` to take the first image's.
            **kwargs: the model's other constructor arguments.

        Returns:
            The model, its tokenizer built from the captions of `pairs`.
        """
        captions, first_image = _split_pairs(pairs)
        tokenizer = SequenceTokenizer.from_corpus(
            captions, mode="word_piece", vocabulary_size=vocabulary_size, lowercase=lowercase
        )
        longest = int(ops.shape(tokenizer(captions))[1]) + 1
        shape = tuple(np.shape(first_image))
        return cls(
            tokenizer,
            image_size=tuple(image_size or shape[:2]),
            num_channels=num_channels or shape[-1],
            max_caption_length=longest if max_caption_length is None else max_caption_length,
            **kwargs,
        )

    def prepare(self, pairs, batch_size=64, shuffle=False, seed=0, drop_remainder=False):
        """Turns a `tf.data.Dataset` of `(image, caption)` into `fit` batches.

        Returns a dataset of `({"images", "target_ids"}, labels)`, images resized
        to `image_size` and captions padded to `max_caption_length`, usable by
        `fit` and `evaluate` on every backend (`keras_seqattn.text.caption_batches`,
        which documents the arguments).
        """
        return caption_batches(
            pairs,
            self.tokenizer,
            self.image_size,
            self.num_channels,
            self.max_caption_length,
            batch_size=batch_size,
            shuffle=shuffle,
            seed=seed,
            drop_remainder=drop_remainder,
        )

    def prepare_images(self, images):
        """Checks a batch of images and brings it to the model's size and channels.

        - `uint8` and float pixels alike are read on the 0-255 scale; float
          pixels all in `[0, 1]` (a common preprocessing) or any outside
          `[0, 255]` give a `UserWarning`, as the captions would be wrong.
        - Other sizes are resized bilinearly, grey becomes RGB and RGB grey
          (see the class docstring).
        - A list of `(height, width, channels)` images of several sizes is
          taken one image at a time, each resized so.
        - `ValueError` for a rank other than 4, an empty batch, an empty image,
          channels other than 1 or 3, and NaN or infinite pixels; `TypeError`
          for non-numeric, boolean or complex arrays (see `check_images`).

        Args:
            images: `(batch, height, width, channels)` array of pixels on the 0-255
                scale, `channels` 1 or 3.

        Returns:
            float32 `(batch, *image_size, num_channels)` NumPy array.
        """
        if shapes_differ(images):  # a list of images of several sizes: one at a time
            return np.concatenate([self.prepare_images(_one(image)) for image in images])
        images = check_images(images)
        if images.shape[-1] not in (1, 3):
            raise ValueError(
                f"Expected 1 (grey) or 3 (RGB) channels. Received: images.shape={images.shape}"
            )
        was_float = np.issubdtype(images.dtype, np.floating)
        images = images.astype("float32")
        low, high = float(images.min()), float(images.max())
        if was_float and 0 < high <= 1.0 and low >= 0:
            warnings.warn(
                "The pixels lie in [0, 1], but captioners expect the 0-255 scale of "
                "uint8 images; multiply by 255 first.",
                stacklevel=3,
            )
        elif low < 0 or high > 255:
            warnings.warn(
                "Captioners expect pixels on the 0-255 scale of uint8 images, as "
                f"in training. Received: pixels from min={low:g} to max={high:g}",
                stacklevel=3,
            )
        if images.shape[-1] != self.num_channels:
            images = (
                np.repeat(images, 3, axis=-1)
                if self.num_channels == 3
                else ops.convert_to_numpy(ops.image.rgb_to_grayscale(images))
            )
        if images.shape[1:3] != self.image_size:
            images = ops.convert_to_numpy(
                ops.image.resize(images, self.image_size, interpolation="bilinear")
            )
        return np.asarray(images, dtype="float32")

    def caption(
        self, images, max_length=None, beam_width=1, length_penalty=0.0, grid_attention=False
    ):
        """Captions a batch of images with greedy (beam_width=1) or beam search.

        Args:
            images: `(batch, height, width, channels)` pixels on the 0-255 scale
                (see `prepare_images()` for the resizing policy and the checks).
            max_length: int >= 1, most output tokens, `[STOP]` included;
                decoding ends there if no `[STOP]` came first. Defaults to
                `max_caption_length`.
            beam_width: int >= 1, 1 for greedy search.
            length_penalty: float >= 0, GNMT length-penalty exponent for beam
                search.
            grid_attention: bool, return each word's attention as the image
                grid `(H', W')` instead of the flat `(H' * W',)`.

        Returns:
            A `GenerationResult`: `text`, `ids`, `scores`, `output_tokens` and
            `attention`: per image, `(length, H' * W')` (or
            `(length, H', W')`), one map over the grid cells per generated
            token, `[STOP]` included; `(length, 0)` for a model without
            attention.
        """
        images = self.prepare_images(images)
        output = self.generate_ids(
            images,
            self.max_caption_length if max_length is None else max_length,
            start_id=self.tokenizer.start_id,
            stop_id=self.tokenizer.stop_id,
            beam_width=beam_width,
            length_penalty=length_penalty,
        )
        result = GenerationResult.from_output(output, self.tokenizer)
        if grid_attention and self.grid_shape is not None:
            result.attention = [a.reshape(len(a), *self.grid_shape) for a in result.attention]
        return result

    @property
    def grid_shape(self):
        """`(H', W')` of the attention grid, or `None` for a model without attention."""
        return None

    def get_config(self):
        return {
            "tokenizer": keras.saving.serialize_keras_object(self.tokenizer),
            "image_size": list(self.image_size),
            "num_channels": self.num_channels,
            "max_caption_length": self.max_caption_length,
            "name": self.name,
            "dtype": self.dtype_policy.name,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("tokenizer"), dict):
            config["tokenizer"] = keras.saving.deserialize_keras_object(config["tokenizer"])
        config["image_size"] = tuple(config["image_size"])
        return cls(**config)


def _split_pairs(pairs):
    """Captions as str, and the first image, of a dataset or list of pairs."""
    if hasattr(pairs, "as_numpy_iterator"):
        spec = pairs.element_spec
        if not isinstance(spec, tuple) or len(spec) != 2:
            raise ValueError(
                "Expected a dataset of (image, caption) pairs (see "
                "`keras_seqattn.datasets.load_caption_pairs`). "
                f"Received: element_spec={spec}"
            )
        first = next(iter(pairs.take(1).as_numpy_iterator()), None)
        captions = list(pairs.map(lambda image, caption: caption).as_numpy_iterator())
    else:
        if pairs is None or isinstance(pairs, (str, bytes)) or not hasattr(pairs, "__iter__"):
            raise TypeError(
                "`pairs` must be a tf.data.Dataset or a list of (image, caption). "
                f"Received: pairs={pairs!r:.80}"
            )
        pairs = list(pairs)
        bad = [p for p in pairs if not isinstance(p, (tuple, list)) or len(p) != 2]
        if bad:
            raise ValueError(f"Expected (image, caption) pairs. Received: pair={bad[0]!r:.80}")
        first = pairs[0] if pairs else None
        captions = [caption for _, caption in pairs]
    if first is None:
        raise ValueError("Expected at least one (image, caption) pair. Received: none")
    captions = [c.decode("utf-8") if isinstance(c, bytes) else c for c in captions]
    bad = [c for c in captions if not isinstance(c, str)]
    if bad:
        raise TypeError(f"Expected string captions. Received: captions items {bad[:3]!r}")
    if np.ndim(first[0]) != 3:
        raise ValueError(
            "Expected images of shape (height, width, channels); add the channel "
            "axis to grey images (`image[..., None]`). "
            f"Received: image.shape={np.shape(first[0])}"
        )
    return captions, first[0]


def _one(image):
    """One image of a list as a batch of one, refusing what is no single image."""
    image = np.asarray(ops.convert_to_numpy(image) if ops.is_tensor(image) else image)
    if image.ndim != 3:
        raise ValueError(
            "A list of images of several sizes must hold (height, width, channels) "
            f"images. Received: an image of shape {image.shape}"
        )
    return image[None]
