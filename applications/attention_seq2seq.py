"""AttentionSeq2Seq: the lecture's RNN encoder-decoder with Bahdanau attention."""

import keras
from keras import ops

from keras_seqattn.layers import AttentionRNNDecoder
from keras_seqattn.models.rnn_seq2seq_model import RNNSeq2SeqModel


@keras.saving.register_keras_serializable(package="keras_seqattn")
class AttentionSeq2Seq(RNNSeq2SeqModel):
    """RNN encoder-decoder that builds a new context `c_t` at every output step.

    The encoder's states `h_1..h_S` stay available to the decoder; at each step
    additive attention between `s_{t-1}` and every `h_i` gives weights `a_{t,i}`
    (a `(target x source)` heat map over the whole output) and the context
    `c_t = sum_i a_{t,i} h_i`. `s_0` is the encoder's final state.

    Inputs of the training graph: `{"source_ids": (batch, S), "target_ids":
    (batch, T)}` (see `prepare()`); output: next-token logits `(batch, T, V)`.

    Args:
        source_tokenizer: `keras_seqattn.text.SequenceTokenizer` of the source.
        target_tokenizer: `keras_seqattn.text.SequenceTokenizer` of the target.
        embedding_dim: int, token embedding width. Defaults to `128`.
        hidden_dim: int, RNN state width (the decoder's; a bidirectional encoder
            uses `hidden_dim // 2` per direction). Defaults to `256`.
        rnn_type: `"gru"` or `"lstm"`. Defaults to `"gru"`.
        bidirectional: bool, bidirectional encoder. Defaults to `False`.
        score_mode: attention score, `"additive"`, `"dot"` or `"cosine"`.
            Defaults to `"additive"`.
        dropout: float, embedding dropout. Defaults to `0.0`.
        max_source_length: int, source tokens kept (`[STOP]` included).
            Defaults to `64`.
        max_target_length: int, most generated tokens. Defaults to `64`.
        name: model name.

    Example:

    >>> from keras_seqattn.text import SequenceTokenizer
    >>> src = SequenceTokenizer.from_corpus(["forty two", "seven"], mode="character")
    >>> tgt = SequenceTokenizer.from_corpus(["zweiundvierzig", "sieben"], mode="character")
    >>> model = AttentionSeq2Seq(src, tgt, embedding_dim=8, hidden_dim=16)
    >>> result = model.translate(["forty two"], max_length=5)
    >>> result.attention[0].shape[1]  # attention over the 10 source tokens
    10

    Reference:
        Bahdanau, Cho, Bengio (2015), Neural Machine Translation by Jointly
        Learning to Align and Translate.
    """

    def __init__(
        self,
        source_tokenizer,
        target_tokenizer,
        embedding_dim=128,
        hidden_dim=256,
        rnn_type="gru",
        bidirectional=False,
        score_mode="additive",
        dropout=0.0,
        max_source_length=64,
        max_target_length=64,
        name="attention_seq2seq",
        **kwargs,
    ):
        self._check_seq2seq_args(
            source_tokenizer, target_tokenizer, max_source_length, max_target_length
        )
        # === Layers ===
        encoder = self._build_encoder(
            source_tokenizer, embedding_dim, hidden_dim, rnn_type, bidirectional, dropout
        )
        decoder = AttentionRNNDecoder(
            target_tokenizer.vocabulary_size,
            embedding_dim,
            hidden_dim,
            score_mode=score_mode,
            rnn_type=rnn_type,
            dropout=dropout,
            name="decoder",
        )
        # === Functional model ===
        inputs = self._inputs()
        values, state = encoder(inputs["source_ids"])
        padding_mask = ops.not_equal(inputs["source_ids"], 0)
        logits, _ = decoder(inputs["target_ids"], state, values, padding_mask)
        super().__init__(inputs=inputs, outputs=logits, name=name, **kwargs)
        # === Config ===
        self.encoder, self.decoder = encoder, decoder
        self._init_seq2seq(source_tokenizer, target_tokenizer, max_source_length, max_target_length)
        self._init_rnn_config(embedding_dim, hidden_dim, rnn_type, bidirectional, dropout)
        self.score_mode = score_mode

    def encode(self, source_ids):
        values, state = self.encoder(source_ids)
        memory = (values, self.decoder.precompute(values), ops.not_equal(source_ids, 0))
        return memory, state

    def decode_step(self, token_ids, state, memory, index):
        values, keys, padding_mask = memory
        return self.decoder.step(token_ids, state, values, keys, padding_mask)

    def get_config(self):
        config = super().get_config()
        config.update(score_mode=self.score_mode)
        return config
