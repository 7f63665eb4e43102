"""The lecture's encoder: embedding + GRU/LSTM reading x_1..x_T into h_1..h_T."""

import keras
from keras import ops

from keras_seqattn.layers._checks import as_bool
from keras_seqattn.layers._rnn import (
    check_rnn_args,
    check_token_ids,
    make_rnn,
    num_states,
    right_padded,
)


@keras.saving.register_keras_serializable(package="keras_seqattn")
class RNNEncoder(keras.layers.Layer):
    """Embeds token ids and runs a GRU or LSTM over them.

    Returns every hidden state `h_1..h_T` (what an attention decoder attends to)
    and the final state `h_T` (the plain decoder's `s_0` and context `c`). Token id
    0 is padding: the RNN skips padded steps, so the final state is the state at
    each row's last real token, whatever the padding.

    With `bidirectional=True` a second RNN reads the sequence backwards; states
    and outputs of both directions are concatenated, so the width is `2 * units`.

    Args:
        vocabulary_size: int, number of token ids.
        embedding_dim: int, width of the token embeddings.
        units: int, width of the RNN state (per direction).
        rnn_type: `"gru"` or `"lstm"`. Defaults to `"gru"`.
        bidirectional: bool. Defaults to `False`.
        dropout: float, dropout on the embeddings. Defaults to `0.0`.
        **kwargs: other keyword arguments of `keras.layers.Layer`.

    Call arguments:
        token_ids: int `(batch, T)`, 0 for padding.
        training: Python boolean, dropout on when `True`.

    Returns:
        `(outputs, state)`: `outputs` is `(batch, T, hidden_dim)` and `state` a
        tuple of `(batch, hidden_dim)` tensors, `(h_T,)` for a GRU and
        `(h_T, c_T)` for an LSTM, with `hidden_dim = units * (2 if bidirectional
        else 1)`.

    Example:

    >>> encoder = RNNEncoder(vocabulary_size=20, embedding_dim=8, units=16)
    >>> outputs, state = encoder(np.array([[5, 6, 7, 0]]))
    >>> tuple(outputs.shape), len(state), tuple(state[0].shape)
    ((1, 4, 16), 1, (1, 16))

    Reference:
        Sutskever, Vinyals, Le (2014), Sequence to Sequence Learning with Neural
        Networks; Bahdanau et al. (2015), section 3.2 (bidirectional encoder).
    """

    def __init__(
        self,
        vocabulary_size,
        embedding_dim,
        units,
        rnn_type="gru",
        bidirectional=False,
        dropout=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_rnn_args(vocabulary_size, embedding_dim, units, rnn_type, dropout)
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.units = units
        self.rnn_type = rnn_type
        self.bidirectional = as_bool("bidirectional", bidirectional)
        self.dropout = dropout

    @property
    def hidden_dim(self):
        return self.units * (2 if self.bidirectional else 1)

    def build(self, token_ids_shape):
        if len(token_ids_shape) != 2:
            raise ValueError(
                "`token_ids` must have shape (batch, T). "
                f"Received: token_ids.shape={tuple(token_ids_shape)}"
            )
        self.embedding = keras.layers.Embedding(
            self.vocabulary_size,
            self.embedding_dim,
            mask_zero=True,
            name="token_embedding",
            dtype=self.dtype_policy,
        )
        self.embedding.build(token_ids_shape)
        self.embedding_dropout = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)
        rnn = make_rnn(self.rnn_type, self.units, f"{self.rnn_type}", self.dtype_policy)
        if self.bidirectional:
            rnn = keras.layers.Bidirectional(rnn, name="bidirectional", dtype=self.dtype_policy)
        self.rnn = rnn
        self.rnn.build(tuple(token_ids_shape) + (self.embedding_dim,))
        self.built = True

    def call(self, token_ids, training=None):
        check_token_ids(token_ids)
        mask = ops.not_equal(token_ids, 0)
        x = self.embedding_dropout(self.embedding(token_ids), training=training)
        if self._runs_unmasked(mask):
            return self._right_padded_gru(x, mask, training)
        outputs, *states = self.rnn(x, mask=mask, training=training)
        if self.bidirectional:
            n = num_states(self.rnn_type)
            forward, backward = states[:n], states[n:]
            states = [ops.concatenate([f, b], axis=-1) for f, b in zip(forward, backward)]
        return outputs, tuple(states)

    def _runs_unmasked(self, mask):
        """Whether `call` may take `_right_padded_gru`: on torch, eagerly, when it is exact.

        Keras's torch GRU runs a masked sequence through its generic Python loop,
        a cell `Layer.__call__` and `where`s per step (~40% of the
        AttentionSeq2Seq training step on `date_normalization`); unmasked it takes
        a lean loop of raw torch ops. TensorFlow and JAX compile the masked loop,
        so they keep it.
        """
        if keras.backend.backend() != "torch" or self.bidirectional or self.rnn_type != "gru":
            return False
        if getattr(mask, "device", None) is None or mask.device.type == "meta":
            return False  # a symbolic call: the masked path gives the same shapes
        return right_padded(mask)

    def _right_padded_gru(self, x, mask, training=None):
        """The masked GRU's results from an unmasked run, for right-padded sequences.

        Up to a row's last real position the unmasked outputs are the masked
        ones; the state is the output there; padded positions repeat it, as
        Keras's masked loop repeats the last output (a row of padding only:
        zero outputs and state). Exact for a GRU, whose state is its output.
        """
        # A view: the embedding's Keras mask does not ride along to the RNN.
        x = ops.reshape(x, ops.shape(x))
        outputs, _ = self.rnn(x, training=training)  # (batch, S, units)
        lengths = ops.sum(ops.cast(mask, "int32"), axis=1)  # (batch,)
        last_index = ops.maximum(lengths - 1, 0)[:, None, None]  # (batch, 1, 1)
        last = ops.take_along_axis(outputs, last_index, axis=1)[:, 0]  # (batch, units)
        last = ops.where(lengths[:, None] > 0, last, ops.zeros_like(last))
        outputs = ops.where(mask[:, :, None], outputs, last[:, None, :])
        return outputs, (last,)

    def compute_mask(self, token_ids, mask=None):
        return None

    def get_config(self):
        config = super().get_config()
        config.update(
            vocabulary_size=self.vocabulary_size,
            embedding_dim=self.embedding_dim,
            units=self.units,
            rnn_type=self.rnn_type,
            bidirectional=self.bidirectional,
            dropout=self.dropout,
        )
        return config
