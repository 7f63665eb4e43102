"""`softmax`: attention weights over the last axis, quiet over a single position."""

from keras import ops


def softmax(scores):
    """`ops.softmax(scores, axis=-1)`, without Keras's warning for an axis of size 1.

    Attention over one position is right, not the wrong axis that Keras's
    warning suspects: an empty text is `[STOP]` alone, so `translate([""])`
    attends over one source position. The weight there is 1 as the softmax's
    (NaN where the score is NaN).
    """
    if scores.shape[-1] == 1:
        return ops.exp(scores - scores)
    return ops.softmax(scores, axis=-1)
