"""TransformerSeq2Seq: the lecture's Transformer encoder-decoder for translation."""

import dataclasses
import numbers

import keras
from keras import ops

from keras_seqattn.applications._generation_arguments import (
    check_generation_defaults,
    check_generation_options,
    config_entries,
    resolve,
)
from keras_seqattn.applications._transformer_layers import (  # noqa: F401 (shared API)
    build_decoder_layers,
    build_layers,
    decoder_logits,
    decoding_step,
    embed_tokens,
    run_encoder,
    start_decoding,
)
from keras_seqattn.applications._transformer_seq2seq_config import (
    _DEFAULT_OPTIONS,
    CONFIGS,
    _check_architecture,
    check_position,
)
from keras_seqattn.layers._checks import check_dropout, get_activation
from keras_seqattn.models._arguments import check_flags, check_sizes
from keras_seqattn.models.seq2seq_model import Seq2SeqModel
from keras_seqattn.models.transformer_layout_map import transformer_layout_map


@keras.saving.register_keras_serializable(package="keras_seqattn")
class TransformerSeq2Seq(Seq2SeqModel):
    """Encoder-decoder built from attention alone (Vaswani et al., 2017).

    1. Source and target tokens are embedded, scaled by `sqrt(hidden_dim)` and
       given positions (`PositionalEncoding`, sinusoidal as in the paper, or
       learned), then dropout.
    2. `num_layers` `TransformerEncoder` blocks: self-attention over the real
       (non-padding) source tokens, then an MLP.
    3. `num_layers` `TransformerDecoder` blocks: causal self-attention over the
       target prefix, cross-attention whose queries are the decoder states and
       whose keys and values are the encoder outputs, then an MLP.
    4. Next-token logits; with `tie_output_embedding=True` (the paper) the
       output matrix is the target embedding matrix transposed
       (`keras.layers.ReversibleEmbedding`).

    With `normalize_first=True` the blocks are pre-norm and each stack ends in a
    layer norm. Target padding needs no mask: it comes after the real tokens,
    and causal attention never looks ahead.

    Generation (`translate()`) runs the encoder once, precomputes every decoder
    block's cross-attention keys and values, and decodes one token per step
    against a fixed-size self-attention cache of `max_target_length` positions
    (`TransformerDecoder.step`), so a step costs one token, not the whole prefix.
    The attention it reports is the last decoder block's cross-attention:
    `result.attention[i]`, `(output_len, source_len)` averaged over heads, and
    `result.attention_heads[i]`, `(output_len, num_heads, source_len)`.

    Inputs of the training graph: `{"source_ids": (batch, S), "target_ids":
    (batch, T)}` (see `prepare()`); output: next-token logits `(batch, T, V)`.
    Named architectures are in `CONFIGS` (see `from_named_config()`).

    Args:
        source_tokenizer: `keras_seqattn.text.SequenceTokenizer` of the source.
        target_tokenizer: `keras_seqattn.text.SequenceTokenizer` of the target.
        hidden_dim: int, `d_model`. Defaults to `256`.
        num_layers: int, blocks in the encoder and in the decoder. Defaults to `3`.
        num_heads: int, attention heads; must divide `hidden_dim`. Defaults to `4`.
        intermediate_dim: int, MLP width `d_ff`. Defaults to `1024`.
        dropout: float, dropout on embeddings, attention weights and sublayer
            outputs. Defaults to `0.1`.
        normalize_first: bool, pre-norm blocks instead of the paper's post-norm.
            Defaults to `False`.
        position_mode: `"sinusoidal"` or `"learned"`. Defaults to `"sinusoidal"`.
        share_embeddings: bool, one embedding matrix for source and target; the
            two tokenizers must have the same vocabulary. Defaults to `False`.
        tie_output_embedding: bool, output logits from the target embedding
            matrix (no separate output layer, no bias). Defaults to `True`.
        max_source_length: int, source tokens kept (`[STOP]` included).
            Defaults to `64`.
        max_target_length: int, most generated tokens; also the size of the
            decoder's cache. Defaults to `64`.
        activation: the blocks' MLP activation (a Keras name: Marian's
            `"swish"` is `"silu"`). Defaults to `"relu"`, the paper's.
        position_layout: `"interleaved"` (the paper: sines at even features,
            cosines at odd ones) or `"concatenated"` (Marian: all sines, then
            all cosines); see `PositionalEncoding`. Defaults to `"interleaved"`.
        scale_embedding: bool, multiply the token embeddings by
            `sqrt(hidden_dim)`. Defaults to `True`, the paper's.
        output_bias: bool, add a learned bias to the tied output logits
            (Marian's `final_logits_bias`). Defaults to `False`, the paper's.
        generation_options: dict or `None`, options of
            `keras_seqattn.generation.generate()` that `translate()` and the
            export always use (`suppressed_ids`, `force_stop_at_end`,
            `length_penalty_form`, `finished_beams`, `early_stopping`, and
            the logits processors `repetition_penalty`,
            `no_repeat_ngram_size`, `bad_words`, `min_new_tokens`,
            `renormalize`). Defaults to `None`: the lecture's search.
        generation_defaults: dict or `None`, `translate()`'s and the export's
            defaults, some of `beam_width`, `length_penalty` and `max_length`
            (a converted checkpoint's `generation_config.json`). Defaults to
            `None`: greedy, no length penalty, `max_target_length` tokens.
        name: model name.

    Pretrained weights: `from_pretrained(path)` loads a Hugging Face MarianMT
    (OPUS-MT) directory, with its SentencePiece models as the tokenizers
    (`keras_seqattn.text.MarianTokenizer`); see
    `keras_seqattn.applications.marian_checkpoint` for how each of Marian's
    differences from the paper maps onto these arguments. The source padding
    mask compares with `source_tokenizer.pad_id` (0 for `SequenceTokenizer`).

    Example:

    >>> from keras_seqattn.text import SequenceTokenizer
    >>> src = SequenceTokenizer.from_corpus(["forty two", "seven"], mode="character")
    >>> tgt = SequenceTokenizer.from_corpus(["zweiundvierzig", "sieben"], mode="character")
    >>> model = TransformerSeq2Seq.from_named_config("transformer_tiny", src, tgt)
    >>> result = model.translate(["forty two"], max_length=5)
    >>> result.attention_heads[0].shape[1:]  # 4 heads over the 10 source tokens
    (4, 10)

    Reference:
        Vaswani et al. (2017), Attention Is All You Need;
        Junczys-Dowmunt et al. (2018), Marian: Fast Neural Machine Translation
        in C++; Tiedemann & Thottingal (2020), OPUS-MT: Building open
        translation services for the World.
    """

    def __init__(
        self,
        source_tokenizer,
        target_tokenizer,
        hidden_dim=256,
        num_layers=3,
        num_heads=4,
        intermediate_dim=1024,
        dropout=0.1,
        normalize_first=False,
        position_mode="sinusoidal",
        share_embeddings=False,
        tie_output_embedding=True,
        max_source_length=64,
        max_target_length=64,
        activation="relu",
        position_layout="interleaved",
        scale_embedding=True,
        output_bias=False,
        generation_options=None,
        generation_defaults=None,
        name="transformer_seq2seq",
        **kwargs,
    ):
        self._check_seq2seq_args(
            source_tokenizer, target_tokenizer, max_source_length, max_target_length
        )
        _check_architecture(hidden_dim, num_layers, num_heads)
        check_sizes(intermediate_dim=intermediate_dim)
        check_dropout(dropout)
        check_position(position_mode, position_layout)
        get_activation(activation)
        generation_options = check_generation_options(generation_options)
        generation_defaults = check_generation_defaults(generation_defaults, max_target_length)
        check_flags(
            share_embeddings=share_embeddings,
            tie_output_embedding=tie_output_embedding,
            normalize_first=normalize_first,
            scale_embedding=scale_embedding,
            output_bias=output_bias,
        )
        if output_bias and not tie_output_embedding:
            raise ValueError(
                "`output_bias=True` adds a bias to the tied output layer; an untied "
                "`output_dense` has its own. Received: output_bias=True, "
                "tie_output_embedding=False"
            )
        if share_embeddings and source_tokenizer.vocabulary != target_tokenizer.vocabulary:
            raise ValueError(
                "`share_embeddings=True` needs one vocabulary for both sides, but the "
                "tokenizers differ. Build them from the joint corpus, or pass "
                f"share_embeddings=False. Received: share_embeddings={share_embeddings}"
            )
        # === Layers ===
        options = dict(
            activation=activation,
            position_layout=position_layout,
            scale_embedding=scale_embedding,
            output_bias=output_bias,
        )
        layers = build_layers(
            source_tokenizer.vocabulary_size,
            target_tokenizer.vocabulary_size,
            hidden_dim,
            num_layers,
            num_heads,
            intermediate_dim,
            dropout,
            normalize_first,
            position_mode,
            share_embeddings,
            tie_output_embedding,
            max_source_length,
            max_target_length,
            **options,
        )
        # === Functional model ===
        inputs = self._inputs()
        source_mask = ops.not_equal(inputs["source_ids"], source_tokenizer.pad_id)
        memory = run_encoder(layers, inputs["source_ids"], source_mask)
        x = embed_tokens(layers, "target", inputs["target_ids"])
        for block in layers["decoder_layers"]:
            x = block(x, memory, encoder_padding_mask=source_mask)
        logits = decoder_logits(layers, x)
        super().__init__(inputs=inputs, outputs=logits, name=name, **kwargs)
        # === Config ===
        self._layers_by_role = layers
        self.encoder_layers = layers["encoder_layers"]
        self.decoder_layers = layers["decoder_layers"]
        self.target_embedding = layers["target_embedding"]
        self.output_dense = layers["output_dense"]
        self._init_seq2seq(source_tokenizer, target_tokenizer, max_source_length, max_target_length)
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.normalize_first = normalize_first
        self.position_mode = position_mode
        self.share_embeddings = share_embeddings
        self.tie_output_embedding = tie_output_embedding
        self._options = options
        self._generation_options = generation_options
        self.generation_defaults = generation_defaults

    @classmethod
    def from_named_config(cls, config_name, source_tokenizer, target_tokenizer, **kwargs):
        """Builds one of the `CONFIGS` architectures; `kwargs` override its values."""
        if config_name not in CONFIGS:
            raise ValueError(
                f"`config_name` must be one of {sorted(CONFIGS)}. "
                f"Received: config_name={config_name}"
            )
        return cls(source_tokenizer, target_tokenizer, **{**CONFIGS[config_name], **kwargs})

    @classmethod
    def from_pretrained(cls, path, max_source_length=None, max_target_length=None):
        """Loads a Hugging Face MarianMT directory (OPUS-MT, e.g. Helsinki-NLP/opus-mt-en-de).

        Reads `config.json`, `model.safetensors`, `source.spm`, `target.spm`,
        `vocab.json` and `tokenizer_config.json` (and `generation_config.json`
        when present: `generation_options` and `generation_defaults`) with
        NumPy only: neither torch nor transformers is needed. Lengths left
        `None` are the checkpoint's `max_position_embeddings`. See
        `marian_checkpoint.load_marian`.
        """
        from keras_seqattn.applications.marian_checkpoint import load_marian

        return load_marian(path, max_source_length, max_target_length, model_class=cls)

    def encode(self, source_ids):
        source_ids = ops.convert_to_tensor(source_ids, dtype="int32")
        source_mask = ops.not_equal(source_ids, self.source_tokenizer.pad_id)
        encoded = run_encoder(self._layers_by_role, source_ids, source_mask)
        cross, state = start_decoding(self.decoder_layers, encoded, self.max_target_length)
        return (source_mask, *cross), state

    def decode_step(self, token_ids, state, memory, index):
        source_mask, cross = memory[0], memory[1:]
        logits, state, maps = decoding_step(
            self._layers_by_role, token_ids, state, cross, index, source_mask
        )
        return logits, state, maps[-1]  # maps[-1]: (B, h, S), the last block's

    def generate_ids(self, inputs, max_length, *args, **kwargs):
        if isinstance(max_length, numbers.Integral) and max_length > self.max_target_length:
            raise ValueError(
                "The decoder caches `max_target_length` positions, so `max_length` "
                f"cannot exceed {self.max_target_length}. Received: max_length={max_length}"
            )
        return super().generate_ids(inputs, max_length, *args, **kwargs)

    def translate(self, texts, max_length=None, beam_width=None, length_penalty=None):
        """`Seq2SeqModel.translate`, with head-averaged and per-head attention.

        Arguments left `None` come from `generation_defaults` (a converted
        checkpoint's `num_beams`, `length_penalty`, `max_length`), else greedy
        search, no length penalty and `max_target_length` tokens.

        `result.attention[i]` is `(output_len, source_len)`, the last decoder
        block's cross-attention averaged over heads (what
        `plot_attention_heatmap` draws); `result.attention_heads[i]` is
        `(output_len, num_heads, source_len)`.
        """
        settings = resolve(self.generation_defaults, max_length, beam_width, length_penalty)
        result = super().translate(texts, *settings)
        return dataclasses.replace(
            result,
            attention=[a.mean(axis=1) for a in result.attention],
            attention_heads=result.attention,
        )

    # The Megatron sharding of every Transformer application, for
    # `keras.distribution.ModelParallel`: see `transformer_layout_map`.
    get_layout_map = staticmethod(transformer_layout_map)

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_dim=self.hidden_dim,
            num_layers=self.num_layers,
            num_heads=self.num_heads,
            intermediate_dim=self.intermediate_dim,
            dropout=self.dropout,
            normalize_first=self.normalize_first,
            position_mode=self.position_mode,
            share_embeddings=self.share_embeddings,
            tie_output_embedding=self.tie_output_embedding,
        )
        # Only what differs from the paper's defaults: older files lack these keys.
        config.update({k: v for k, v in self._options.items() if v != _DEFAULT_OPTIONS[k]})
        config.update(config_entries(self._generation_options, self.generation_defaults))
        return config
