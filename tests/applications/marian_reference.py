"""A tiny random Hugging Face MarianMT directory, built here with no network.

`make_marian_directory(path)` trains two SentencePiece unigram models on
English and German number words, writes `vocab.json` and
`tokenizer_config.json` as `transformers.MarianTokenizer` expects, and saves a
`MarianMTModel` of OPUS-MT's layout (swish, scaled and shared embeddings, a
final logits bias, `<pad>` last and the decoder's start) from a random
initialisation trained for 80 steps (2 s), and a random final logits bias.
"""

import io
import json
import warnings

import numpy as np
import sentencepiece
from num2words import num2words

SOURCE_SENTENCES = ["three hundred and twelve", "forty-two", "seven", "one thousand and one"]


def corpus(language):
    return [num2words(n, lang=language) for n in range(0, 1000, 3)]


def _train(texts, size):
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(texts),
        model_writer=model,
        vocab_size=size,
        model_type="unigram",
        hard_vocab_limit=False,
        character_coverage=1.0,
        num_threads=1,
        minloglevel=2,
    )
    return model.getvalue()


def _pieces(proto):
    processor = sentencepiece.SentencePieceProcessor()
    processor.LoadFromSerializedProto(proto)
    return [processor.IdToPiece(i) for i in range(3, processor.GetPieceSize())]


def make_marian_directory(path, seed=0, generation=None, **config_overrides):
    """Writes the directory; returns the `transformers` config it used.

    `generation`: extra `generation_config.json` keys (`renormalize_logits`, ...).
    """
    import torch
    import transformers

    source, target = _train(corpus("en"), 60), _train(corpus("de"), 60)
    (path / "source.spm").write_bytes(source)
    (path / "target.spm").write_bytes(target)
    pieces = ["</s>", "<unk>"]
    for piece in _pieces(source) + _pieces(target):
        if piece not in pieces:
            pieces.append(piece)
    pieces.append("<pad>")
    (path / "vocab.json").write_text(json.dumps({p: i for i, p in enumerate(pieces)}))
    pad = len(pieces) - 1
    (path / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "source_lang": "en",
                "target_lang": "de",
                "model_max_length": 64,
                "separate_vocabs": False,
                "eos_token": "</s>",
                "unk_token": "<unk>",
                "pad_token": "<pad>",
                "tokenizer_class": "MarianTokenizer",
            }
        )
    )
    settings = dict(
        vocab_size=len(pieces),
        d_model=16,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=64,
        activation_function="swish",
        scale_embedding=True,
        pad_token_id=pad,
        decoder_start_token_id=pad,
        eos_token_id=0,
        forced_eos_token_id=0,
        share_encoder_decoder_embeddings=True,
    )
    settings.update(config_overrides)
    config = transformers.MarianConfig(**settings)
    torch.manual_seed(seed)
    model = transformers.MarianMTModel(config)
    with warnings.catch_warnings():  # "Recommended: pip install sacremoses." (unused here)
        warnings.simplefilter("ignore", UserWarning)
        tokenizer = transformers.MarianTokenizer(
            str(path / "source.spm"), str(path / "target.spm"), str(path / "vocab.json")
        )
    _train_briefly(model, tokenizer)
    with torch.no_grad():
        generator = torch.Generator().manual_seed(seed)
        # A random final logits bias (a buffer, untrained), so that loading it counts.
        bias = torch.randn(model.final_logits_bias.shape, generator=generator) * 0.3
        model.final_logits_bias.copy_(bias)
    model.generation_config.bad_words_ids = [[pad]]
    model.generation_config.forced_eos_token_id = 0
    model.generation_config.num_beams = 4
    model.generation_config.max_length = 64
    for key, value in (generation or {}).items():
        setattr(model.generation_config, key, value)
    model.save_pretrained(path)
    return config


def _train_briefly(model, tokenizer, steps=80):
    """80 Adam steps (2 s) on English -> German number words from the random init,
    so that outputs differ by input, stop at different lengths and beams differ
    from greedy; random weights alone give one repeated token or none."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    pairs = tokenizer(corpus("en"), text_target=corpus("de"), return_tensors="pt", padding=True)
    labels = pairs["labels"].masked_fill(pairs["labels"] == tokenizer.pad_token_id, -100)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-2)
    generator = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(steps):
        rows = torch.randint(0, len(labels), (64,), generator=generator)
        loss = model(
            input_ids=pairs["input_ids"][rows],
            attention_mask=pairs["attention_mask"][rows],
            labels=labels[rows],
        ).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    torch.set_num_threads(threads)


def reference_logits(model, source_ids, target_ids, pad_id):
    """transformers' logits `(B, T, V)` as NumPy."""
    import torch

    source = torch.tensor(np.asarray(source_ids, "int64"))
    with torch.no_grad():
        out = model(
            input_ids=source,
            attention_mask=(source != pad_id).long(),
            decoder_input_ids=torch.tensor(np.asarray(target_ids, "int64")),
        )
    return out.logits.numpy()
