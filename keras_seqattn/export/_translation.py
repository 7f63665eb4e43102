"""The export plan of a `Seq2SeqModel`: strings or token ids in, strings and ids out."""

import tensorflow as tf

from keras_seqattn.export import _text_graph
from keras_seqattn.export._client_tokenizer import source_tokenizer_files
from keras_seqattn.export._marian import (
    MARIAN_NOTE,
    MarianSourceGraph,
    marian_detokenize,
    marian_files,
)
from keras_seqattn.export._plan import ExportPlan, generate, has_attention
from keras_seqattn.export._tflite import Float32Model, precision
from keras_seqattn.text import MarianTokenizer


def translation_plan(model, beam_width=4, length_penalty=0.0):
    """Signatures of a translation model (Seq2SeqRNN, AttentionSeq2Seq, TransformerSeq2Seq).

    - `token_ids`: `source_ids` int32 `(batch, S)`, `S <= max_source_length`,
      each row the source tokens, `[STOP]` (id 3), then padding (id 0) ->
      `text` `(batch,)`, `ids` `(batch, L)`, `lengths`, `scores` (greedy).
    - `token_ids_beam` (when `beam_width > 1`): the same, beam search.
    - `attention` (models with attention): as `token_ids`, plus `attention`
      `(batch, L, *attention_shape)`.
    - `serving_default`: `text` string `(batch,)` in, tokenised in the graph
      with core TensorFlow ops (`_text_graph.SourceTokenizer`, every mode of
      `SequenceTokenizer`), and the outputs of `token_ids`; `beam` likewise
      with beam search. A SentencePiece model that `SourceTokenizer` cannot
      express (not BPE, or with user-defined pieces) makes `serving_default`
      `token_ids`, and a note says so.

    A converted MarianMT model (`MarianTokenizer`s, `_marian`) has the same
    signatures: its ids end in `</s>` (id 0) and are padded with `<pad>`, its
    sources are tokenised by `MarianSourceGraph` (SentencePiece unigram in
    core ops), its searches follow its `generation_options` (Hugging Face's
    processors) and stop at its `generation_defaults`' `max_length`, so that
    `beam`, exported with the defaults' `beam_width` and `length_penalty`, is
    what `translate()` and transformers' `generate()` give by default.

    TFLite (`model.tflite`): `source_ids` `(1, max_source_length)` -> `ids`,
    `lengths`, `scores`; `source_vocabulary.json` and `vocabulary.json` beside,
    and what a client needs to tokenise as `translate()` does
    (`_client_tokenizer`: `source_tokenizer.json`, for sentence pieces
    `source_tokenizer.model`).
    """
    source, target = model.source_tokenizer, model.target_tokenizer
    marian = isinstance(source, MarianTokenizer)
    settings = dict(
        start_id=target.start_id,
        stop_id=target.stop_id,
        max_length=(getattr(model, "generation_defaults", None) or {}).get("max_length")
        or model.max_target_length,
        length_penalty=length_penalty,
        pad_id=target.pad_id,
        options=model.generation_options,
    )
    ids_spec = tf.TensorSpec((None, None), tf.int32, name="source_ids")
    text_spec = tf.TensorSpec((None,), tf.string, name="text")
    if marian:
        vocabulary = tf.constant(target.vocabulary)

        def detokenize(ids):
            return marian_detokenize(ids, vocabulary, target)
    else:
        vocabulary = _text_graph.graph_vocabulary(target)

        def detokenize(ids):
            return _text_graph.detokenize(ids, vocabulary, target.mode)

    def translations(source_ids, beam, with_attention=False):
        positions = tf.shape(source_ids)[1]
        checks = [
            tf.debugging.assert_less_equal(
                positions,
                model.max_source_length,
                message=f"source_ids has more than max_source_length={model.max_source_length} "
                "positions",
            ),
            # A row is at least its [STOP]; none at all fails inside the encoder.
            tf.debugging.assert_positive(
                positions,
                message="source_ids must have at least 1 position (the "
                f"{source.vocabulary[source.stop_id]})",
            ),
        ]
        with tf.control_dependencies(checks):
            source_ids = tf.identity(source_ids)
        outputs = generate(model, source_ids, settings, beam)
        outputs["text"] = detokenize(outputs["ids"])
        if not with_attention:
            del outputs["attention"]
        return outputs

    def serve_ids(source_ids):
        return translations(source_ids, 1)

    def serve_ids_beam(source_ids):
        return translations(source_ids, beam_width)

    def serve_attention(source_ids):
        return translations(source_ids, 1, with_attention=True)

    tflite_model = Float32Model(model)

    def ids_only(source_ids):
        outputs = generate(tflite_model.get(), source_ids, settings, 1)
        return {key: outputs[key] for key in ("ids", "lengths", "scores")}

    plan = ExportPlan()
    try:
        if marian:
            tokenize = MarianSourceGraph(source, model.max_source_length)
        else:
            tokenize = _text_graph.SourceTokenizer(source, model.max_source_length)
    except ValueError as error:
        tokenize = None
        plan.notes.append(
            MARIAN_NOTE.format(error=error)
            if marian
            else f"The source tokenizer has no core TensorFlow version ({error}), so the "
            "SavedModel takes token ids, not strings: `serving_default` is `token_ids` "
            "(source_ids in; text and ids out). Tokenise on the client with serving.md's "
            "client (source_tokenizer.json, source_tokenizer.model)."
        )
    if tokenize is not None:
        plan.trackables.append(tokenize)

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
    if has_attention(model, ids_spec, settings):
        plan.endpoints.append(("attention", serve_attention, [ids_spec]))
    tflite_spec = tf.TensorSpec((1, model.max_source_length), tf.int32, name="source_ids")
    plan.tflite.append(("model.tflite", ids_only, [tflite_spec]))
    plan.id_limits["source_ids"] = model.source_tokenizer.vocabulary_size
    plan.files["vocabulary.json"] = list(target.vocabulary)
    plan.files["source_vocabulary.json"] = list(source.vocabulary)
    # LiteRT takes ids: what a client needs to tokenise as translate() does.
    if marian:
        files, details = marian_files(model)
    else:
        files = source_tokenizer_files(source, model.max_source_length)
        details = {"source_mode": source.mode, "target_mode": target.mode}
        details["lowercase"] = source.lowercase
    plan.files.update(files)
    plan.files["export.json"] = {
        "family": "translation",
        **details,
        "max_source_length": model.max_source_length,
        "max_length": settings["max_length"],
        "start_id": target.start_id,
        "stop_id": target.stop_id,
        "beam_width": beam_width,
        "length_penalty": length_penalty,
        **precision(model),
        "signatures": [name for name, _, _ in plan.endpoints],
    }
    return plan
