"""Positional encodings added to token embeddings: the paper's sinusoids, or learned."""

import keras
import keras_hub
from keras import ops

from keras_seqattn.layers._checks import check_dim, check_floating, check_positive_number

POSITION_MODES = ("sinusoidal", "learned")
SINUSOID_LAYOUTS = ("interleaved", "concatenated")


@keras.saving.register_keras_serializable(package="keras_seqattn")
class PositionalEncoding(keras.layers.Layer):
    """Adds a position signal to a sequence of embeddings, as in Vaswani et al. (2017).

    Attention alone is blind to order, so each position `pos` gets a vector added
    to its embedding:

    - `mode="sinusoidal"` (the paper, section 3.5): `PE(pos, 2i) =
      sin(pos / max_wavelength^(2i / d))` and `PE(pos, 2i + 1) =
      cos(pos / max_wavelength^(2i / d))`; no weights.
    - `mode="learned"`: a trainable `(sequence_length, d)` table, one row per
      position (as in BERT and ViT).

    The paper interleaves the sines and cosines (`layout="interleaved"`);
    tensor2tensor, Marian and OPUS-MT put the `d / 2` sines first and the
    cosines of the same frequencies after them (`layout="concatenated"`:
    `PE(pos, i) = sin(pos / max_wavelength^(2i / d))` and
    `PE(pos, d / 2 + i) = cos(pos / max_wavelength^(2i / d))`, `i < d / 2`).

    The layer adds the encoding; scaling the token embeddings by `sqrt(d)`
    first, as the paper does, is the caller's choice.

    The encodings themselves come from keras-hub: `keras_hub.layers.
    SinePositionEncoding` computes the sinusoids from the positions on the fly
    (elementwise ops, any position), and `keras_hub.layers.PositionEmbedding`
    holds the learned table. This layer adds what they lack for decoding one
    token at a time: positions are `start_index + arange(T)` with `start_index`
    possibly an int32 scalar tensor, and the learned rows are read with a gather
    (`ops.take`) rather than a dynamic slice, so the step compiles with fixed
    shapes inside `ops.while_loop` and exports with TFLite builtins only.

    Args:
        sequence_length: int, the most positions a sequence may have.
        mode: `"sinusoidal"` or `"learned"`. Defaults to `"sinusoidal"`.
        max_wavelength: float, the longest sinusoid's wavelength (times `2 pi`).
            Defaults to `10000`, the paper's value.
        initializer: initializer of the learned table. Defaults to
            `"glorot_uniform"`.
        layout: `"interleaved"` or `"concatenated"`, where the sinusoids' sines
            and cosines go (`mode="sinusoidal"` only; `d` must then be even).
            Defaults to `"interleaved"`, the paper's.
        **kwargs: other keyword arguments of `keras.layers.Layer`.

    Call arguments:
        inputs: floating-point `(batch, T, d)` embeddings (int token ids are
            a `TypeError`); NaN or inf values pass through.
        start_index: int or int32 scalar tensor, the position of the first
            token (`index` when decoding one token at step `index`); an int
            must keep `start_index + T <= sequence_length`. Defaults to `0`.

    Returns:
        `inputs + PE[start_index : start_index + T]`, `(batch, T, d)`. The Keras
        mask of `inputs`, if any, passes through.

    Example:

    >>> encoding = PositionalEncoding(sequence_length=16)
    >>> x = np.zeros((2, 5, 8), "float32")
    >>> y = encoding(x)
    >>> float(y[0, 0, 1])  # cos(0)
    1.0

    Reference:
        Vaswani et al. (2017), Attention Is All You Need, section 3.5;
        Junczys-Dowmunt et al. (2018), Marian: Fast Neural Machine Translation
        in C++ (the concatenated layout).
    """

    def __init__(
        self,
        sequence_length,
        mode="sinusoidal",
        max_wavelength=10000,
        initializer="glorot_uniform",
        layout="interleaved",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if (
            not isinstance(sequence_length, int)
            or isinstance(sequence_length, bool)
            or sequence_length < 1
        ):
            raise ValueError(
                f"`sequence_length` must be a positive int. Received: "
                f"sequence_length={sequence_length!r}"
            )
        if mode not in POSITION_MODES:
            raise ValueError(f"`mode` must be one of {POSITION_MODES}. Received: mode={mode!r}")
        check_positive_number("max_wavelength", max_wavelength)
        if layout not in SINUSOID_LAYOUTS:
            raise ValueError(
                f"`layout` must be one of {SINUSOID_LAYOUTS}. Received: layout={layout!r}"
            )
        self.layout = layout
        self.sequence_length = sequence_length
        self.mode = mode
        self.max_wavelength = max_wavelength
        try:
            self.initializer = keras.initializers.get(initializer)
            if self.initializer is None:  # `get(None)` is None: no initializer at all
                raise ValueError("None is no initializer")
        except (ValueError, TypeError) as error:
            raise ValueError(
                f"`initializer` must be a Keras initializer or its name ({error}). "
                f"Received: initializer={initializer!r}"
            ) from None
        # A name stays a name in the config; an object is serialized.
        self._initializer_config = (
            initializer
            if isinstance(initializer, str)
            else keras.initializers.serialize(self.initializer)
        )
        self.supports_masking = True

    def build(self, inputs_shape):
        self._check_length(inputs_shape)
        self._dim = inputs_shape[-1]
        if self.layout == "concatenated" and (self._dim is None or self._dim % 2):
            raise ValueError(
                "`layout='concatenated'` needs an even, known embedding width. "
                f"Received: inputs.shape={tuple(inputs_shape)}"
            )
        if self.mode == "sinusoidal":
            self.encoding = keras_hub.layers.SinePositionEncoding(
                max_wavelength=self.max_wavelength,
                name="sine_position_encoding",
                dtype=self.dtype_policy,
            )
        else:
            self.encoding = keras_hub.layers.PositionEmbedding(
                self.sequence_length,
                initializer=self.initializer,
                name="position_embedding",
                dtype=self.dtype_policy,
            )
        self.encoding.build(inputs_shape)
        self.built = True

    def _check_length(self, inputs_shape):
        if len(inputs_shape) != 3:
            raise ValueError(
                "`inputs` must have shape (batch, T, d). "
                f"Received: inputs.shape={tuple(inputs_shape)}"
            )
        length = inputs_shape[1]
        if length is not None and length > self.sequence_length:
            raise ValueError(
                f"The input has {length} positions, more than the layer's "
                f"`sequence_length`. Received: sequence_length={self.sequence_length}"
            )

    def call(self, inputs, start_index=0):
        self._check_length(inputs.shape)
        check_floating("inputs", inputs)
        if self.mode == "learned":
            check_dim("inputs", inputs, -1, self._dim, "width")
        self._check_start_index(start_index, inputs.shape[1])
        length = ops.shape(inputs)[1]
        positions = ops.arange(length, dtype="int32") + ops.cast(start_index, "int32")  # (T,)
        if self.mode == "sinusoidal":
            positions = ops.cast(positions, self.compute_dtype)
        if self.mode == "sinusoidal" and self.layout == "concatenated":
            encoding = self._concatenated_sinusoids(positions)  # (T, d)
        else:
            encoding = self.encoding(inputs, positions=positions)  # (B, T, d)
        return inputs + ops.cast(encoding, inputs.dtype)

    def _concatenated_sinusoids(self, positions):
        """`[sin(pos * w_i) for i < d / 2] + [cos(pos * w_i) for i < d / 2]`, `(T, d)`."""
        half = self._dim // 2
        exponents = ops.arange(half, dtype="float32") * (2.0 / self._dim)  # (d / 2,)
        frequencies = ops.power(float(self.max_wavelength), -exponents)  # (d / 2,)
        angles = ops.cast(positions, "float32")[:, None] * frequencies[None, :]  # (T, d / 2)
        return ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)  # (T, d)

    def _check_start_index(self, start_index, length):
        """A Python int `start_index` must keep every position in the table."""
        if not isinstance(start_index, int) or length is None:
            return  # A tensor index is the decoding loop's to keep in range.
        end = start_index + length - 1
        if start_index < 0 or end >= self.sequence_length:
            raise ValueError(
                f"The input covers positions {start_index}..{end}, but the layer encodes "
                f"positions 0..{self.sequence_length - 1}. Received: start_index={start_index!r}"
            )

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_shape(self, inputs_shape):
        return tuple(inputs_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            sequence_length=self.sequence_length,
            mode=self.mode,
            max_wavelength=self.max_wavelength,
            initializer=self._initializer_config,
        )
        if self.layout != "interleaved":  # older files have no key: the default
            config["layout"] = self.layout
        return config
