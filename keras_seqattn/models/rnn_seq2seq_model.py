"""What the two RNN translation models share: the encoder and its settings."""

from keras_seqattn.layers import RNNEncoder
from keras_seqattn.layers._checks import check_dropout
from keras_seqattn.models._arguments import check_flags, check_sizes
from keras_seqattn.models.seq2seq_model import Seq2SeqModel


class RNNSeq2SeqModel(Seq2SeqModel):
    """Base of `Seq2SeqRNN` and `AttentionSeq2Seq`: one RNN encoder, one config.

    `hidden_dim` is the decoder's state width; a bidirectional encoder runs
    `hidden_dim // 2` units per direction so its concatenated final state can be
    the decoder's `s_0`.
    """

    @staticmethod
    def _build_encoder(
        source_tokenizer, embedding_dim, hidden_dim, rnn_type, bidirectional, dropout
    ):
        check_sizes(embedding_dim=embedding_dim, hidden_dim=hidden_dim)
        check_flags(bidirectional=bidirectional)
        check_dropout(dropout)
        if bidirectional and hidden_dim % 2:
            raise ValueError(
                "A bidirectional encoder needs an even `hidden_dim`. "
                f"Received: hidden_dim={hidden_dim!r}"
            )
        return RNNEncoder(
            source_tokenizer.vocabulary_size,
            embedding_dim,
            hidden_dim // 2 if bidirectional else hidden_dim,
            rnn_type=rnn_type,
            bidirectional=bidirectional,
            dropout=dropout,
            name="encoder",
        )

    def _init_rnn_config(self, embedding_dim, hidden_dim, rnn_type, bidirectional, dropout):
        self.embedding_dim = embedding_dim
        self.hidden_dim = hidden_dim
        self.rnn_type = rnn_type
        self.bidirectional = bidirectional
        self.dropout = dropout

    def get_config(self):
        config = super().get_config()
        config.update(
            embedding_dim=self.embedding_dim,
            hidden_dim=self.hidden_dim,
            rnn_type=self.rnn_type,
            bidirectional=self.bidirectional,
            dropout=self.dropout,
        )
        return config
