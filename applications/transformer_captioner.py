"""TransformerCaptioner: image captioning with a Transformer over patches, no CNN."""

import dataclasses
import numbers

import keras
from keras import ops

from keras_seqattn.applications.transformer_seq2seq import (
    build_decoder_layers,
    decoder_logits,
    decoding_step,
    embed_tokens,
    start_decoding,
)
from keras_seqattn.layers import PatchEncoder, TransformerEncoder
from keras_seqattn.layers._checks import check_dropout
from keras_seqattn.models._arguments import check_flags, check_sizes
from keras_seqattn.models.captioning_model import CaptioningModel
from keras_seqattn.models.transformer_layout_map import transformer_layout_map

# Named architectures; exact parameter counts for a given image size and
# vocabulary are pinned in tests/applications/test_transformer_captioner.py.
CONFIGS = {
    # Seconds per epoch on a CPU for the embedded digit_scenes (64x64 grey):
    # 8x8 patches give an 8x8 grid, one or two cells per digit.
    "transformer_captioner_tiny_digits": dict(
        patch_size=8,
        hidden_dim=128,
        num_encoder_layers=2,
        num_decoder_layers=2,
        num_heads=4,
        intermediate_dim=256,
        dropout=0.1,
    ),
    # ViT-style 16x16 patches (a 14x14 grid at 224x224) under a Transformer of
    # the paper's base width (Vaswani et al. 2017, table 3), four blocks a side.
    "transformer_captioner_base": dict(
        patch_size=16,
        hidden_dim=512,
        num_encoder_layers=4,
        num_decoder_layers=4,
        num_heads=8,
        intermediate_dim=2048,
        dropout=0.1,
    ),
}


@keras.saving.register_keras_serializable(package="keras_seqattn")
class TransformerCaptioner(CaptioningModel):
    """Image captioning with a Transformer encoder over patches and a decoder over words.

    The lecture's captioner without a CNN (section 7):

    1. Pixels on the 0-255 scale are rescaled to `[0, 1]`, cut into
       `P x P` patches, each projected linearly to `hidden_dim`, plus a
       learned position embedding per patch (`PatchEncoder` without a class
       token, Dosovitskiy et al. 2021, eq. 1): `N = (H / P) * (W / P)` image
       tokens, each one cell of an `(H / P, W / P)` grid.
    2. `num_encoder_layers` `TransformerEncoder` blocks: self-attention among
       the patches, then an MLP.
    3. The caption `[START] w_1 .. w_n` is embedded, scaled by
       `sqrt(hidden_dim)` and given sinusoidal positions, then
       `num_decoder_layers` `TransformerDecoder` blocks: causal self-attention
       over the words so far, cross-attention whose queries are the decoder
       states and whose keys and values are the encoded patches (the paper,
       not the lecture notes' reversed roles), then an MLP.
    4. Next-word logits from the word embedding matrix transposed
       (`tie_output_embedding=True`) or a separate output layer.

    The decoder side is `TransformerSeq2Seq`'s. With `normalize_first=True`
    the blocks are pre-norm and each stack ends in a layer norm.

    `caption()` runs the encoder once, precomputes the cross-attention keys
    and values of every decoder block, and decodes one word per step against
    a self-attention cache of `max_caption_length` positions. Its attention is
    the cross-attention of decoder block `attention_layer` (the last by
    default): `result.attention[i]`, `(length, N)` averaged over heads, or
    `(length, H / P, W / P)` with `grid_attention=True`, one distribution over
    the patch grid per generated token (`[STOP]` included), which
    `keras_seqattn.visualization.plot_caption_attention` draws and
    `keras_seqattn.evaluation` scores for localisation; per head,
    `result.attention_heads[i]`, `(length, num_heads, N)` (or
    `(length, num_heads, H / P, W / P)`).

    Inputs of the training graph: `{"images": (batch, H, W, C), "target_ids":
    (batch, T)}` (see `prepare()`); output: next-token logits `(batch, T, V)`.
    Named architectures are in `CONFIGS` (see `from_named_config()`).

    Args:
        tokenizer: `keras_seqattn.text.SequenceTokenizer` of the captions.
        image_size: `(height, width)` of the images; `patch_size` must divide
            both. Defaults to `(64, 64)`.
        num_channels: 1 or 3. Defaults to `1`.
        patch_size: int `P`, the side of a square patch. Defaults to `8`.
        hidden_dim: int, `d_model` of both stacks. Defaults to `128`.
        num_encoder_layers: int, blocks over the patches. Defaults to `2`.
        num_decoder_layers: int, blocks over the words. Defaults to `2`.
        num_heads: int, attention heads; must divide `hidden_dim`.
            Defaults to `4`.
        intermediate_dim: int, MLP width `d_ff`. Defaults to `256`.
        dropout: float, dropout on the patch and word embeddings, attention
            weights and sublayer outputs. Defaults to `0.1`.
        normalize_first: bool, pre-norm blocks instead of the paper's
            post-norm. Defaults to `False`.
        tie_output_embedding: bool, output logits from the word embedding
            matrix (no separate output layer). Defaults to `True`.
        attention_layer: int, the decoder block whose cross-attention
            `caption()` reports; negative counts from the end. Defaults to `-1`.
        max_caption_length: int, most generated tokens, `[STOP]` included; also
            the size of the decoder's cache. Defaults to `16`.
        name: model name.

    Example:

    >>> from keras_seqattn.text import SequenceTokenizer
    >>> tokenizer = SequenceTokenizer.from_corpus(["seven three", "one two"])
    >>> model = TransformerCaptioner(
    ...     tokenizer, image_size=(32, 32), hidden_dim=16, intermediate_dim=32
    ... )
    >>> result = model.caption(np.zeros((1, 32, 32, 1), "uint8"), max_length=4)
    >>> result.attention[0].shape[1]  # one weight per cell of the 4x4 patch grid
    16
    >>> result.attention_heads[0].shape[1:]  # 4 heads over the 16 cells
    (4, 16)

    Reference:
        Vaswani et al. (2017), Attention Is All You Need.
        Dosovitskiy et al. (2021), An Image is Worth 16x16 Words: Transformers
        for Image Recognition at Scale.
    """

    def __init__(
        self,
        tokenizer,
        image_size=(64, 64),
        num_channels=1,
        patch_size=8,
        hidden_dim=128,
        num_encoder_layers=2,
        num_decoder_layers=2,
        num_heads=4,
        intermediate_dim=256,
        dropout=0.1,
        normalize_first=False,
        tie_output_embedding=True,
        attention_layer=-1,
        max_caption_length=16,
        name="transformer_captioner",
        **kwargs,
    ):
        self._check_captioning_args(tokenizer, image_size, num_channels, max_caption_length)
        check_dropout(dropout)
        check_flags(normalize_first=normalize_first, tie_output_embedding=tie_output_embedding)
        _check_architecture(
            image_size,
            patch_size,
            hidden_dim,
            num_encoder_layers,
            num_decoder_layers,
            num_heads,
            intermediate_dim,
            attention_layer,
        )
        # === Layers ===
        layers = build_decoder_layers(
            tokenizer.vocabulary_size,
            hidden_dim,
            num_decoder_layers,
            num_heads,
            intermediate_dim,
            dropout,
            normalize_first,
            "sinusoidal",
            tie_output_embedding,
            max_caption_length,
        )
        layers.update(
            _build_image_layers(
                image_size,
                num_channels,
                patch_size,
                hidden_dim,
                num_encoder_layers,
                num_heads,
                intermediate_dim,
                dropout,
                normalize_first,
            )
        )
        # === Functional model ===
        inputs = self._inputs(image_size, num_channels)
        memory = _run_encoder(layers, inputs["images"])  # (batch, N, D)
        x = embed_tokens(layers, "target", inputs["target_ids"])  # (batch, T, D)
        for block in layers["decoder_layers"]:
            x = block(x, memory)
        logits = decoder_logits(layers, x)  # (batch, T, V)
        super().__init__(inputs=inputs, outputs=logits, name=name, **kwargs)
        # === Config ===
        self._layers_by_role = layers
        self.patch_encoder = layers["patch_encoder"]
        self.encoder_layers = layers["encoder_layers"]
        self.decoder_layers = layers["decoder_layers"]
        self.word_embedding = layers["target_embedding"]
        self.output_dense = layers["output_dense"]
        self._init_captioning(tokenizer, image_size, num_channels, max_caption_length)
        self.patch_size = patch_size
        self.hidden_dim = hidden_dim
        self.num_encoder_layers = num_encoder_layers
        self.num_decoder_layers = num_decoder_layers
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.normalize_first = normalize_first
        self.tie_output_embedding = tie_output_embedding
        self.attention_layer = attention_layer

    @classmethod
    def from_named_config(cls, config_name, tokenizer, **kwargs):
        """Builds one of the `CONFIGS` architectures; `kwargs` override its values."""
        if config_name not in CONFIGS:
            raise ValueError(
                f"`config_name` must be one of {sorted(CONFIGS)}. "
                f"Received: config_name={config_name!r}"
            )
        return cls(tokenizer, **{**CONFIGS[config_name], **kwargs})

    @property
    def grid_shape(self):
        return self.patch_encoder.grid_size

    def encode(self, images):
        encoded = _run_encoder(self._layers_by_role, ops.convert_to_tensor(images))  # (B, N, D)
        return start_decoding(self.decoder_layers, encoded, self.max_caption_length)

    def decode_step(self, token_ids, state, memory, index):
        logits, state, maps = decoding_step(self._layers_by_role, token_ids, state, memory, index)
        return logits, state, maps[self.attention_layer]  # (B, V), state, (B, h, N)

    def generate_ids(self, inputs, max_length, *args, **kwargs):
        if isinstance(max_length, numbers.Integral) and max_length > self.max_caption_length:
            raise ValueError(
                "The decoder caches `max_caption_length` positions, so `max_length` "
                f"cannot exceed {self.max_caption_length}. Received: max_length={max_length}"
            )
        return super().generate_ids(inputs, max_length, *args, **kwargs)

    def caption(
        self, images, max_length=None, beam_width=1, length_penalty=0.0, grid_attention=False
    ):
        """`CaptioningModel.caption`, with head-averaged and per-head attention.

        `result.attention[i]` is `(length, N)`, the cross-attention of decoder
        block `attention_layer` averaged over heads, or `(length, H / P, W / P)`
        with `grid_attention=True`; `result.attention_heads[i]` is
        `(length, num_heads, N)`, or `(length, num_heads, H / P, W / P)`.
        """
        result = super().caption(images, max_length, beam_width, length_penalty)
        heads = result.attention  # per image (length, h, N)
        if grid_attention:
            # (length, h, N) -> (length, h, H', W')
            heads = [a.reshape(*a.shape[:2], *self.grid_shape) for a in heads]
        return dataclasses.replace(
            result, attention=[a.mean(axis=1) for a in heads], attention_heads=heads
        )

    # The Megatron sharding of every Transformer application, for
    # `keras.distribution.ModelParallel`: see `transformer_layout_map`.
    get_layout_map = staticmethod(transformer_layout_map)

    def get_config(self):
        config = super().get_config()
        config.update(
            patch_size=self.patch_size,
            hidden_dim=self.hidden_dim,
            num_encoder_layers=self.num_encoder_layers,
            num_decoder_layers=self.num_decoder_layers,
            num_heads=self.num_heads,
            intermediate_dim=self.intermediate_dim,
            dropout=self.dropout,
            normalize_first=self.normalize_first,
            tie_output_embedding=self.tie_output_embedding,
            attention_layer=self.attention_layer,
        )
        return config


def _check_architecture(
    image_size,
    patch_size,
    hidden_dim,
    num_encoder_layers,
    num_decoder_layers,
    num_heads,
    intermediate_dim,
    attention_layer,
):
    check_sizes(
        patch_size=patch_size,
        hidden_dim=hidden_dim,
        num_encoder_layers=num_encoder_layers,
        num_decoder_layers=num_decoder_layers,
        num_heads=num_heads,
        intermediate_dim=intermediate_dim,
    )
    if image_size[0] % patch_size or image_size[1] % patch_size:
        raise ValueError(
            f"`patch_size` must divide the image height and width {tuple(image_size)}. "
            f"Received: patch_size={patch_size!r}"
        )
    if hidden_dim % num_heads:
        raise ValueError(
            f"`num_heads` must divide `hidden_dim`={hidden_dim}. Received: num_heads={num_heads!r}"
        )
    if (
        not isinstance(attention_layer, int)
        or isinstance(attention_layer, bool)
        or not -num_decoder_layers <= attention_layer < num_decoder_layers
    ):
        raise ValueError(
            f"`attention_layer` must index one of the {num_decoder_layers} decoder blocks. "
            f"Received: attention_layer={attention_layer!r}"
        )


def _build_image_layers(
    image_size,
    num_channels,
    patch_size,
    hidden_dim,
    num_layers,
    num_heads,
    intermediate_dim,
    dropout,
    normalize_first,
):
    """The encoder side by role: rescaling, patches, encoder blocks, final norm."""
    block = dict(
        num_heads=num_heads,
        intermediate_dim=intermediate_dim,
        dropout=dropout,
        normalize_first=normalize_first,
    )
    return {
        # As `ImageFeatureEncoder`: 0-255 pixels to [0, 1].
        "rescaling": keras.layers.Rescaling(1 / 255, name="rescaling"),
        "patch_encoder": PatchEncoder(
            tuple(image_size),
            patch_size,
            hidden_dim,
            num_channels=num_channels,
            use_class_token=False,
            name="patch_encoder",
        ),
        "patch_dropout": keras.layers.Dropout(dropout, name="patch_dropout"),
        "encoder_layers": [
            TransformerEncoder(**block, name=f"encoder_layer_{i}") for i in range(num_layers)
        ],
        # Pre-norm blocks leave their outputs unnormalised; the paper's post-norm don't.
        "encoder_norm": keras.layers.LayerNormalization(name="encoder_norm", epsilon=1e-5)
        if normalize_first
        else None,
    }


def _run_encoder(layers, images):
    x = layers["rescaling"](images)  # (B, H, W, C) in [0, 1]
    x = layers["patch_encoder"](x)  # (B, N, D), N = H/P * W/P
    x = layers["patch_dropout"](x)
    for block in layers["encoder_layers"]:
        x = block(x)
    if layers["encoder_norm"] is not None:
        x = layers["encoder_norm"](x)
    return x  # (B, N, D)
