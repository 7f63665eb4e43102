"""`predict_batch`: one batch through a model, right under a tf.distribute strategy too."""

import keras


def predict_batch(model, inputs):
    """`model.predict_on_batch(inputs)`, except under a multi-replica TF strategy.

    Keras's TensorFlow `predict_on_batch` runs the whole batch on every replica
    of the model's `tf.distribute` strategy (the one it was built in, or the
    scope it is called in) and concatenates the copies: 3 inputs give 6 rows on
    2 devices. `predict` splits the batch over the replicas as it should, so it
    runs instead there; elsewhere `predict_on_batch` skips `predict`'s per-call
    `tf.data` pipeline.
    """
    strategy = getattr(model, "distribute_strategy", None)  # TensorFlow's only
    if strategy is not None and strategy.num_replicas_in_sync > 1:
        batch = len(keras.tree.flatten(inputs)[0])
        return model.predict(inputs, batch_size=batch, verbose=0)
    return model.predict_on_batch(inputs)
