"""Seq2SeqRNN: the lecture's plain encoder-decoder with one fixed context."""

import keras
from keras import ops

from keras_seqattn.layers import ContextRNNDecoder
from keras_seqattn.models.rnn_seq2seq_model import RNNSeq2SeqModel


@keras.saving.register_keras_serializable(package="keras_seqattn")
class Seq2SeqRNN(RNNSeq2SeqModel):
    """RNN encoder-decoder whose decoder sees only the encoder's last state.

    The encoder's final state `h_S` is both the decoder's initial state `s_0` and
    the context `c` fed at every step: `s_t = g(y_{t-1}, s_{t-1}, c)`. This is the
    lecture's baseline, whose single vector must carry the whole source; compare
    it with `AttentionSeq2Seq` as sources grow longer.

    Args and inputs are those of `AttentionSeq2Seq`, without `score_mode`; the
    model has no attention, so `translate()` returns empty attention arrays.

    Example:

    >>> from keras_seqattn.text import SequenceTokenizer
    >>> src = SequenceTokenizer.from_corpus(["forty two", "seven"], mode="character")
    >>> tgt = SequenceTokenizer.from_corpus(["zweiundvierzig", "sieben"], mode="character")
    >>> model = Seq2SeqRNN(src, tgt, embedding_dim=8, hidden_dim=16)
    >>> len(model.translate(["seven"], max_length=4).text)
    1

    Reference:
        Sutskever, Vinyals, Le (2014), Sequence to Sequence Learning with Neural
        Networks; Cho et al. (2014).
    """

    def __init__(
        self,
        source_tokenizer,
        target_tokenizer,
        embedding_dim=128,
        hidden_dim=256,
        rnn_type="gru",
        bidirectional=False,
        dropout=0.0,
        max_source_length=64,
        max_target_length=64,
        name="seq2seq_rnn",
        **kwargs,
    ):
        self._check_seq2seq_args(
            source_tokenizer, target_tokenizer, max_source_length, max_target_length
        )
        # === Layers ===
        encoder = self._build_encoder(
            source_tokenizer, embedding_dim, hidden_dim, rnn_type, bidirectional, dropout
        )
        decoder = ContextRNNDecoder(
            target_tokenizer.vocabulary_size,
            embedding_dim,
            hidden_dim,
            rnn_type=rnn_type,
            dropout=dropout,
            name="decoder",
        )
        # === Functional model ===
        inputs = self._inputs()
        _, state = encoder(inputs["source_ids"])
        logits = decoder(inputs["target_ids"], state, state[0])
        super().__init__(inputs=inputs, outputs=logits, name=name, **kwargs)
        # === Config ===
        self.encoder, self.decoder = encoder, decoder
        self._init_seq2seq(source_tokenizer, target_tokenizer, max_source_length, max_target_length)
        self._init_rnn_config(embedding_dim, hidden_dim, rnn_type, bidirectional, dropout)

    def encode(self, source_ids):
        _, state = self.encoder(source_ids)
        return (state[0],), state  # memory = (c,), state = s_0

    def decode_step(self, token_ids, state, memory, index):
        (context,) = memory
        logits, new_state = self.decoder.step(token_ids, state, context)
        no_attention = ops.zeros((ops.shape(token_ids)[0], 0), dtype=logits.dtype)
        return logits, new_state, no_attention
