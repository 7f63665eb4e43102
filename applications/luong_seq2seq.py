"""LuongSeq2Seq: the RNN encoder-decoder with Luong et al. (2015) global attention."""

import keras
from keras import ops

from keras_seqattn.layers.luong_rnn_decoder import LuongRNNDecoder
from keras_seqattn.models.rnn_seq2seq_model import RNNSeq2SeqModel


@keras.saving.register_keras_serializable(package="keras_seqattn")
class LuongSeq2Seq(RNNSeq2SeqModel):
    """RNN encoder-decoder whose current state attends over the encoder states.

    `LuongRNNDecoder` runs the RNN first, scores its new state `h_t` against
    every `h_s` (`dot`, `general` or `concat`), and reads out through the
    attentional state `h~_t = tanh(W_c [c_t; h_t])`, which input feeding passes
    to the next step. `AttentionSeq2Seq` is the Bahdanau model it is set against:
    there the previous state is scored and the context enters the RNN. The
    encoder's final state is `h_0`; its states are the `h_s`.

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
        score_mode: `"dot"`, `"general"` or `"concat"`. Defaults to `"general"`.
        input_feeding: bool, feed `h~_{t-1}` into the decoder RNN. Defaults
            to `True`.
        dropout: float, embedding dropout. Defaults to `0.0`.
        max_source_length: int, source tokens kept (`[STOP]` included).
            Defaults to `64`.
        max_target_length: int, most generated tokens. Defaults to `64`.
        name: model name.

    Example:

    >>> from keras_seqattn.text import SequenceTokenizer
    >>> src = SequenceTokenizer.from_corpus(["forty two", "seven"], mode="character")
    >>> tgt = SequenceTokenizer.from_corpus(["zweiundvierzig", "sieben"], mode="character")
    >>> model = LuongSeq2Seq(src, tgt, embedding_dim=8, hidden_dim=16)
    >>> result = model.translate(["forty two"], max_length=5)
    >>> result.attention[0].shape[1]  # attention over the 10 source tokens
    10

    Reference:
        Luong, Pham, Manning (2015), Effective Approaches to Attention-based
        Neural Machine Translation.
    """

    def __init__(
        self,
        source_tokenizer,
        target_tokenizer,
        embedding_dim=128,
        hidden_dim=256,
        rnn_type="gru",
        bidirectional=False,
        score_mode="general",
        input_feeding=True,
        dropout=0.0,
        max_source_length=64,
        max_target_length=64,
        name="luong_seq2seq",
        **kwargs,
    ):
        self._check_seq2seq_args(
            source_tokenizer, target_tokenizer, max_source_length, max_target_length
        )
        # === Layers ===
        encoder = self._build_encoder(
            source_tokenizer, embedding_dim, hidden_dim, rnn_type, bidirectional, dropout
        )
        decoder = LuongRNNDecoder(
            target_tokenizer.vocabulary_size,
            embedding_dim,
            hidden_dim,
            score_mode=score_mode,
            input_feeding=input_feeding,
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
        self.input_feeding = input_feeding

    def encode(self, source_ids):
        values, state = self.encoder(source_ids)
        memory = (values, self.decoder.precompute(values), ops.not_equal(source_ids, 0))
        return memory, self.decoder.start_state(state)

    def decode_step(self, token_ids, state, memory, index):
        values, keys, padding_mask = memory
        return self.decoder.step(token_ids, state, values, keys, padding_mask)

    def get_config(self):
        config = super().get_config()
        config.update(score_mode=self.score_mode, input_feeding=self.input_feeding)
        return config
