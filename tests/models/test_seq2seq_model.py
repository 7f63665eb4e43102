import numpy as np
import tensorflow as tf

from keras_seqattn.applications import Seq2SeqRNN
from keras_seqattn.text import SequenceTokenizer, seq2seq_batches

PAIRS = [("forty two", "zweiundvierzig"), ("seven", "sieben"), ("one hundred", "einhundert")]


def _model():
    source = SequenceTokenizer.from_corpus([s for s, _ in PAIRS], mode="character")
    target = SequenceTokenizer.from_corpus([t for _, t in PAIRS], mode="character")
    model = Seq2SeqRNN(
        source, target, embedding_dim=4, hidden_dim=4, max_source_length=40, max_target_length=40
    )
    return model, source, target


def _first_batch(dataset):
    return next(iter(dataset.as_numpy_iterator()))


def test_prepare_pads_to_the_longest_pair_or_to_the_model():
    model, source, target = _model()
    short = tf.data.Dataset.from_tensor_slices(tuple(map(list, zip(*PAIRS[1:]))))
    (x, labels) = _first_batch(model.prepare(short, batch_size=2, lengths="longest"))
    # "one hundred" is 11 characters and "einhundert" 10, each plus [STOP] / [START].
    assert x["source_ids"].shape == (2, 12) and x["target_ids"].shape == (2, 11)
    expected = _first_batch(seq2seq_batches(short, source, target, 12, 11, batch_size=2))
    np.testing.assert_array_equal(x["source_ids"], expected[0]["source_ids"])
    np.testing.assert_array_equal(labels, expected[1])
    (x, _) = _first_batch(model.prepare(short, batch_size=2))
    assert x["source_ids"].shape == (2, 40) and x["target_ids"].shape == (2, 40)


def test_longest_never_exceeds_the_models_lengths():
    model, _, _ = _model()
    model.max_source_length, model.max_target_length = 5, 6
    pairs = tf.data.Dataset.from_tensor_slices(tuple(map(list, zip(*PAIRS))))
    (x, labels) = _first_batch(model.prepare(pairs, batch_size=3, lengths="longest"))
    assert x["source_ids"].shape == (3, 5) and labels.shape == (3, 6)


def test_drop_remainder_drops_only_the_short_last_batch():
    model, _, _ = _model()
    pairs = tf.data.Dataset.from_tensor_slices(tuple(map(list, zip(*PAIRS * 3))))  # 9 pairs
    kept = [len(x["source_ids"]) for x, _ in model.prepare(pairs, batch_size=4)]
    assert kept == [4, 4, 1]
    whole = model.prepare(pairs, batch_size=4, drop_remainder=True)
    assert [len(x["source_ids"]) for x, _ in whole] == [4, 4]
    assert int(whole.cardinality()) == 2  # known, so Keras shows and plans the epoch
