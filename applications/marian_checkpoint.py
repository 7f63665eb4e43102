"""MarianMT (OPUS-MT) checkpoints of Hugging Face as `TransformerSeq2Seq` models.

`TransformerSeq2Seq.from_pretrained(path)` calls `load_marian`. It reads a
Hugging Face MarianMT directory (`config.json`, `model.safetensors`,
`source.spm`, `target.spm`, `vocab.json`, `tokenizer_config.json`, and
`generation_config.json` when present) with NumPy and `safetensors` only.

Marian differs from Vaswani et al. (2017), and from `TransformerSeq2Seq`'s
defaults, in these details; each is an argument of the model:

- activation: `swish` (SiLU) in the MLPs, not ReLU -> `activation="silu"`.
- positions: the sinusoids' sines fill the first half of the features and
  the cosines the second, not interleaved -> `position_layout="concatenated"`;
  positions start at 0, as ours.
- embedding scaling: `scale_embedding` (`True` in OPUS-MT) multiplies the
  embeddings by `sqrt(d_model)` -> `scale_embedding`.
- shared and tied embeddings: one matrix for source, target and output
  (`share_encoder_decoder_embeddings`, `tie_word_embeddings`) ->
  `share_embeddings`, `tie_output_embedding`.
- the final logits bias: `final_logits_bias` added to the tied logits ->
  `output_bias=True` (`LogitsBias`), or the bias of `output_dense` when the
  output is untied.
- special ids: `</s>` 0, `<unk>` 1, `<pad>` the last id (58100 in
  opus-mt-en-de); the source padding mask compares with the tokenizer's
  `pad_id` -> `keras_seqattn.text.MarianTokenizer`.
- the decoder start token is `<pad>` (`decoder_start_token_id`) ->
  `MarianTokenizer.start_id`.
- generation: `generation_config.json` (`bad_words_ids=[[pad]]`,
  `forced_eos_token_id`, `renormalize_logits`, ...), Hugging Face's beam
  search (finished hypotheses kept apart, `length ** alpha` length penalty,
  `early_stopping`) -> `generation_options` and `generation_defaults`; see
  `marian_generation`.

What the model cannot represent is refused with a `ValueError` naming the
config key: pre-norm blocks (`normalize_before`), embedding layer norms,
`add_bias_logits`, activations other than swish/silu/relu/gelu, encoder and
decoder of different sizes, vocabularies whose sizes disagree, separate
source and target vocabularies, a decoder start other than `<pad>`.
Dropout: `dropout` is used everywhere; `attention_dropout` and
`activation_dropout` (0 in OPUS-MT) only matter for fine-tuning.

Reference:
    Junczys-Dowmunt et al. (2018), Marian: Fast Neural Machine Translation in
    C++; Tiedemann & Thottingal (2020), OPUS-MT: Building open translation
    services for the World.
"""

import pathlib

from keras_seqattn.applications._vit_files import read_json
from keras_seqattn.applications.marian_generation import (
    checkpoint_generation_config,
    generation_settings,
)
from keras_seqattn.applications.marian_weights import assign_weights
from keras_seqattn.text import MarianTokenizer

_ACTIVATIONS = {"swish": "silu", "silu": "silu", "relu": "relu", "gelu": "gelu"}
# BART-family keys of older Marian configs that Marian itself leaves off.
_REFUSED_IF_TRUE = (
    "normalize_before",
    "normalize_embedding",
    "add_bias_logits",
    "add_final_layer_norm",
)
_FILES = ("config.json", "model.safetensors", "source.spm", "target.spm", "vocab.json")


def load_marian(path, max_source_length=None, max_target_length=None, model_class=None):
    """Builds a `TransformerSeq2Seq` from a Hugging Face MarianMT directory.

    Args:
        path: the directory (`huggingface_hub.snapshot_download(...)`'s).
        max_source_length: int or `None` for the config's
            `max_position_embeddings`.
        max_target_length: int or `None` likewise; the decoder's cache size.
        model_class: the class to build. Defaults to `TransformerSeq2Seq`.

    Returns:
        The model, its tokenizers `MarianTokenizer`s of the two SentencePiece
        models. Its `generation_config.json` (`marian_generation`) is applied
        exactly or refused by key: the processors as `model.generation_options`,
        `num_beams`, `length_penalty` and `max_length` as
        `model.generation_defaults`, what `translate()` and the export use
        unless told otherwise, so `translate(texts).text` is what
        `generate()` gives by default.

    Example:

    ```python
    from huggingface_hub import snapshot_download

    path = snapshot_download("Helsinki-NLP/opus-mt-en-de")
    model = TransformerSeq2Seq.from_pretrained(path)
    model.generation_defaults  # {"beam_width": 4, "length_penalty": 1.0, ...}
    result = model.translate(["I am a small frog."])  # generate()'s defaults
    result.text  # as MarianTokenizer.decode(model.generate(...), skip_special_tokens=True)
    ```
    """
    from safetensors.numpy import load_file

    if model_class is None:
        from keras_seqattn.applications.transformer_seq2seq import TransformerSeq2Seq

        model_class = TransformerSeq2Seq
    path = pathlib.Path(path)
    missing = [name for name in _FILES if not (path / name).is_file()]
    if missing:
        raise ValueError(
            f"A MarianMT directory needs {list(_FILES)}; {missing} are missing. "
            f"Received: path={str(path)!r}"
        )
    config = read_json(path / "config.json")
    tokenizer_config = _read_optional(path / "tokenizer_config.json", {})
    generation = checkpoint_generation_config(
        _read_optional(path / "generation_config.json", None), config
    )
    vocabulary = _vocabulary(read_json(path / "vocab.json"), config)
    tokens = {
        key: _token(tokenizer_config.get(key, default))
        for key, default in (("eos_token", "</s>"), ("unk_token", "<unk>"), ("pad_token", "<pad>"))
    }
    if tokenizer_config.get("separate_vocabs"):
        raise ValueError(
            "Separate source and target vocabularies are not supported. "
            "Received: tokenizer_config separate_vocabs=True"
        )
    source = MarianTokenizer((path / "source.spm").read_bytes(), vocabulary, **tokens)
    target = MarianTokenizer((path / "target.spm").read_bytes(), vocabulary, **tokens)
    kwargs = model_arguments(config, target)
    limit = config.get("max_position_embeddings", 512)
    lengths = {}
    for key, value in (
        ("max_source_length", max_source_length),
        ("max_target_length", max_target_length),
    ):
        lengths[key] = limit if value is None else value
        if not isinstance(lengths[key], int) or not 2 <= lengths[key] <= limit:
            raise ValueError(
                f"`{key}` must be an int in [2, max_position_embeddings={limit}]. "
                f"Received: {key}={value}"
            )
    options, defaults = generation_settings(generation, target, limit, lengths["max_target_length"])
    model = model_class(
        source,
        target,
        **kwargs,
        **lengths,
        generation_options=options,
        generation_defaults=defaults,
    )
    assign_weights(model, load_file(str(path / "model.safetensors")), config)
    return model


def model_arguments(config, target):
    """`TransformerSeq2Seq` arguments of a Marian `config.json` dict, checked."""
    if config.get("model_type") != "marian":
        raise ValueError(
            f"Expected a MarianMT config. Received: model_type={config.get('model_type')!r}"
        )
    for key in _REFUSED_IF_TRUE:
        if config.get(key):
            raise ValueError(
                f"TransformerSeq2Seq has Marian's post-norm blocks without extra layer norms "
                f"or logit biases; it cannot represent {key}=True. Received: {key}={config[key]}"
            )
    for encoder_key, decoder_key in (
        ("encoder_layers", "decoder_layers"),
        ("encoder_attention_heads", "decoder_attention_heads"),
        ("encoder_ffn_dim", "decoder_ffn_dim"),
    ):
        if config[encoder_key] != config[decoder_key]:
            raise ValueError(
                f"TransformerSeq2Seq needs `{encoder_key}` == `{decoder_key}`. "
                f"Received: {encoder_key}={config[encoder_key]}, "
                f"{decoder_key}={config[decoder_key]}"
            )
    activation = config.get("activation_function", "gelu")
    if activation not in _ACTIVATIONS:
        raise ValueError(
            f"`activation_function` must be one of {sorted(_ACTIVATIONS)}. "
            f"Received: activation_function={activation!r}"
        )
    shared = config.get("share_encoder_decoder_embeddings", True)
    vocabulary_size = config["vocab_size"]
    decoder_size = config.get("decoder_vocab_size") or vocabulary_size
    if decoder_size != vocabulary_size:
        raise ValueError(
            "Source and target vocabularies must have one size. Received: "
            f"vocab_size={vocabulary_size}, decoder_vocab_size={decoder_size}"
        )
    if config.get("decoder_start_token_id", target.pad_id) != target.pad_id:
        raise ValueError(
            f"Marian's decoder starts from its pad token (id {target.pad_id}). "
            f"Received: decoder_start_token_id={config['decoder_start_token_id']}"
        )
    for key, wanted in (("pad_token_id", target.pad_id), ("eos_token_id", target.stop_id)):
        if config.get(key, wanted) != wanted:
            raise ValueError(
                f"`{key}` must be the tokenizer's id of that token, {wanted}. "
                f"Received: {key}={config[key]}"
            )
    return dict(
        hidden_dim=config["d_model"],
        num_layers=config["encoder_layers"],
        num_heads=config["encoder_attention_heads"],
        intermediate_dim=config["encoder_ffn_dim"],
        dropout=float(config.get("dropout", 0.1)),
        normalize_first=False,
        position_mode="sinusoidal",
        position_layout="concatenated",
        activation=_ACTIVATIONS[activation],
        scale_embedding=bool(config.get("scale_embedding", False)),
        share_embeddings=bool(shared),
        tie_output_embedding=bool(config.get("tie_word_embeddings", True)),
        output_bias=bool(config.get("tie_word_embeddings", True)),
    )


def _vocabulary(encoder, config):
    """`vocab.json` (piece -> id) as the list of pieces by id, checked against the config."""
    size = config.get("vocab_size")
    ids = sorted(encoder.values())
    if ids != list(range(len(ids))):
        raise ValueError("vocab.json must map pieces to the ids 0..n-1. Received: gaps or repeats")
    if len(ids) != size:
        raise ValueError(
            f"vocab.json has {len(ids)} pieces but config.json says vocab_size={size}. "
            f"Received: vocab_size={size}"
        )
    vocabulary = [""] * len(ids)
    for piece, i in encoder.items():
        vocabulary[i] = piece
    return vocabulary


def _token(value):
    # tokenizer_config.json writes a special token as a str or as {"content": str, ...}.
    return value["content"] if isinstance(value, dict) else value


def _read_optional(path, default):
    """`read_json(path)`, or `default` when the directory has no such file."""
    return read_json(path) if path.is_file() else default
