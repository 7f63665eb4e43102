"""The Transformer translation model's layers by role, and the functions that run them.

`TransformerSeq2Seq` builds its training graph and its decoding steps from
these; `TransformerCaptioner` shares the decoder side (`build_decoder_layers`,
`embed_tokens`, `decoder_logits`, `start_decoding`, `decoding_step`).
"""

import math

import keras
from keras import ops

from keras_seqattn.layers import PositionalEncoding, TransformerDecoder, TransformerEncoder


@keras.saving.register_keras_serializable(package="keras_seqattn")
class LogitsBias(keras.layers.Layer):
    """Adds a learned bias `(vocabulary,)` to tied-embedding logits.

    Marian's output layer is the target embedding matrix transposed plus a bias
    (`final_logits_bias` in Hugging Face's `MarianMTModel`); the paper's tied
    output layer has none.

    Args:
        vocabulary_size: int, the logits' last axis.
    """

    def __init__(self, vocabulary_size, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size = vocabulary_size

    def build(self, inputs_shape):
        self.bias = self.add_weight(name="bias", shape=(self.vocabulary_size,), initializer="zeros")
        self.built = True

    def call(self, inputs):
        return inputs + ops.cast(self.bias, inputs.dtype)  # (B, T, V)

    def compute_output_shape(self, inputs_shape):
        return tuple(inputs_shape)

    def get_config(self):
        config = super().get_config()
        config.update(vocabulary_size=self.vocabulary_size)
        return config


def build_layers(
    source_vocabulary,
    target_vocabulary,
    hidden_dim,
    num_layers,
    num_heads,
    intermediate_dim,
    dropout,
    normalize_first,
    position_mode,
    share_embeddings,
    tie_output_embedding,
    max_source_length,
    max_target_length,
    **options,
):
    """Every layer of the model, by role; the graph and the decoding steps share them.

    `options` are `build_decoder_layers()`'s keyword-only ones (activation,
    position layout, embedding scaling, output bias); the encoder takes the
    first three too.
    """
    layers = build_decoder_layers(
        target_vocabulary,
        hidden_dim,
        num_layers,
        num_heads,
        intermediate_dim,
        dropout,
        normalize_first,
        position_mode,
        tie_output_embedding,
        max_target_length,
        embedding_name="token_embedding" if share_embeddings else "target_embedding",
        **options,
    )
    if share_embeddings:
        source_embedding = layers["target_embedding"]
    else:
        source_embedding = keras.layers.Embedding(
            source_vocabulary,
            hidden_dim,
            embeddings_initializer=_embedding_initializer(hidden_dim),
            name="source_embedding",
        )
    block = dict(
        num_heads=num_heads,
        intermediate_dim=intermediate_dim,
        dropout=dropout,
        normalize_first=normalize_first,
        activation=options.get("activation", "relu"),
    )
    return {
        **layers,
        "source_embedding": source_embedding,
        "source_position": _position(
            max_source_length, position_mode, options.get("position_layout"), "source_position"
        ),
        "source_dropout": keras.layers.Dropout(dropout, name="source_dropout"),
        "encoder_layers": [
            TransformerEncoder(**block, name=f"encoder_layer_{i}") for i in range(num_layers)
        ],
        # Pre-norm blocks leave their outputs unnormalised; the paper's post-norm don't.
        "encoder_norm": keras.layers.LayerNormalization(name="encoder_norm", epsilon=1e-5)
        if normalize_first
        else None,
    }


def _embedding_initializer(hidden_dim):
    # N(0, d^-1/2), so that the sqrt(d)-scaled embeddings have unit variance.
    return keras.initializers.RandomNormal(stddev=hidden_dim**-0.5)


def _position(length, mode, layout, name):
    # The layout key only when it is not the default, so old configs stay as they were.
    extra = {} if layout in (None, "interleaved") else {"layout": layout}
    return PositionalEncoding(length, mode=mode, name=name, **extra)


def build_decoder_layers(
    target_vocabulary,
    hidden_dim,
    num_layers,
    num_heads,
    intermediate_dim,
    dropout,
    normalize_first,
    position_mode,
    tie_output_embedding,
    max_target_length,
    embedding_name="target_embedding",
    *,
    activation="relu",
    position_layout="interleaved",
    scale_embedding=True,
    output_bias=False,
):
    """The decoder side by role: embedding, positions, blocks, final norm, output.

    Shared with `TransformerCaptioner`, whose decoder is this one over words;
    `embed_tokens()` and `decoder_logits()` run the two ends. The keyword-only
    arguments are `TransformerSeq2Seq`'s of the same names; their defaults are
    the paper's.
    """
    block = dict(
        num_heads=num_heads,
        intermediate_dim=intermediate_dim,
        dropout=dropout,
        normalize_first=normalize_first,
        activation=activation,
    )
    return {
        "target_embedding": keras.layers.ReversibleEmbedding(
            target_vocabulary,
            hidden_dim,
            tie_weights=True,
            embeddings_initializer=_embedding_initializer(hidden_dim),
            name=embedding_name,
        ),
        "scale_embedding": scale_embedding,
        "target_position": _position(
            max_target_length, position_mode, position_layout, "target_position"
        ),
        "target_dropout": keras.layers.Dropout(dropout, name="target_dropout"),
        "decoder_layers": [
            TransformerDecoder(**block, name=f"decoder_layer_{i}") for i in range(num_layers)
        ],
        "decoder_norm": keras.layers.LayerNormalization(name="decoder_norm", epsilon=1e-5)
        if normalize_first
        else None,
        "output_dense": None
        if tie_output_embedding
        else keras.layers.Dense(target_vocabulary, name="output_dense"),
        "output_bias": LogitsBias(target_vocabulary, name="output_bias")
        if output_bias and tie_output_embedding
        else None,
    }


def embed_tokens(layers, side, token_ids, start_index=0):
    """Token embedding times `sqrt(d)` (unless not scaled), plus positions, then
    dropout: `(B, T, D)`."""
    x = layers[f"{side}_embedding"](token_ids)  # (B, T, D)
    if layers.get("scale_embedding", True):
        x = x * ops.cast(math.sqrt(x.shape[-1]), x.dtype)
    x = layers[f"{side}_position"](x, start_index=start_index)
    return layers[f"{side}_dropout"](x)


def run_encoder(layers, source_ids, source_mask):
    x = embed_tokens(layers, "source", source_ids)
    for block in layers["encoder_layers"]:
        x = block(x, padding_mask=source_mask)
    if layers["encoder_norm"] is not None:
        x = layers["encoder_norm"](x)
    return x  # (B, S, D)


def start_decoding(decoder_layers, encoded, cache_length):
    """`(cross, state)`: every block's cross-attention keys and values of
    `encoded` `(B, S, D)`, and its empty self-attention cache of `cache_length`
    positions, as flat tuples (two tensors per block)."""
    cross, state = [], []
    batch = ops.shape(encoded)[0]
    for block in decoder_layers:
        cross.extend(block.precompute_cross(encoded))
        state.extend(block.empty_cache(batch, cache_length))
    return tuple(cross), tuple(state)


def decoding_step(layers, token_ids, state, cross, index, source_mask=None):
    """One cached decoder step over `build_decoder_layers()`'s `layers`.

    Embeds `token_ids` `(B,)` at position `index`, runs every decoder block's
    `step()` against its cache in `state` and its keys and values in `cross`
    (from `start_decoding()`), and returns `(logits (B, V), new state, maps)`,
    `maps` holding each block's cross-attention `(B, h, S)`.
    """
    token_ids = ops.expand_dims(ops.convert_to_tensor(token_ids, dtype="int32"), 1)  # (B, 1)
    x = embed_tokens(layers, "target", token_ids, start_index=index)  # (B, 1, D)
    new_state, maps = [], []
    for i, block in enumerate(layers["decoder_layers"]):
        pair = slice(2 * i, 2 * i + 2)
        x, cache, attention = block.step(x, state[pair], cross[pair], index, source_mask)
        new_state.extend(cache)
        maps.append(attention)  # (B, h, S)
    return decoder_logits(layers, x)[:, 0], tuple(new_state), maps  # logits: (B, V)


def decoder_logits(layers, x):
    if layers["decoder_norm"] is not None:
        x = layers["decoder_norm"](x)
    if layers["output_dense"] is not None:
        return layers["output_dense"](x)  # (B, T, V)
    logits = layers["target_embedding"](x, reverse=True)  # (B, T, V)
    if layers.get("output_bias") is not None:
        logits = layers["output_bias"](logits)
    return logits
