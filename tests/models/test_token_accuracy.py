import keras
import numpy as np
import tensorflow as tf

from keras_seqattn.models import TokenAccuracy

RNG = np.random.default_rng(0)


def _batch(rows, length=5, vocabulary=6):
    labels = RNG.integers(0, vocabulary, (rows, length))
    logits = RNG.normal(size=(rows, length, vocabulary)).astype("float32")
    return labels, logits


def _numpy_accuracy(batches):
    hits = tokens = 0
    for labels, logits in batches:
        real = labels != 0
        hits += np.sum((np.argmax(logits, -1) == labels) & real)
        tokens += np.sum(real)
    return hits / tokens


def test_counts_every_real_token_once_across_batches_of_any_size():
    batches = [_batch(8), _batch(1), _batch(3)]
    metric = TokenAccuracy()
    for labels, logits in batches:
        metric.update_state(labels, logits)
    np.testing.assert_allclose(float(metric.result()), _numpy_accuracy(batches), rtol=1e-6)
    metric.update_state(np.zeros((0, 5), "int64"), np.zeros((0, 5, 6), "float32"))  # empty
    np.testing.assert_allclose(float(metric.result()), _numpy_accuracy(batches), rtol=1e-6)
    metric.reset_state()
    assert float(metric.result()) == 0.0


def test_row_weights_weigh_each_rows_tokens():
    labels, logits = _batch(4)
    metric = TokenAccuracy()
    metric.update_state(labels, logits, sample_weight=np.array([1.0, 0.0, 1.0, 0.0]))
    np.testing.assert_allclose(
        float(metric.result()), _numpy_accuracy([(labels[::2], logits[::2])]), rtol=1e-6
    )
    assert TokenAccuracy.from_config(metric.get_config()).get_config() == metric.get_config()


def test_evaluate_on_a_filtered_dataset_matches_numpy():
    # A filtered dataset has unknown cardinality: Keras's TF loop then meets an empty
    # batch at its end, which a mean of per-batch ratios counted as accuracy 0.
    vocabulary, length = 6, 5
    model = keras.Sequential(
        [keras.Input((length,), dtype="int32"), keras.layers.Embedding(vocabulary, vocabulary)]
    )
    model.layers[0].set_weights([10 * np.eye(vocabulary, dtype="float32")])  # logits: one-hot
    model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[TokenAccuracy()],
    )
    inputs = RNG.integers(0, vocabulary, (10, length)).astype("int32")
    labels = np.where(
        RNG.random((10, length)) < 0.7, inputs, RNG.integers(0, vocabulary, (10, length))
    )
    keep = np.arange(10) % 3 != 0  # rows 1, 2, 4, 5, 7, 8
    dataset = tf.data.Dataset.from_tensor_slices((inputs, labels, np.arange(10)))
    dataset = dataset.filter(lambda x, y, i: i % 3 != 0).map(lambda x, y, i: (x, y)).batch(4)
    logs = model.evaluate(dataset, return_dict=True, verbose=0)
    one_hot = np.eye(vocabulary)[inputs[keep]]
    expected = _numpy_accuracy([(labels[keep], one_hot)])
    np.testing.assert_allclose(logs["token_accuracy"], expected, rtol=1e-6)
