"""The lecture's plain Seq2Seq decoder: one fixed context c = h_T at every step."""

import keras
from keras import ops

from keras_seqattn.layers._rnn import RNNDecoderBase, cell_step


@keras.saving.register_keras_serializable(package="keras_seqattn")
class ContextRNNDecoder(RNNDecoderBase):
    """GRU/LSTM decoder conditioned on one fixed context vector (Sutskever / Cho).

    `s_t = g([E y_{t-1}; c], s_{t-1})` and `logits_t = W_o [s_t; c]`, with the
    encoder's final state as both `s_0` and `c`. The same `c` enters every step:
    the whole source must fit in it, the bottleneck the lecture's attention
    removes.

    Two ways to run it, sharing the same weights:
    - `call()`: teacher forcing over a whole target (for `fit`);
    - `step()`: one token, for the generation engine.

    Args:
        vocabulary_size: int, target vocabulary size.
        embedding_dim: int, width of the target token embeddings.
        units: int, RNN state width; must equal the encoder's hidden width.
        rnn_type: `"gru"` or `"lstm"`. Defaults to `"gru"`.
        dropout: float, dropout on the target embeddings. Defaults to `0.0`.
        **kwargs: other keyword arguments of `keras.layers.Layer`.

    Call arguments:
        token_ids: int `(batch, T)`, the decoder inputs `[START] y_1 .. y_{T-1}`.
        initial_state: tuple of `(batch, units)` tensors, the encoder's final state.
        context: `(batch, context_dim)`, the fixed context `c`.
        training: Python boolean.

    Returns:
        logits `(batch, T, vocabulary_size)`.

    Example:

    >>> decoder = ContextRNNDecoder(vocabulary_size=30, embedding_dim=8, units=16)
    >>> h = np.random.rand(2, 16).astype("float32")
    >>> logits = decoder(np.array([[2, 7, 9], [2, 5, 0]]), (h,), h)
    >>> tuple(logits.shape)
    (2, 3, 30)

    Reference:
        Sutskever et al. (2014); Cho et al. (2014), Learning Phrase Representations
        using RNN Encoder-Decoder for Statistical Machine Translation, eq. (4).
    """

    def build(self, token_ids_shape, initial_state_shape=None, context_shape=None):
        if context_shape is None or len(context_shape) != 2:
            raise ValueError(
                "ContextRNNDecoder needs a `context` input of shape (batch, context_dim). "
                f"Received: context.shape={None if context_shape is None else tuple(context_shape)}"
            )
        self._build_rnn_parts(context_shape[-1])
        self.built = True

    def call(self, token_ids, initial_state, context, training=None):
        self._check_inputs(token_ids, "context", context, context_rank=2)
        state = self._check_state(initial_state)
        x = self.embedding_dropout(self.embedding(token_ids), training=training)
        steps = ops.shape(x)[1]
        repeated = ops.repeat(ops.expand_dims(context, 1), steps, axis=1)  # (batch, T, c)
        outputs, *_ = self.rnn(
            ops.concatenate([x, repeated], axis=-1),
            initial_state=list(state),
            training=training,
        )  # (batch, T, units)
        return self._readout(outputs, repeated)

    def step(self, token_ids, state, context, training=None):
        """One decoder step.

        Args:
            token_ids: int `(batch,)`, the previous token.
            state: tuple of `(batch, units)` tensors.
            context: `(batch, context_dim)`.

        Returns:
            `(logits, new_state)`: `(batch, vocabulary_size)` and the state tuple.
        """
        state = self._check_state(state)
        x = self.embedding(token_ids)  # (batch, embedding_dim)
        output, new_state = cell_step(
            self.rnn, ops.concatenate([x, context], axis=-1), state, training=training
        )
        return self._readout(output, context), new_state

    def compute_output_shape(self, token_ids_shape, initial_state_shape=None, context_shape=None):
        return tuple(token_ids_shape) + (self.vocabulary_size,)
