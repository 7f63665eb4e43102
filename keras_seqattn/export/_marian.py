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
from keras_seqattn.export._plan import ExportPlan, generate
from keras_seqattn.export._sentence_piece_graph import SPACE
from keras_seqattn.export._unigram_graph import UnigramGraph
from keras_seqattn.text import _sentence_piece
from keras_seqattn.text.marian_tokenizer import LANGUAGE_CODE

NOTE = (
    "The source SentencePiece model has no core TensorFlow version ({error}), so the "
    "SavedModel takes token ids: `serving_default` is `token_ids` (source_ids in; text "
    "and ids out). Tokenise on the client with `sentencepiece` and "
    "source_tokenizer.model / source_vocabulary.json, as MarianTokenizer does."
)


class MarianSourceGraph(tf.Module):
    """Strings `(batch,)` -> source ids, as `Seq2SeqModel.tokenize_sources` with a
    `MarianTokenizer`: a leading `>>xx<<` code as one token, the pieces'
    `vocab.json` ids (unknown ones `<unk>`), truncated to `max_length - 1`, then
    `</s>`, padded with `<pad>` to the longest row."""

    def __init__(self, tokenizer, max_length):
        super().__init__()
        self.pieces = UnigramGraph(_sentence_piece.decode_proto(tokenizer.proto))
        ids = list(range(tokenizer.vocabulary_size))
        self.table = lookup_table(tokenizer.vocabulary, ids, tf.string, tf.int32, tokenizer.oov_id)
        self.max_length = max_length
        self.stop_id, self.pad_id = tokenizer.stop_id, tokenizer.pad_id

    def __call__(self, texts):
        code = tf.strings.regex_replace(texts, LANGUAGE_CODE, r"\1")  # (batch,)
        rest = tf.strings.regex_replace(texts, LANGUAGE_CODE, r"\2")  # (batch,)
        code = tf.ragged.boolean_mask(code[:, None], tf.not_equal(code, "")[:, None])
        tokens = tf.concat([code, self.pieces(rest)], axis=1)  # ragged (batch, None)
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


def marian_translation_plan(model, beam_width=4, length_penalty=1.0):
    """Signatures of a `TransformerSeq2Seq` with `MarianTokenizer`s.

    - `serving_default`: `text` string `(batch,)` in, tokenised in the graph
      (`MarianSourceGraph`) -> `text`, `ids`, `lengths`, `scores` (greedy);
      `beam` likewise with beam search as the model's `generation_options`
      say (Hugging Face's, for a converted model).
    - `token_ids` and `token_ids_beam`: `source_ids` int32 `(batch, S)`,
      `S <= max_source_length`, each row the pieces' ids, `</s>` then `<pad>`
      (as `MarianTokenizer(texts, add_stop=True)`), and the same outputs.
    - `attention`: as `token_ids`, plus the last decoder block's
      cross-attention `(batch, L, heads, S)`.

    TFLite (`model.tflite`): `source_ids` `(1, max_source_length)` -> `ids`,
    `lengths`, `scores`, greedy.
    """
    source, target = model.source_tokenizer, model.target_tokenizer
    settings = dict(
        start_id=target.start_id,
        stop_id=target.stop_id,
        max_length=model.max_target_length,
        length_penalty=length_penalty,
        pad_id=target.pad_id,
        options=model.generation_options,
    )
    ids_spec = tf.TensorSpec((None, None), tf.int32, name="source_ids")
    vocabulary = tf.constant(target.vocabulary)

    def translations(source_ids, beam, with_attention=False):
        positions = tf.shape(source_ids)[1]
        checks = [
            tf.debugging.assert_less_equal(
                positions,
                model.max_source_length,
                message=f"source_ids has more than max_source_length={model.max_source_length} "
                "positions",
            ),
            tf.debugging.assert_positive(
                positions, message="source_ids must have at least 1 position (the </s>)"
            ),
        ]
        with tf.control_dependencies(checks):
            source_ids = tf.identity(source_ids)
        outputs = generate(model, source_ids, settings, beam)
        outputs["text"] = marian_detokenize(outputs["ids"], vocabulary, target)
        if not with_attention:
            del outputs["attention"]
        return outputs

    def serve_ids(source_ids):
        return translations(source_ids, 1)

    def serve_ids_beam(source_ids):
        return translations(source_ids, beam_width)

    def serve_attention(source_ids):
        return translations(source_ids, 1, with_attention=True)

    def ids_only(source_ids):
        outputs = generate(model, source_ids, settings, 1)
        return {key: outputs[key] for key in ("ids", "lengths", "scores")}

    plan = ExportPlan()
    try:
        tokenize = MarianSourceGraph(source, model.max_source_length)
    except ValueError as error:
        tokenize = None
        plan.notes.append(NOTE.format(error=error))
    if tokenize is not None:
        plan.trackables.append(tokenize)
        text_spec = tf.TensorSpec((None,), tf.string, name="text")

        def serve_text(text):
            return translations(tokenize(text), 1)

        def serve_text_beam(text):
            return translations(tokenize(text), beam_width)

        plan.endpoints.append(("serving_default", serve_text, [text_spec]))
        if beam_width > 1:
            plan.endpoints.append(("beam", serve_text_beam, [text_spec]))
    else:
        plan.endpoints.append(("serving_default", serve_ids, [ids_spec]))
    plan.endpoints.append(("token_ids", serve_ids, [ids_spec]))
    if beam_width > 1:
        plan.endpoints.append(("token_ids_beam", serve_ids_beam, [ids_spec]))
    plan.endpoints.append(("attention", serve_attention, [ids_spec]))
    tflite_spec = tf.TensorSpec((1, model.max_source_length), tf.int32, name="source_ids")
    plan.tflite.append(("model.tflite", ids_only, [tflite_spec]))
    plan.id_limits["source_ids"] = source.vocabulary_size
    plan.files["vocabulary.json"] = list(target.vocabulary)
    plan.files["source_vocabulary.json"] = list(source.vocabulary)
    plan.files["source_tokenizer.model"] = _sentence_piece.decode_proto(source.proto)
    plan.files["source_tokenizer.json"] = {
        "mode": "marian",
        "max_length": model.max_source_length,
        "sentence_piece_model": "source_tokenizer.model",
        "unknown_id": source.oov_id,
        "stop_id": source.stop_id,
        "pad_id": source.pad_id,
        "language_code": "a leading '>>xx<<' is one token, looked up as it is",
    }
    plan.files["export.json"] = {
        "family": "translation",
        "source_mode": "marian",
        "target_mode": "marian",
        "max_source_length": model.max_source_length,
        "max_length": model.max_target_length,
        "start_id": target.start_id,
        "stop_id": target.stop_id,
        "pad_id": target.pad_id,
        "beam_width": beam_width,
        "length_penalty": length_penalty,
        "generation_options": {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in model.generation_options.items()
        },
        "signatures": [name for name, _, _ in plan.endpoints],
    }
    return plan
