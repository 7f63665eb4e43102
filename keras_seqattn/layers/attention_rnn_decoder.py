"""The lecture's attention decoder: a new context c_t at every step (Bahdanau)."""

import keras
from keras import ops

from keras_seqattn.layers._checks import as_bool, check_positive_int
from keras_seqattn.layers._rnn import RNNDecoderBase, cell_step
from keras_seqattn.layers.bahdanau_attention import BahdanauAttention


@keras.saving.register_keras_serializable(package="keras_seqattn")
class AttentionRNNDecoder(RNNDecoderBase):
    """GRU/LSTM decoder that attends over the encoder states at every step.

    At step `t`, as in Bahdanau et al. (2015):

    1. `c_t, a_t = BahdanauAttention(s_{t-1}, h)`: scores of the previous state
       against every encoder state, softmax over real (unpadded) positions only.
    2. Optionally (`context_gate=True`, Xu et al. 2015, section 4.2.1), the
       gating scalar `beta_t = sigmoid(w_beta . s_{t-1} + b_beta)` scales the
       context: `c_t <- beta_t c_t`, letting the decoder weigh the image (or
       source) against its language model at each step.
    3. `s_t = g([E y_{t-1}; c_t], s_{t-1})`.
    4. `logits_t = W_o [s_t; c_t]`.

    Because `c_t` depends on `s_{t-1}`, teacher forcing cannot run the RNN over
    the whole target in one kernel call; `call()` runs the recurrence of
    `step()` (steps 1-3) inside `keras.ops.scan`, so training and generation
    share one code path. What does not depend on `s_{t-1}` stays out of the
    loop: `W_k h` and the zeroing of padded positions once per source sequence,
    the logits of step 4 as one matmul over all steps after it.

    Args:
        vocabulary_size: int, target vocabulary size.
        embedding_dim: int, width of the target token embeddings.
        units: int, RNN state width; must equal the encoder's hidden width when
            the encoder's final state is used as `s_0`.
        attention_units: int, width of the attention MLP. Defaults to `units`.
        score_mode: `"additive"`, `"dot"` or `"cosine"` (see
            `BahdanauAttention`). Defaults to `"additive"`.
        rnn_type: `"gru"` or `"lstm"`. Defaults to `"gru"`.
        dropout: float, dropout on the target embeddings. Defaults to `0.0`.
        context_gate: bool, gate the context with the scalar `beta_t` of step
            2. Defaults to `False`.
        **kwargs: other keyword arguments of `keras.layers.Layer`.

    Call arguments:
        token_ids: int `(batch, T)`, the decoder inputs `[START] y_1 .. y_{T-1}`.
        initial_state: tuple of `(batch, units)` tensors.
        values: encoder states `h`, `(batch, S, value_dim)`.
        padding_mask: optional boolean `(batch, S)`, `True` at real positions.
        training: Python boolean.

    Returns:
        `(logits, attention)`: `(batch, T, vocabulary_size)` and the attention
        weights `(batch, T, S)`; each row sums to 1 over real positions and is 0
        on padding.

    Example:

    >>> decoder = AttentionRNNDecoder(vocabulary_size=30, embedding_dim=8, units=16)
    >>> h = np.random.rand(2, 5, 16).astype("float32")
    >>> s0 = np.random.rand(2, 16).astype("float32")
    >>> logits, attention = decoder(np.array([[2, 7, 9], [2, 5, 0]]), (s0,), h)
    >>> tuple(logits.shape), tuple(attention.shape)
    ((2, 3, 30), (2, 3, 5))

    Reference:
        Bahdanau, Cho, Bengio (2015), Neural Machine Translation by Jointly
        Learning to Align and Translate, section 3.1.
    """

    def __init__(
        self,
        vocabulary_size,
        embedding_dim,
        units,
        attention_units=None,
        score_mode="additive",
        rnn_type="gru",
        dropout=0.0,
        context_gate=False,
        **kwargs,
    ):
        super().__init__(
            vocabulary_size, embedding_dim, units, rnn_type=rnn_type, dropout=dropout, **kwargs
        )
        if attention_units is not None:
            check_positive_int("attention_units", attention_units)
        self.attention_units = attention_units
        self.score_mode = score_mode
        self.context_gate = as_bool("context_gate", context_gate)
        # TensorFlow's XLA cannot compile the training `ops.scan` ("XLA compilation
        # requires a fixed tensor list size"): a model holding this layer then runs
        # `tf.function` without XLA, also where `jit_compile="auto"` would pick XLA
        # (a GPU) or `True` was asked. JAX's scan compiles; nothing changes there.
        if keras.backend.backend() == "tensorflow":
            self.supports_jit = False
        self.attention = BahdanauAttention(
            attention_units or units,
            score_mode=score_mode,
            name="attention",
            dtype=self.dtype_policy,
        )

    def build(
        self, token_ids_shape, initial_state_shape=None, values_shape=None, padding_mask_shape=None
    ):
        if values_shape is None or len(values_shape) != 3:
            raise ValueError(
                "AttentionRNNDecoder needs `values` of shape (batch, S, value_dim). "
                f"Received: values.shape={values_shape}"
            )
        self._build_rnn_parts(values_shape[-1])
        self.attention.build((None, self.units), tuple(values_shape))
        self.gate_dense = None
        if self.context_gate:
            self.gate_dense = keras.layers.Dense(
                1, activation="sigmoid", name="gate_dense", dtype=self.dtype_policy
            )
            self.gate_dense.build((None, self.units))
        self.built = True

    def precompute(self, values):
        """The attention keys `W_k h`, once per source sequence."""
        return self.attention.project_keys(values)

    def step(self, token_ids, state, values, keys, padding_mask=None, training=None):
        """One decoder step.

        Args:
            token_ids: int `(batch,)`, the previous token.
            state: tuple of `(batch, units)` tensors, `s_{t-1}` first.
            values: `(batch, S, value_dim)` encoder states.
            keys: `precompute(values)`, `(batch, S, attention_units)`.
            padding_mask: optional boolean `(batch, S)`.

        Returns:
            `(logits, new_state, attention)`: `(batch, vocabulary_size)`, the state
            tuple and the weights `(batch, S)`.
        """
        state = self._check_state(state)
        values, keys, padding_mask = self.attention.prepare(values, keys, padding_mask)
        new_state, _, parts, weights = self._recur(
            self.embedding(token_ids), state, (), values, keys, padding_mask, training
        )
        return self._readout(*parts), new_state, ops.squeeze(weights, 1)

    def _recur(self, embedded, state, extra, values, keys, padding_mask, training):
        """Steps 1-3 on prepared `values`/`keys`: `(state, (), (s_t, c_t), a_t (batch, 1, S))`."""
        query = ops.expand_dims(state[0], 1)  # (batch, 1, units)
        context, weights = self.attention.attend(
            query, values, keys, padding_mask, training=training
        )
        context = ops.squeeze(context, 1)  # (batch, value_dim)
        if self.gate_dense is not None:
            context = self.gate_dense(state[0]) * context  # beta_t: (batch, 1)
        output, new_state = cell_step(
            self.rnn,
            ops.concatenate([embedded, context], axis=-1),
            state,
            training=training,
        )
        return new_state, extra, (output, context), weights

    def call(self, token_ids, initial_state, values, padding_mask=None, training=None):
        self._check_inputs(token_ids, "values", values, context_rank=3)
        state = self._check_state(initial_state)
        # Checked, projected and padding zeroed once, not at every step.
        values, keys, padding_mask = self.attention.prepare(values, None, padding_mask)
        return self._teacher_forcing(
            token_ids,
            state,
            (),
            lambda embedded, state, extra: self._recur(
                embedded, state, extra, values, keys, padding_mask, training
            ),
            (self.units, values.shape[-1]),
            ops.shape(values)[1],
            training,
        )

    def compute_output_shape(
        self, token_ids_shape, initial_state_shape=None, values_shape=None, padding_mask_shape=None
    ):
        prefix = tuple(token_ids_shape)
        return prefix + (self.vocabulary_size,), prefix + (values_shape[1],)

    def get_config(self):
        config = super().get_config()
        config.update(
            attention_units=self.attention_units,
            score_mode=self.score_mode,
            context_gate=self.context_gate,
        )
        return config
