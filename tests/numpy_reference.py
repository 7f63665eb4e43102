"""Independent NumPy versions of the lecture's formulas, to check layers against."""

import numpy as np


def softmax(x, axis=-1):
    x = x - x.max(axis=axis, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def gru_step(x, h, kernel, recurrent_kernel, bias):
    """Keras's GRU step (reset_after=True): gates ordered z, r, candidate."""
    units = h.shape[-1]
    input_bias, recurrent_bias = bias
    xw = x @ kernel + input_bias
    hu = h @ recurrent_kernel + recurrent_bias
    z = sigmoid(xw[:, :units] + hu[:, :units])
    r = sigmoid(xw[:, units : 2 * units] + hu[:, units : 2 * units])
    candidate = np.tanh(xw[:, 2 * units :] + r * hu[:, 2 * units :])
    return z * h + (1.0 - z) * candidate


def gru_sequence(xs, h, kernel, recurrent_kernel, bias, mask=None):
    """Runs `gru_step` over time; masked steps keep the previous state."""
    outputs = []
    for t in range(xs.shape[1]):
        new_h = gru_step(xs[:, t], h, kernel, recurrent_kernel, bias)
        if mask is not None:
            new_h = np.where(mask[:, t : t + 1], new_h, h)
        h = new_h
        outputs.append(h)
    return np.stack(outputs, axis=1), h


def additive_attention(s, h, w_q, w_k, v, mask=None):
    """Bahdanau: e_i = v . tanh(W_q s + W_k h_i); a = softmax(e); c = sum a_i h_i."""
    scores = np.tanh((s @ w_q)[:, None, :] + h @ w_k) @ v  # (batch, S)
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    weights = softmax(scores)
    return (weights[:, :, None] * h).sum(axis=1), weights


def gru_parameter_count(input_dim, units):
    """Weights of a Keras GRU (reset_after=True: two bias vectors per gate)."""
    return 3 * (input_dim * units + units * units + 2 * units)
