"""What every translation model shares: tokenizers, data preparation, translate()."""

import warnings

import keras
import numpy as np
from keras import ops

from keras_seqattn.models.generation_result import GenerationResult
from keras_seqattn.models.generative_model import GenerativeModel

# Imported here so the tokenizer class is registered whenever a model is loaded.
from keras_seqattn.text import MarianTokenizer, SequenceTokenizer, seq2seq_batches
from keras_seqattn.text._arguments import check_encodable


class Seq2SeqModel(GenerativeModel):
    """Base of the text-to-text applications (RNN, attention RNN, Transformer).

    It owns the two `SequenceTokenizer`s, so a saved model carries its
    vocabularies, and turns text into the `{"source_ids", "target_ids"}` inputs of
    the training graph and back. Sources are tokenised with a trailing `[STOP]`;
    targets enter the decoder as `[START] y_1 .. y_n` and are predicted as
    `y_1 .. y_n [STOP]`. Sources longer than `max_source_length` tokens are
    truncated, with a warning from `translate()`.
    """

    @staticmethod
    def _check_seq2seq_args(
        source_tokenizer, target_tokenizer, max_source_length, max_target_length
    ):
        """Raises a clear error before any layer is built from bad arguments."""
        for name, value in [
            ("max_source_length", max_source_length),
            ("max_target_length", max_target_length),
        ]:
            if not isinstance(value, int) or isinstance(value, bool) or value < 2:
                raise ValueError(f"`{name}` must be an int >= 2. Received: {name}={value!r}")
        for name, tokenizer in [
            ("source_tokenizer", source_tokenizer),
            ("target_tokenizer", target_tokenizer),
        ]:
            if not isinstance(tokenizer, (SequenceTokenizer, MarianTokenizer)):
                # (A converted MarianMT model's MarianTokenizer is accepted too.)
                raise ValueError(
                    f"`{name}` must be a keras_seqattn.text.SequenceTokenizer holding the "
                    f"vocabulary. Received: {name}={tokenizer!r}"
                )

    def _init_seq2seq(
        self, source_tokenizer, target_tokenizer, max_source_length, max_target_length
    ):
        self.source_tokenizer = source_tokenizer
        self.target_tokenizer = target_tokenizer
        self.max_source_length = max_source_length
        self.max_target_length = max_target_length

    @classmethod
    def from_corpus(
        cls,
        pairs,
        source_mode="word_piece",
        target_mode="word_piece",
        vocabulary_size=1000,
        lowercase=True,
        max_source_length=None,
        max_target_length=None,
        **kwargs,
    ):
        """Builds both vocabularies from training pairs, then the model.

        Args:
            pairs: `tf.data.Dataset` of `(source, target)` strings, or a list of
                string pairs.
            source_mode: `"word_piece"`, `"character"` or `"sentence_piece"`, the
                source tokenizer's mode (see `SequenceTokenizer`).
            target_mode: the same for the target tokenizer.
            vocabulary_size: int, largest vocabulary per side.
            lowercase: bool, lowercase the text first.
            max_source_length: int or `None` to fit the longest source.
            max_target_length: int or `None` to fit the longest target.
            **kwargs: the model's other constructor arguments.

        Returns:
            The model, its tokenizers built from `pairs`.
        """
        sources, targets = _split_pairs(pairs)
        tokenizers = [
            SequenceTokenizer.from_corpus(
                texts, mode=mode, vocabulary_size=vocabulary_size, lowercase=lowercase
            )
            for texts, mode in [(sources, source_mode), (targets, target_mode)]
        ]
        longest = [_longest(t, texts) for t, texts in zip(tokenizers, (sources, targets))]
        return cls(
            tokenizers[0],
            tokenizers[1],
            max_source_length=longest[0] if max_source_length is None else max_source_length,
            max_target_length=longest[1] if max_target_length is None else max_target_length,
            **kwargs,
        )

    @staticmethod
    def _inputs():
        return {
            "source_ids": keras.Input(shape=(None,), dtype="int32", name="source_ids"),
            "target_ids": keras.Input(shape=(None,), dtype="int32", name="target_ids"),
        }

    def prepare(
        self, pairs, batch_size=64, shuffle=False, seed=0, lengths="model", drop_remainder=False
    ):
        """Turns a `tf.data.Dataset` of `(source, target)` strings into `fit` batches.

        Returns a dataset of `({"source_ids", "target_ids"}, labels)` with fixed
        lengths, usable by `fit` and `evaluate` on every backend.

        Args:
            pairs: `tf.data.Dataset` of `(source, target)` scalar strings.
            batch_size: int. Defaults to `64`.
            shuffle: bool, shuffle pairs before batching. Defaults to `False`.
            seed: int, shuffle seed. Defaults to `0`.
            lengths: `"model"` pads to `max_source_length` / `max_target_length`;
                `"longest"` to the longest tokenised text of `pairs` on each side
                (at most the model's), so that a model sized for long test inputs
                trains on short pairs without padding them to the test's length.
            drop_remainder: bool, drop the last batch when it is short (so that
                every batch splits evenly over data-parallel replicas). Defaults
                to `False`.
        """
        if lengths not in ("model", "longest"):
            raise ValueError(
                f"`lengths` must be 'model' or 'longest'. Received: lengths={lengths!r}"
            )
        source_length, target_length = self.max_source_length, self.max_target_length
        if lengths == "longest":
            sources, targets = _split_pairs(pairs)
            source_length = min(_longest(self.source_tokenizer, sources), source_length)
            target_length = min(_longest(self.target_tokenizer, targets), target_length)
        return seq2seq_batches(
            pairs,
            self.source_tokenizer,
            self.target_tokenizer,
            source_length=source_length,
            target_length=target_length,
            batch_size=batch_size,
            shuffle=shuffle,
            seed=seed,
            drop_remainder=drop_remainder,
        )

    def tokenize_sources(self, texts):
        """Source strings -> `(batch, max_source_length)` int32 ids, `[STOP]` last."""
        texts = _as_text_list(texts)
        ids = np.asarray(ops.convert_to_numpy(self.source_tokenizer(texts, add_stop=True)))
        if ids.shape[1] > self.max_source_length:
            real = np.sum(ids != self.source_tokenizer.pad_id, axis=1)
            long_rows = int(np.sum(real > self.max_source_length))
            warnings.warn(
                f"{long_rows} source(s) have more than max_source_length="
                f"{self.max_source_length} tokens and were truncated.",
                stacklevel=3,
            )
            ids = np.asarray(
                ops.convert_to_numpy(
                    self.source_tokenizer(
                        texts, add_stop=True, sequence_length=self.max_source_length
                    )
                )
            )
        return ids.astype("int32")

    def translate(self, texts, max_length=None, beam_width=1, length_penalty=0.0):
        """Translates a batch of strings with greedy (beam_width=1) or beam search.

        Input handling: tokens (characters, word pieces) missing from the
        source vocabulary become `[UNK]` (`result.input_tokens` shows them);
        an empty string is a source of `[STOP]` alone; a source longer than
        `max_source_length` tokens (`[STOP]` included) keeps its first tokens
        and its `[STOP]`, with a `UserWarning` that counts the truncated rows.
        Decoding always ends: at `[STOP]`, or after `max_length` tokens.

        Args:
            texts: a string or a list (tuple, 1-D array) of strings.
            max_length: int >= 1, most output tokens, `[STOP]` included.
                Defaults to `max_target_length`.
            beam_width: int >= 1, 1 for greedy search.
            length_penalty: float >= 0, GNMT length-penalty exponent for beam
                search (`length ** alpha` for a model whose
                `generation_options` say `length_penalty_form="power"`).

        Returns:
            A `GenerationResult`: `text`, `ids`, `scores`, `attention` (one
            `(output_len, source_len)` matrix per input, empty for models without
            attention), `input_tokens` and `output_tokens`.
        """
        source_ids = self.tokenize_sources(texts)
        output = self.generate_ids(
            source_ids,
            self.max_target_length if max_length is None else max_length,
            start_id=self.target_tokenizer.start_id,
            stop_id=self.target_tokenizer.stop_id,
            beam_width=beam_width,
            length_penalty=length_penalty,
            pad_id=self.target_tokenizer.pad_id,
            **self.generation_options,
        )
        return GenerationResult.from_output(
            output,
            self.target_tokenizer,
            input_ids=source_ids,
            input_tokens=self.source_tokenizer.id_to_token(source_ids),
            input_pad_id=self.source_tokenizer.pad_id,
        )

    @property
    def generation_options(self):
        """`keras_seqattn.generation.generate()` options `translate()` always passes.

        Empty (the lecture's search) unless the model was built with some, as
        `TransformerSeq2Seq.from_pretrained` does to reproduce Hugging Face's
        `generate()`.
        """
        return dict(getattr(self, "_generation_options", None) or {})

    def get_config(self):
        return {
            "source_tokenizer": keras.saving.serialize_keras_object(self.source_tokenizer),
            "target_tokenizer": keras.saving.serialize_keras_object(self.target_tokenizer),
            "max_source_length": self.max_source_length,
            "max_target_length": self.max_target_length,
            "name": self.name,
            "dtype": self.dtype_policy.name,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("source_tokenizer", "target_tokenizer"):
            if isinstance(config.get(key), dict):
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


def _longest(tokenizer, texts):
    """The longest tokenised text of `texts`, plus its `[STOP]` (or `[START]`) token."""
    return int(ops.shape(tokenizer(texts))[1]) + 1


def _split_pairs(pairs):
    if hasattr(pairs, "as_numpy_iterator"):
        pairs = pairs.as_numpy_iterator()
    if pairs is None or isinstance(pairs, (str, bytes)) or not hasattr(pairs, "__iter__"):
        raise TypeError(
            "`pairs` must be a tf.data.Dataset or a list of (source, target) strings. "
            f"Received: pairs={pairs!r:.80}"
        )
    sources, targets = [], []
    for pair in pairs:
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"Expected (source, target) pairs. Received: pair={pair!r:.80}")
        source, target = (t.decode("utf-8") if isinstance(t, bytes) else t for t in pair)
        sources.append(source)
        targets.append(target)
    if not sources:
        raise ValueError("Expected at least one (source, target) pair. Received: none")
    return sources, targets


def _as_text_list(texts):
    if isinstance(texts, (str, bytes)):
        texts = [texts]
    if isinstance(texts, (dict, set, frozenset)) or hasattr(texts, "keys"):
        raise TypeError(
            "Expected a string or a list of strings to translate; a mapping or set has no "
            f"order of texts. Received: texts={texts!r:.80}"
        )
    try:
        texts = list(texts)
    except TypeError:
        raise TypeError(
            f"Expected a string or a list of strings to translate. Received: texts={texts!r:.80}"
        ) from None
    if not texts:
        raise ValueError("Expected at least one text to translate. Received: texts=[]")
    bad = [t for t in texts if not isinstance(t, (str, bytes))]
    if bad:
        raise TypeError(f"Expected strings to translate. Received: texts items {bad[:3]!r}")
    check_encodable(texts)
    return texts
