"""The export plan of a converted MarianMT (OPUS-MT) model: strings or ids in, strings out.

A Marian model's sources are SentencePiece *unigram* pieces looked up in
`vocab.json`. `MarianSourceGraph` tokenises in the graph with core TensorFlow
ops (`_unigram_graph.UnigramGraph`, Viterbi segmentation), so `serving_default`
takes strings; detokenisation is a gather, joins and a regular expression. A
SentencePiece model that `UnigramGraph` cannot express (byte fallback,
user-defined pieces) makes `serving_default` take ids, with a note; the client
then tokenises with `sentencepiece` and the files written here
(`source_tokenizer.model`, `source_vocabulary.json`, `source_tokenizer.json`).
"""

import tensorflow as tf

from keras_seqattn.export._lookup import lookup_table
from keras_seqattn.export._sentence_piece_graph import SPACE
from keras_seqattn.export._unigram_graph import UnigramGraph
from keras_seqattn.text import _sentence_piece
from keras_seqattn.text.marian_tokenizer import split_pieces

MARIAN_NOTE = (
    "The source SentencePiece model has no core TensorFlow version ({error}), so the "
    "SavedModel takes token ids: `serving_default` is `token_ids` (source_ids in; text "
    "and ids out). Tokenise on the client with `sentencepiece` and "
    "source_tokenizer.model / source_vocabulary.json, as MarianTokenizer does."
)


class MarianSourceGraph(tf.Module):
    """Strings `(batch,)` -> source ids, as `Seq2SeqModel.tokenize_sources` with a
    `MarianTokenizer`: literal special tokens kept whole, a leading `>>xx<<`
    code as one token, the pieces'
    `vocab.json` ids (unknown ones `<unk>`), truncated to `max_length - 1`, then
    `</s>`, padded with `<pad>` to the longest row."""

    def __init__(self, tokenizer, max_length):
        super().__init__()
        self.pieces = UnigramGraph(_sentence_piece.decode_proto(tokenizer.proto))
        ids = list(range(tokenizer.vocabulary_size))
        self.table = lookup_table(tokenizer.vocabulary, ids, tf.string, tf.int32, tokenizer.oov_id)
        self.max_length = max_length
        self.stop_id, self.pad_id = tokenizer.stop_id, tokenizer.pad_id
        self.special_tokens = tuple(tokenizer.special_tokens)

    def __call__(self, texts):
        tokens = split_pieces(texts, self.special_tokens, self.pieces)  # ragged (batch, None)
        ids = tf.ragged.map_flat_values(self.table.lookup, tokens)[:, : self.max_length - 1]
        stop = tf.fill([tf.shape(texts)[0], 1], self.stop_id)  # (batch, 1)
        return tf.concat([ids, stop], axis=1).to_tensor(self.pad_id)  # (batch, longest + 1)


def marian_detokenize(ids, vocabulary, tokenizer):
    """int32 ids `(batch, T)` -> `(batch,)` strings, as `MarianTokenizer.detokenize`.

    Cuts at the first `eos_token`, drops the special ids, joins the pieces and
    writes `▁` as a space, without the spaces at the ends.
    """
    ids = tf.cast(ids, tf.int32)
    stops = tf.cast(tf.equal(ids, tokenizer.stop_id), tf.int32)
    keep = tf.equal(tf.cumsum(stops, axis=1), 0)  # (batch, T) before the first eos
    for special in tokenizer.special_ids:
        keep = tf.logical_and(keep, tf.not_equal(ids, special))
    pieces = tf.ragged.boolean_mask(tf.gather(vocabulary, ids), keep)  # ragged (batch, None)
    text = tf.strings.regex_replace(tf.strings.reduce_join(pieces, axis=1), SPACE, " ")
    return tf.strings.strip(text)


def marian_files(model):
    """`(files, export.json details)` of a model with `MarianTokenizer`s.

    The files are what a client needs to tokenise as `MarianTokenizer` does,
    with `sentencepiece` (the LiteRT model, and a SavedModel without strings
    in, take ids): `source_tokenizer.model` (the source SentencePiece model)
    and `source_tokenizer.json` (special ids, the language-code rule);
    `source_vocabulary.json` maps the pieces to ids.
    """
    source, target = model.source_tokenizer, model.target_tokenizer
    files = {
        "source_tokenizer.model": _sentence_piece.decode_proto(source.proto),
        "source_tokenizer.json": {
            "mode": "marian",
            "max_length": model.max_source_length,
            "sentence_piece_model": "source_tokenizer.model",
            "unknown_id": source.oov_id,
            "stop_id": source.stop_id,
            "pad_id": source.pad_id,
            "language_code": "a leading '>>xx<<' is one token, looked up as it is",
            "special_tokens": "the text is cut at each literal "
            f"{' / '.join(source.special_tokens)}, which is that id; each part is "
            "encoded alone (its own language code, then its pieces)",
        },
    }
    details = {
        "source_mode": "marian",
        "target_mode": "marian",
        "pad_id": target.pad_id,
        "generation_options": {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in model.generation_options.items()
        },
        # generate()'s defaults of the checkpoint: the `beam` signature is them when
        # exported with these beam_width and length_penalty.
        "generation_defaults": getattr(model, "generation_defaults", None),
    }
    return files, details
