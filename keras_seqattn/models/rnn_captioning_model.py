"""What the two RNN captioners share: the image encoder, the init MLP, the config."""

import keras
from keras import ops

from keras_seqattn.layers import ImageFeatureEncoder
from keras_seqattn.layers._checks import check_dropout
from keras_seqattn.layers._rnn import check_rnn_type, num_states
from keras_seqattn.layers.image_feature_encoder import check_weights
from keras_seqattn.models._arguments import check_flags, check_sizes
from keras_seqattn.models.captioning_model import CaptioningModel


class RNNCaptioningModel(CaptioningModel):
    """Base of `RNNCaptioner` and `AttentionCaptioner`: one CNN, one RNN config.

    The CNN (`ImageFeatureEncoder`, with a learned embedding per grid cell so
    that features say where they are, then an optional ReLU projection to
    `feature_dim`) gives the grid `a_1 .. a_L`; the decoder's
    initial state comes from their mean through one `tanh` layer per state
    tensor, `h_0 = tanh(W_h mean_i a_i + b_h)` (and `c_0` likewise for an LSTM),
    the paper's "init MLP".
    """

    @staticmethod
    def _check_rnn_args(embedding_dim, hidden_dim, dropout, trainable_backbone, feature_dim):
        """Raises a clear error, under the captioner's own names, before any layer is built."""
        check_sizes(embedding_dim=embedding_dim, hidden_dim=hidden_dim)
        if feature_dim is not None:
            check_sizes(feature_dim=feature_dim)
        check_flags(trainable_backbone=trainable_backbone)
        check_dropout(dropout)

    @staticmethod
    def _build_encoder(backbone, filters, backbone_weights, trainable_backbone, feature_dim):
        check_weights(backbone, backbone_weights, name="backbone_weights")
        return ImageFeatureEncoder(
            backbone=backbone,
            filters=filters,
            weights=backbone_weights,
            trainable_backbone=trainable_backbone,
            position_embedding=True,
            output_dim=feature_dim,
            name="image_encoder",
        )

    @staticmethod
    def _build_init_layers(rnn_type, hidden_dim):
        check_rnn_type(rnn_type)
        names = ("init_h", "init_c")[: num_states(rnn_type)]
        return [keras.layers.Dense(hidden_dim, activation="tanh", name=n) for n in names]

    @staticmethod
    def _initial_state(init_layers, features):
        """`(mean feature (batch, D), state tuple of (batch, hidden_dim))`."""
        mean = ops.mean(features, axis=1)  # (batch, D)
        return mean, tuple(layer(mean) for layer in init_layers)

    def _init_rnn_config(self, **settings):
        self._rnn_settings = dict(settings)
        for key, value in settings.items():
            setattr(self, key, value)

    def get_config(self):
        config = super().get_config()
        config.update(self._rnn_settings)
        config["filters"] = list(config["filters"])
        return config
