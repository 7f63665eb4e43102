"""What the RNN encoder and decoders share: building a GRU/LSTM and stepping it."""

import keras
from keras import ops

from keras_seqattn.layers._checks import (
    check_dim,
    check_dropout,
    check_integer,
    check_positive_int,
    check_rank,
)

RNN_TYPES = ("gru", "lstm")


def check_rnn_type(rnn_type):
    if rnn_type not in RNN_TYPES:
        raise ValueError(f"`rnn_type` must be one of {RNN_TYPES}. Received: rnn_type={rnn_type!r}")


def check_rnn_args(vocabulary_size, embedding_dim, units, rnn_type, dropout):
    """The argument checks every RNN encoder and decoder shares."""
    for name, value in [
        ("vocabulary_size", vocabulary_size),
        ("embedding_dim", embedding_dim),
        ("units", units),
    ]:
        check_positive_int(name, value)
    check_rnn_type(rnn_type)
    check_dropout(dropout)


def check_token_ids(token_ids):
    """Int `(batch, T)` token ids; an embedding would silently truncate floats."""
    check_rank("token_ids", token_ids, 2, "(batch, T)")
    check_integer("token_ids", token_ids)


def right_padded(mask):
    """Whether every row of the boolean `(batch, T)` `mask` is `True`s, then `False`s (eager)."""
    lengths = ops.sum(ops.cast(mask, "int32"), axis=1, keepdims=True)  # (batch, 1)
    positions = ops.arange(ops.shape(mask)[1], dtype="int32")[None, :]  # (1, T)
    return bool(ops.convert_to_numpy(ops.all(ops.equal(mask, positions < lengths))))


def num_states(rnn_type):
    """GRU carries one state (h); LSTM two (h, c)."""
    return 1 if rnn_type == "gru" else 2


def make_rnn(rnn_type, units, name, dtype, return_sequences=True):
    layer = keras.layers.GRU if rnn_type == "gru" else keras.layers.LSTM
    return layer(
        units, return_sequences=return_sequences, return_state=True, name=name, dtype=dtype
    )


def cell_step(rnn, inputs, state, training=None):
    """One step of `rnn`'s cell, sharing the layer's weights.

    Args:
        rnn: a built `keras.layers.GRU` or `keras.layers.LSTM`.
        inputs: `(batch, input_dim)`.
        state: tuple of `(batch, units)` tensors: `(h,)` or `(h, c)`.

    Returns:
        `(output, new_state)`, `output` is `(batch, units)`, `new_state` a tuple.
    """
    output, new_state = rnn.cell(inputs, list(state), training=training)
    if not isinstance(new_state, (list, tuple)):
        new_state = [new_state]
    return output, tuple(new_state)


class RNNDecoderBase(keras.layers.Layer):
    """The RNN decoders' embedding, GRU/LSTM, output projection and time loop.

    A decoder says only what is particular to it:

    - its wiring, by the widths it gives `_build_rnn_parts(context_dim,
      rnn_input_dim, readout_dim)`: by default the RNN reads `[E y_{t-1}; c]`
      and the logits `W_o [s_t; c_t]` (Bahdanau's and Cho's wiring);
    - its step, `recur(embedded, state, extra) -> (new_state, new_extra,
      readout_parts, weights)`, which `_teacher_forcing()` runs over the whole
      target inside `keras.ops.scan` (so training and generation share one code
      path) and `step()` of the subclass runs once per generated token; `extra`
      is what a decoder carries besides the RNN state (Luong's attentional
      state for input feeding), `readout_parts` what `_readout()` turns into
      logits, concatenated, after the loop (one matmul over all steps).

    `context_dim` is the width of the context (or the attended values) the
    decoder was built for, checked on every call.
    """

    def __init__(
        self, vocabulary_size, embedding_dim, units, rnn_type="gru", dropout=0.0, **kwargs
    ):
        super().__init__(**kwargs)
        check_rnn_args(vocabulary_size, embedding_dim, units, rnn_type, dropout)
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.units = units
        self.rnn_type = rnn_type
        self.dropout = dropout

    def _build_rnn_parts(self, context_dim, rnn_input_dim=None, readout_dim=None):
        """`embedding`, `rnn` and `output_dense`, for a context of `context_dim`.

        `rnn_input_dim` defaults to `embedding_dim + context_dim` (`[E y; c]`),
        `readout_dim` to `units + context_dim` (`[s_t; c_t]`).
        """
        self.context_dim = context_dim
        self.embedding = keras.layers.Embedding(
            self.vocabulary_size,
            self.embedding_dim,
            name="token_embedding",
            dtype=self.dtype_policy,
        )
        self.embedding.build((None, None))
        self.embedding_dropout = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)
        self.rnn = make_rnn(self.rnn_type, self.units, self.rnn_type, self.dtype_policy)
        self.rnn.build((None, None, rnn_input_dim or self.embedding_dim + context_dim))
        self.output_dense = keras.layers.Dense(
            self.vocabulary_size, name="output_dense", dtype=self.dtype_policy
        )
        self.output_dense.build((None, readout_dim or self.units + context_dim))

    def _check_state(self, state):
        expected = num_states(self.rnn_type)
        if not isinstance(state, (list, tuple)) or len(state) != expected:
            raise ValueError(
                f"A {self.rnn_type} decoder takes a state tuple of {expected} tensor(s) "
                f"of shape (batch, {self.units}). Received: state={state}"
            )
        for tensor in state:
            if len(tensor.shape) != 2 or tensor.shape[-1] not in (None, self.units):
                raise ValueError(
                    f"Each state tensor must have shape (batch, {self.units}); the "
                    "encoder's width must equal the decoder's `units`. "
                    f"Received: state shapes={[tuple(t.shape) for t in state]}"
                )
        return tuple(state)

    def _check_inputs(self, token_ids, context_name, context, context_rank):
        """`token_ids` `(batch, T)` ints; `context` of `context_rank` and the built width."""
        check_token_ids(token_ids)
        layout = "(batch, context_dim)" if context_rank == 2 else "(batch, S, value_dim)"
        check_rank(context_name, context, context_rank, layout)
        what = "context_dim" if context_rank == 2 else "value_dim"
        check_dim(context_name, context, -1, self.context_dim, what)

    def _readout(self, *parts):
        """Logits `W_o [part_1; part_2; ...]` of one step `(batch, ...)` or all."""
        if len(parts) == 1:
            return self.output_dense(parts[0])
        return self.output_dense(ops.concatenate(parts, axis=-1))

    def _teacher_forcing(self, token_ids, state, extra, recur, readout_dims, length, training):
        """Logits `(batch, T, V)` and weights `(batch, T, S)` of `recur` over `token_ids`.

        Only what depends on the previous step runs in the loop. Keras's
        TensorFlow `scan` needs each step's output to have the carry's
        structure, so the readout parts and the weights ride in the carry and the
        stacked carries are the outputs.

        Args:
            token_ids: int `(batch, T)`, the decoder inputs.
            state: the RNN's initial state tuple.
            extra: tuple of `(batch, ...)` tensors `recur` carries besides it.
            recur: the decoder's step (see the class docstring).
            readout_dims: the widths of `recur`'s readout parts.
            length: `S`, the attended positions (the weights' last axis).
        """
        x = self.embedding_dropout(self.embedding(token_ids), training=training)
        time_major = ops.transpose(x, (1, 0, 2))  # (T, batch, embedding_dim)
        batch = ops.shape(token_ids)[0]
        zeros = tuple(ops.zeros((batch, dim), dtype=x.dtype) for dim in readout_dims)
        carry = (state, extra, zeros, ops.zeros((batch, 1, length), dtype=x.dtype))

        def scan_step(carry, embedded):
            new_state, new_extra, parts, weights = recur(embedded, carry[0], carry[1])
            new_carry = (new_state, new_extra, tuple(parts), ops.cast(weights, x.dtype))
            return new_carry, new_carry

        _, (_, _, parts, weights) = ops.scan(scan_step, carry, time_major)
        logits = self._readout(*parts)  # (T, batch, V)
        # (T, batch, V) and (T, batch, 1, S) back to batch-major.
        return ops.transpose(logits, (1, 0, 2)), ops.transpose(weights[:, :, 0], (1, 0, 2))

    def get_config(self):
        config = super().get_config()
        config.update(
            vocabulary_size=self.vocabulary_size,
            embedding_dim=self.embedding_dim,
            units=self.units,
            rnn_type=self.rnn_type,
            dropout=self.dropout,
        )
        return config
