"""RNNCaptioner: the lecture's CNN + RNN captioner, one image vector for every word."""

import keras
from keras import ops

from keras_seqattn.layers import ContextRNNDecoder
from keras_seqattn.models.rnn_captioning_model import RNNCaptioningModel


@keras.saving.register_keras_serializable(package="keras_seqattn")
class RNNCaptioner(RNNCaptioningModel):
    """CNN encoder and RNN decoder conditioned on one global image feature.

    1. The CNN gives a grid of features `a_1 .. a_L` (`ImageFeatureEncoder`).
    2. Their mean `c = mean_i a_i` is the whole image in one vector: it gives
       the initial state `s_0 = tanh(W_init c)` and is fed as the fixed context
       at every step, `s_t = g([E w_{t-1}; c], s_{t-1})`, `logits_t = W_o [s_t; c]`
       (`ContextRNNDecoder`, the plain Seq2Seq decoder).
    3. Words follow one another from `[START]` until `[STOP]`.

    One vector for the whole image is the lecture's bottleneck: each word needs
    a different part of the image. Compare with `AttentionCaptioner`. The model
    has no attention, so `caption()` returns `(length, 0)` attention arrays.

    Args:
        tokenizer: `keras_seqattn.text.SequenceTokenizer` of the captions.
        image_size: `(height, width)` of the images. Defaults to `(64, 64)`.
        num_channels: 1 or 3. Defaults to `1`.
        embedding_dim: int, word embedding width. Defaults to `64`.
        hidden_dim: int, RNN state width. Defaults to `256`.
        rnn_type: `"gru"` or `"lstm"`. Defaults to `"gru"`.
        dropout: float, word embedding dropout. Defaults to `0.0`.
        backbone: `"small_cnn"` or a `keras.applications` name (see
            `ImageFeatureEncoder`). Defaults to `"small_cnn"`.
        filters: the small CNN's channels per stage. Defaults to `(32, 64, 128)`.
        backbone_weights: `None` or `"imagenet"` for a `keras.applications`
            backbone. Defaults to `None`.
        trainable_backbone: bool, fine-tune (`True`) or freeze the CNN.
            Defaults to `True`.
        feature_dim: int or `None`, width of the learned ReLU projection of
            the CNN features (after the per-cell position embeddings, so that
            their mean still says where things are); `None` keeps the CNN's
            channels. Defaults to `128`.
        max_caption_length: int, most generated tokens, `[STOP]` included;
            also the padded length of `prepare()`. Defaults to `16`.
        name: model name.

    Example:

    >>> from keras_seqattn.text import SequenceTokenizer
    >>> tokenizer = SequenceTokenizer.from_corpus(["seven three", "one two"])
    >>> model = RNNCaptioner(tokenizer, image_size=(32, 32), filters=(8, 16), hidden_dim=16)
    >>> images = np.zeros((2, 32, 32, 1), dtype="uint8")
    >>> len(model.caption(images, max_length=4).text)
    2

    Reference:
        Vinyals et al. (2015), Show and Tell: A Neural Image Caption Generator.
    """

    def __init__(
        self,
        tokenizer,
        image_size=(64, 64),
        num_channels=1,
        embedding_dim=64,
        hidden_dim=256,
        rnn_type="gru",
        dropout=0.0,
        backbone="small_cnn",
        filters=(32, 64, 128),
        backbone_weights=None,
        trainable_backbone=True,
        feature_dim=128,
        max_caption_length=16,
        name="rnn_captioner",
        **kwargs,
    ):
        self._check_captioning_args(tokenizer, image_size, num_channels, max_caption_length)
        self._check_rnn_args(embedding_dim, hidden_dim, dropout, trainable_backbone, feature_dim)
        # === Layers ===
        encoder = self._build_encoder(
            backbone, filters, backbone_weights, trainable_backbone, feature_dim
        )
        init_layers = self._build_init_layers(rnn_type, hidden_dim)
        decoder = ContextRNNDecoder(
            tokenizer.vocabulary_size,
            embedding_dim,
            hidden_dim,
            rnn_type=rnn_type,
            dropout=dropout,
            name="decoder",
        )
        # === Functional model ===
        inputs = self._inputs(image_size, num_channels)
        context, state = self._initial_state(init_layers, encoder(inputs["images"]))
        logits = decoder(inputs["target_ids"], state, context)
        super().__init__(inputs=inputs, outputs=logits, name=name, **kwargs)
        # === Config ===
        self.encoder, self.init_layers, self.decoder = encoder, init_layers, decoder
        self._init_captioning(tokenizer, image_size, num_channels, max_caption_length)
        self._init_rnn_config(
            embedding_dim=embedding_dim,
            hidden_dim=hidden_dim,
            rnn_type=rnn_type,
            dropout=dropout,
            backbone=backbone,
            filters=tuple(filters),
            backbone_weights=backbone_weights,
            trainable_backbone=trainable_backbone,
            feature_dim=feature_dim,
        )

    def encode(self, images):
        context, state = self._initial_state(self.init_layers, self.encoder(images))
        return (context,), state  # memory = (c,), state = s_0

    def decode_step(self, token_ids, state, memory, index):
        (context,) = memory
        logits, new_state = self.decoder.step(token_ids, state, context)
        no_attention = ops.zeros((ops.shape(token_ids)[0], 0), dtype=logits.dtype)
        return logits, new_state, no_attention
