"""Luong et al. (2015) global attention: the current state scores, an attentional state reads."""

import keras
from keras import ops

from keras_seqattn.layers._checks import as_bool, check_floating, check_positive_int
from keras_seqattn.layers._rnn import RNNDecoderBase, cell_step
from keras_seqattn.layers.bahdanau_attention import masked_softmax

SCORE_MODES = ("dot", "general", "concat")


@keras.saving.register_keras_serializable(package="keras_seqattn")
class LuongRNNDecoder(RNNDecoderBase):
    """GRU/LSTM decoder with the global attention of Luong et al. (2015).

    At step `t` (section 3.1, eqs. 5-8; input feeding, section 3.3):

    1. `h_t = g([E y_{t-1}; h~_{t-1}], h_{t-1})`: the RNN steps first, fed the
       previous attentional state (`input_feeding=True`; `h~_0 = 0`), or
       `E y_{t-1}` alone.
    2. Scores of the *current* state against every encoder state `h_s`:
       `dot` `h_t . h_s`, `general` `h_t . W_a h_s`, `concat`
       `v_a . tanh(W_a [h_t; h_s])` (as `v_a . tanh(W_q h_t + W_k h_s)`); softmax
       over the real (unpadded) positions: `a_t`.
    3. Context `c_t = sum_s a_{t,s} h_s`.
    4. Attentional state `h~_t = tanh(W_c [c_t; h_t])`, and `logits_t = W_o h~_t`.

    Against `AttentionRNNDecoder` (Bahdanau et al. 2015): Bahdanau scores the
    previous state `s_{t-1}` with an MLP and feeds the context into the RNN
    (`s_t = g([E y; c_t], s_{t-1})`, `logits = W_o [s_t; c_t]`); Luong runs the
    RNN first, scores its output `h_t`, and lets the context enter only through
    `h~_t`, which feeds the readout and, with input feeding, the next step.
    `W_a`, `W_q`, `W_k`, `v_a` and `W_c` have no biases, as in the paper.

    Args:
        vocabulary_size: int, target vocabulary size.
        embedding_dim: int, width of the target token embeddings.
        units: int, RNN state width (and of `h~_t`); with `score_mode="dot"`
            it must equal the encoder states' width.
        score_mode: `"dot"`, `"general"` or `"concat"`. Defaults to
            `"general"`, the paper's best global score.
        input_feeding: bool, feed `h~_{t-1}` into the RNN. Defaults to `True`.
        attention_units: int, width of the `concat` score's hidden layer.
            Defaults to `units`.
        rnn_type: `"gru"` or `"lstm"`. Defaults to `"gru"`.
        dropout: float, dropout on the target embeddings. Defaults to `0.0`.
        **kwargs: other keyword arguments of `keras.layers.Layer`.

    Call arguments:
        token_ids: int `(batch, T)`, the decoder inputs `[START] y_1 .. y_{T-1}`.
        initial_state: tuple of `(batch, units)` tensors (the encoder's final).
        values: encoder states `h_s`, `(batch, S, value_dim)`.
        padding_mask: optional boolean `(batch, S)`, `True` at real positions.
        training: Python boolean.

    Returns:
        `(logits, attention)`: `(batch, T, vocabulary_size)` and the weights
        `(batch, T, S)`, rows summing to 1 over real positions, 0 on padding.

    Example:

    >>> decoder = LuongRNNDecoder(vocabulary_size=30, embedding_dim=8, units=16)
    >>> h = np.random.rand(2, 5, 16).astype("float32")
    >>> s0 = np.random.rand(2, 16).astype("float32")
    >>> logits, attention = decoder(np.array([[2, 7, 9], [2, 5, 0]]), (s0,), h)
    >>> tuple(logits.shape), tuple(attention.shape)
    ((2, 3, 30), (2, 3, 5))

    Reference:
        Luong, Pham, Manning (2015), Effective Approaches to Attention-based
        Neural Machine Translation, sections 3.1 and 3.3.
    """

    def __init__(
        self,
        vocabulary_size,
        embedding_dim,
        units,
        score_mode="general",
        input_feeding=True,
        attention_units=None,
        rnn_type="gru",
        dropout=0.0,
        **kwargs,
    ):
        super().__init__(
            vocabulary_size, embedding_dim, units, rnn_type=rnn_type, dropout=dropout, **kwargs
        )
        if score_mode not in SCORE_MODES:
            raise ValueError(
                f"`score_mode` must be one of {SCORE_MODES}. Received: score_mode={score_mode!r}"
            )
        if attention_units is not None:
            check_positive_int("attention_units", attention_units)
        self.score_mode = score_mode
        self.input_feeding = as_bool("input_feeding", input_feeding)
        self.attention_units = attention_units
        # As AttentionRNNDecoder: TensorFlow's XLA cannot compile the training scan.
        if keras.backend.backend() == "tensorflow":
            self.supports_jit = False

    def build(
        self, token_ids_shape, initial_state_shape=None, values_shape=None, padding_mask_shape=None
    ):
        if values_shape is None or len(values_shape) != 3:
            raise ValueError(
                "LuongRNNDecoder needs `values` of shape (batch, S, value_dim). "
                f"Received: values.shape={values_shape}"
            )
        value_dim = values_shape[-1]
        if self.score_mode == "dot" and value_dim != self.units:
            raise ValueError(
                f"The `dot` score needs encoder states as wide as `units`={self.units}; use "
                f"`general` or `concat`. Received: values.shape={tuple(values_shape)}"
            )
        feed = self.units if self.input_feeding else 0
        self._build_rnn_parts(value_dim, self.embedding_dim + feed, self.units)
        dense = dict(use_bias=False, dtype=self.dtype_policy)
        hidden = self.attention_units or self.units
        self.key_dense = self.query_dense = self.score_vector = None
        if self.score_mode != "dot":
            width = self.units if self.score_mode == "general" else hidden
            self.key_dense = keras.layers.Dense(width, name="key_dense", **dense)  # W_a / W_k
            self.key_dense.build(values_shape)
        if self.score_mode == "concat":
            self.query_dense = keras.layers.Dense(hidden, name="query_dense", **dense)  # W_q
            self.query_dense.build((None, self.units))
            self.score_vector = self.add_weight(
                shape=(hidden,), initializer="glorot_uniform", name="score_vector"
            )  # v_a
        self.attentional_dense = keras.layers.Dense(
            self.units, activation="tanh", name="attentional_dense", **dense
        )  # W_c
        self.attentional_dense.build((None, value_dim + self.units))
        self.built = True

    def precompute(self, values):
        """What the scores need of `values`, once per source: `W_a h_s`, `W_k h_s` or `h_s`."""
        return values if self.key_dense is None else self.key_dense(values)

    def _prepare(self, values, keys, padding_mask):
        """`keys` computed if not given; padded positions zeroed (a NaN there stays out)."""
        check_floating("values", values)
        if padding_mask is not None and (
            len(padding_mask.shape) != 2 or not _same(padding_mask.shape[1], values.shape[1])
        ):
            raise ValueError(
                f"`padding_mask` must have shape (batch, {values.shape[1]}). "
                f"Received: padding_mask.shape={tuple(padding_mask.shape)}"
            )
        if keys is None:
            keys = self.precompute(values)
        if padding_mask is not None:
            padding_mask = ops.cast(padding_mask, "bool")
            keep = padding_mask[:, :, None]  # (batch, S, 1)
            values = ops.where(keep, values, ops.zeros_like(values))
            keys = ops.where(keep, keys, ops.zeros_like(keys))
        return values, keys, padding_mask

    def _scores(self, output, keys):
        """Step 2's scores `(batch, 1, S)` of `h_t` `(batch, units)`."""
        if self.score_mode == "concat":
            query = self.query_dense(output)[:, None, :]  # (batch, 1, hidden)
            return ops.einsum("bsh,h->bs", ops.tanh(query + keys), self.score_vector)[:, None]
        return ops.einsum("bu,bsu->bs", output, keys)[:, None]  # (batch, 1, S)

    def _recur(self, embedded, state, extra, values, keys, padding_mask, training):
        """Steps 1-4: `(state, (h~_t,) or (), (h~_t,), a_t (batch, 1, S))`."""
        inputs = ops.concatenate([embedded, extra[0]], axis=-1) if extra else embedded
        output, new_state = cell_step(self.rnn, inputs, state, training=training)  # h_t
        weights = masked_softmax(self._scores(output, keys), padding_mask, values.dtype)
        context = ops.matmul(weights, values)[:, 0]  # (batch, value_dim)
        attentional = self.attentional_dense(ops.concatenate([context, output], axis=-1))
        return new_state, (attentional,) if extra else (), (attentional,), weights

    def start_state(self, state):
        """The generation state of an encoder state: `state`, plus `h~_0 = 0` to feed."""
        state = self._check_state(state)
        return (*state, ops.zeros_like(state[0])) if self.input_feeding else state

    def step(self, token_ids, state, values, keys, padding_mask=None, training=None):
        """One decoder step.

        Args:
            token_ids: int `(batch,)`, the previous token.
            state: `start_state()` or the previous step's state: the RNN's
                tensors, then `h~_{t-1}` with input feeding.
            values: `(batch, S, value_dim)` encoder states.
            keys: `precompute(values)`.
            padding_mask: optional boolean `(batch, S)`.

        Returns:
            `(logits, new_state, attention)`: `(batch, vocabulary_size)`, the
            state tuple and the weights `(batch, S)`.
        """
        rnn_state, extra = (state[:-1], state[-1:]) if self.input_feeding else (state, ())
        rnn_state = self._check_state(rnn_state)
        values, keys, padding_mask = self._prepare(values, keys, padding_mask)
        new_state, extra, parts, weights = self._recur(
            self.embedding(token_ids), rnn_state, extra, values, keys, padding_mask, training
        )
        return self._readout(*parts), (*new_state, *extra), ops.squeeze(weights, 1)

    def call(self, token_ids, initial_state, values, padding_mask=None, training=None):
        self._check_inputs(token_ids, "values", values, context_rank=3)
        state = self._check_state(initial_state)
        values, keys, padding_mask = self._prepare(values, None, padding_mask)
        extra = (ops.zeros_like(state[0]),) if self.input_feeding else ()
        return self._teacher_forcing(
            token_ids,
            state,
            extra,
            lambda embedded, state, extra: self._recur(
                embedded, state, extra, values, keys, padding_mask, training
            ),
            (self.units,),
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
            score_mode=self.score_mode,
            input_feeding=self.input_feeding,
            attention_units=self.attention_units,
        )
        return config


def _same(a, b):
    return a is None or b is None or a == b
