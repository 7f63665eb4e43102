"""Learning a SentencePiece model whose ids line up with `SequenceTokenizer`'s."""

import base64
import io

import sentencepiece

# SentencePiece's own names for the four specials; `SequenceTokenizer` shows ours.
_SPECIAL_IDS = dict(pad_id=0, unk_id=1, bos_id=2, eos_id=3)


def train_proto(texts, vocabulary_size, special_tokens):
    """A BPE SentencePiece model of `texts` as serialized proto bytes.

    keras-hub's `compute_sentence_piece_proto` names the specials `<pad>`,
    `<unk>`, `<s>`, `</s>`, prints the trainer's log to stderr and case-folds
    when asked to lowercase ("ß" becomes "ss", which changes German words), so
    the trainer is called here directly with our names, a quiet log, no case
    folding (the tokenizer lowercases beforehand) and a soft vocabulary limit, so
    a corpus too small for `vocabulary_size` gives a smaller vocabulary instead
    of an error. BPE, not unigram: on German number words it keeps morphemes
    ("zwei", "undvierzig"), where unigram falls back to single letters at small
    vocabularies. The tokenizer that reads the proto is keras-hub's
    `SentencePieceTokenizer`.
    """
    pad, unk, start, stop = special_tokens
    writer = io.BytesIO()
    try:
        sentencepiece.SentencePieceTrainer.train(
            sentence_iterator=iter(texts),
            model_writer=writer,
            vocab_size=vocabulary_size,
            model_type="bpe",
            hard_vocab_limit=False,
            normalization_rule_name="nmt_nfkc",
            character_coverage=1.0,
            pad_piece=pad,
            unk_piece=unk,
            bos_piece=start,
            eos_piece=stop,
            minloglevel=2,
            num_threads=1,
            **_SPECIAL_IDS,
        )
    except RuntimeError as error:
        raise ValueError(
            f"SentencePiece could not learn a vocabulary of {vocabulary_size} pieces "
            f"from {len(texts)} texts: {error}. Received: vocabulary_size={vocabulary_size}"
        ) from error
    return writer.getvalue()


def encode_proto(proto):
    """Proto bytes -> the ASCII string kept in a JSON config."""
    return base64.b64encode(proto).decode("ascii")


def decode_proto(proto):
    """A proto as bytes or as `encode_proto`'s string -> bytes."""
    if isinstance(proto, bytes):
        return proto
    if not isinstance(proto, str):
        raise ValueError(
            "`proto` must be SentencePiece model bytes or their base64 string. "
            f"Received: proto of type {type(proto).__name__}"
        )
    try:
        return base64.b64decode(proto.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError) as error:
        raise ValueError(
            f"`proto` is not a base64 string of a SentencePiece model. Received: {proto!r:.60}"
        ) from error


def processor(proto):
    """A `SentencePieceProcessor` of a serialized model (pure Python, no TF resource)."""
    model = sentencepiece.SentencePieceProcessor()
    try:
        model.LoadFromSerializedProto(proto)
    except (RuntimeError, OSError, TypeError) as error:
        raise ValueError(f"`proto` is not a SentencePiece model: {error}") from error
    return model


def pieces(proto):
    """The piece of each id of a serialized model."""
    model = processor(proto)
    return [model.IdToPiece(i) for i in range(model.GetPieceSize())]
