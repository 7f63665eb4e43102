"""AttentionCaptioner: Show, Attend and Tell, soft attention over the image grid."""

import keras

from keras_seqattn.layers import AttentionRNNDecoder, DoublyStochasticRegularizer
from keras_seqattn.layers._checks import check_non_negative
from keras_seqattn.models.rnn_captioning_model import RNNCaptioningModel


@keras.saving.register_keras_serializable(package="keras_seqattn")
class AttentionCaptioner(RNNCaptioningModel):
    """CNN encoder and RNN decoder that attends over the image grid at every word.

    1. The CNN keeps a spatial grid of features `a_1 .. a_L`, `L = H' * W'`
       (`ImageFeatureEncoder`); their mean gives `s_0` through the init MLP.
    2. At step `t`, additive attention scores `s_{t-1}` against every cell,
       `e_{t,i} = v^T tanh(W_q s_{t-1} + W_k a_i)`; softmax over the cells gives
       the attention map `alpha_t` (a distribution over the image) and the
       context `z_t = sum_i alpha_{t,i} a_i` (soft attention, section 4.2).
    3. Optionally `z_t <- beta_t z_t` with the gating scalar
       `beta_t = sigmoid(w_beta . s_{t-1})` (`context_gate=True`, section 4.2.1).
    4. `s_t = g([E w_{t-1}; z_t], s_{t-1})`, `logits_t = W_o [s_t; z_t]`
       (`AttentionRNNDecoder`, the lecture's Bahdanau decoder).
    5. Optionally the doubly stochastic penalty
       `lambda * sum_i (1 - sum_t alpha_{t,i})^2` joins the loss
       (`attention_regularization=lambda > 0`, `DoublyStochasticRegularizer`).

    `caption()` returns one attention map per generated token (`[STOP]`
    included), `(length, H' * W')`, or `(length, H', W')` with
    `grid_attention=True`; `keras_seqattn.visualization.plot_caption_attention`
    draws them over the image.

    Args:
        tokenizer: `keras_seqattn.text.SequenceTokenizer` of the captions.
        image_size: `(height, width)` of the images. Defaults to `(64, 64)`.
        num_channels: 1 or 3. Defaults to `1`.
        embedding_dim: int, word embedding width. Defaults to `64`.
        hidden_dim: int, RNN state width. Defaults to `256`.
        attention_units: int or `None`, width of the attention MLP; `None` uses
            `hidden_dim`. Defaults to `None`.
        rnn_type: `"gru"` or `"lstm"`. Defaults to `"gru"`.
        dropout: float, word embedding dropout. Defaults to `0.0`.
        context_gate: bool, the gating scalar `beta`. Defaults to `True`.
        attention_regularization: float >= 0, `lambda` of the doubly
            stochastic penalty; `0` leaves it out. The paper uses `1` on a
            14x14 grid; on a small grid with short captions (`digit_scenes`:
            64 cells, 3-6 words) no cell can reach a total of 1, so keep it
            small. Defaults to `0.0`.
        backbone, filters, backbone_weights, trainable_backbone, feature_dim:
            the image encoder, as in `RNNCaptioner`.
        max_caption_length: int, most generated tokens, `[STOP]` included.
            Defaults to `16`.
        name: model name.

    Example:

    >>> from keras_seqattn.text import SequenceTokenizer
    >>> tokenizer = SequenceTokenizer.from_corpus(["seven three", "one two"])
    >>> model = AttentionCaptioner(
    ...     tokenizer, image_size=(32, 32), filters=(8, 16), hidden_dim=16
    ... )
    >>> result = model.caption(np.zeros((1, 32, 32, 1), "uint8"), max_length=4)
    >>> result.attention[0].shape[1]  # one weight per cell of the 8x8 grid
    64

    Reference:
        Xu et al. (2015), Show, Attend and Tell: Neural Image Caption Generation
        with Visual Attention.
    """

    def __init__(
        self,
        tokenizer,
        image_size=(64, 64),
        num_channels=1,
        embedding_dim=64,
        hidden_dim=256,
        attention_units=None,
        rnn_type="gru",
        dropout=0.0,
        context_gate=True,
        attention_regularization=0.0,
        backbone="small_cnn",
        filters=(32, 64, 128),
        backbone_weights=None,
        trainable_backbone=True,
        feature_dim=128,
        max_caption_length=16,
        name="attention_captioner",
        **kwargs,
    ):
        self._check_captioning_args(tokenizer, image_size, num_channels, max_caption_length)
        self._check_rnn_args(embedding_dim, hidden_dim, dropout, trainable_backbone, feature_dim)
        check_non_negative("attention_regularization", attention_regularization)
        # === Layers ===
        encoder = self._build_encoder(
            backbone, filters, backbone_weights, trainable_backbone, feature_dim
        )
        init_layers = self._build_init_layers(rnn_type, hidden_dim)
        decoder = AttentionRNNDecoder(
            tokenizer.vocabulary_size,
            embedding_dim,
            hidden_dim,
            attention_units=attention_units,
            rnn_type=rnn_type,
            dropout=dropout,
            context_gate=context_gate,
            name="decoder",
        )
        regularizer = DoublyStochasticRegularizer(
            attention_regularization, name="doubly_stochastic"
        )
        # === Functional model ===
        inputs = self._inputs(image_size, num_channels)
        features = encoder(inputs["images"])  # (batch, L, D)
        _, state = self._initial_state(init_layers, features)
        logits, attention = decoder(inputs["target_ids"], state, features)
        if attention_regularization > 0:
            real_steps = keras.ops.not_equal(inputs["target_ids"], 0)  # (batch, T)
            logits = regularizer(logits, attention, real_steps)
        super().__init__(inputs=inputs, outputs=logits, name=name, **kwargs)
        # === Config ===
        self.encoder, self.init_layers, self.decoder = encoder, init_layers, decoder
        self._init_captioning(tokenizer, image_size, num_channels, max_caption_length)
        self._init_rnn_config(
            embedding_dim=embedding_dim,
            hidden_dim=hidden_dim,
            attention_units=attention_units,
            rnn_type=rnn_type,
            dropout=dropout,
            context_gate=context_gate,
            attention_regularization=attention_regularization,
            backbone=backbone,
            filters=tuple(filters),
            backbone_weights=backbone_weights,
            trainable_backbone=trainable_backbone,
            feature_dim=feature_dim,
        )

    @property
    def grid_shape(self):
        return self.encoder.grid_shape(self.image_size)

    def encode(self, images):
        features = self.encoder(images)  # (batch, L, D)
        _, state = self._initial_state(self.init_layers, features)
        return (features, self.decoder.precompute(features)), state

    def decode_step(self, token_ids, state, memory, index):
        features, keys = memory
        return self.decoder.step(token_ids, state, features, keys)  # attention (batch, L)
