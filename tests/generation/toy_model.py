"""A toy model on the generation seam, and an independent NumPy reference for it.

The toy's next-token logits are

    table[previous token] + state_table[(sum of the tokens fed so far) % M]
        + row_bias[row] + e_3 * (sum of the means of the extra memory tensors)

so they depend on the previous token (a Markov chain), on the recurrent state
(so a wrong beam reorder gives wrong numbers) and on memory of ranks 2 to 5 (so a
wrong beam expansion gives wrong numbers). Its attention at position `t` is
`source * (previous token + 1) + t`, per head.

The NumPy side recomputes all of it from the token prefix alone, in float64,
and decodes greedily, by beam search over Python lists, and exhaustively.
"""

import itertools

import numpy as np
from keras import ops

PAD, START, STOP = 0, 1, 2


class ToyModel:
    """Implements `encode` and `decode_step` with keras.ops on fixed tables.

    Args:
        table: `(vocab, vocab)` logits indexed by the previous token.
        state_table: optional `(M, vocab)` logits indexed by the token sum mod `M`;
            without it the state tuple is empty.
        heads: `None` for `(batch, source)` attention, an int for
            `(batch, heads, source)`, `0` for a model without attention.
        named: `True` to return the step's outputs by name: `{"attention": ...,
            "gate": ...}` (no `attention` with `heads=0`), where `gate` is
            `(batch, 2)`, `[previous token + 1, t + row_bias[row, 0]]`, so that a
            wrong beam reorder or a wrong position gives wrong numbers.
    """

    def __init__(self, table, state_table=None, heads=None, named=False):
        self.table = np.asarray(table, "float32")
        self.state_table = None if state_table is None else np.asarray(state_table, "float32")
        self.heads = heads
        self.named = named

    def encode(self, inputs):
        source = ops.convert_to_tensor(inputs["source"], "float32")
        memory = (source, ops.convert_to_tensor(inputs["row_bias"], "float32"))
        memory += tuple(ops.convert_to_tensor(x, "float32") for x in inputs.get("extras", ()))
        if self.state_table is None:
            return memory, ()
        return memory, (ops.zeros((ops.shape(source)[0], 1), "int32"),)

    def decode_step(self, token_ids, state, memory, index):
        source, row_bias, *extras = memory
        vocab = self.table.shape[0]
        logits = ops.take(self.table, token_ids, axis=0) + row_bias  # (batch, vocab)
        for extra in extras:
            mean = ops.mean(extra, axis=tuple(range(1, len(extra.shape))))  # (batch,)
            logits = logits + ops.expand_dims(mean, 1) * np.eye(vocab, dtype="float32")[3]
        if self.state_table is not None:
            (token_sum,) = state
            token_sum = token_sum + ops.expand_dims(token_ids, 1)  # (batch, 1)
            rows = token_sum[:, 0] % self.state_table.shape[0]
            logits = logits + ops.take(self.state_table, rows, axis=0)
            state = (token_sum,)
        previous = ops.expand_dims(ops.cast(token_ids, "float32") + 1.0, 1)
        attention = source * previous + ops.cast(index, "float32")  # (batch, source)
        if self.heads == 0:
            attention = ops.zeros((ops.shape(token_ids)[0], 0))  # (batch, 0)
        elif self.heads is not None:
            attention = ops.stack([attention * (h + 1) for h in range(self.heads)], axis=1)
        if not self.named:
            return logits, state, attention
        position = ops.zeros_like(previous) + ops.cast(index, "float32")  # (batch, 1)
        outputs = {"gate": ops.concatenate([previous, position + row_bias[:, :1]], axis=1)}
        if self.heads != 0:
            outputs["attention"] = attention
        return logits, state, outputs


def random_inputs(batch, vocab, source=4, extras=True, seed=0):
    rng = np.random.default_rng(seed)
    inputs = {
        "source": rng.normal(size=(batch, source)).astype("float32"),
        "row_bias": rng.normal(size=(batch, vocab)).astype("float32"),
    }
    if extras:
        inputs["extras"] = [
            rng.normal(size=(batch,) + (2,) * (rank - 1)).astype("float32") for rank in (3, 4, 5)
        ]
    return inputs


# ---- NumPy reference ----------------------------------------------------------


def log_probs(model, inputs, row, prefix):
    """float64 log-probabilities of the next token after `prefix` in `row`."""
    previous = prefix[-1] if prefix else START
    logits = model.table[previous].astype("float64") + inputs["row_bias"][row]
    for extra in inputs.get("extras", ()):
        logits[3] += extra[row].mean()
    if model.state_table is not None:
        logits += model.state_table[(START + sum(prefix)) % len(model.state_table)]
    logits -= logits.max()
    return logits - np.log(np.exp(logits).sum())


def attention(model, inputs, row, prefix):
    """The toy's attention for the step that follows `prefix` in `row`."""
    previous = prefix[-1] if prefix else START
    weights = inputs["source"][row] * (previous + 1.0) + len(prefix)
    if model.heads == 0:
        return weights[:0]
    if model.heads is not None:
        return np.stack([weights * (h + 1) for h in range(model.heads)])
    return weights


def gate(inputs, row, prefix):
    """The named toy's `gate` output for the step that follows `prefix` in `row`."""
    previous = prefix[-1] if prefix else START
    return np.array([previous + 1.0, len(prefix) + inputs["row_bias"][row][0]])


def length_penalty(length, alpha):
    return ((5.0 + length) / 6.0) ** alpha


def padded(model, inputs, row, tokens, max_length, pad_id=PAD):
    """The ids row and attention buffer row `generate` should return for `tokens`."""
    ids = np.full(max_length, pad_id)
    ids[: len(tokens)] = tokens
    first = attention(model, inputs, row, [])
    weights = np.zeros((max_length,) + first.shape)
    for t in range(len(tokens)):
        weights[t] = attention(model, inputs, row, list(tokens[:t]))
    return ids, weights


def greedy(model, inputs, row, max_length):
    """(tokens, log-probability) of the step-by-step argmax path."""
    tokens, score = [], 0.0
    while len(tokens) < max_length and STOP not in tokens:
        step = log_probs(model, inputs, row, tokens)
        tokens.append(int(np.argmax(step)))
        score += step[tokens[-1]]
    return tokens, score


def beam(model, inputs, row, max_length, beam_width, alpha=0.0):
    """(tokens, penalised score) of beam search over a list of hypotheses."""
    beams = [((), 0.0)]
    for _ in range(max_length):
        if all(STOP in tokens for tokens, _ in beams):
            break
        candidates = []
        for tokens, score in beams:
            if STOP in tokens:
                candidates.append((tokens, score))  # finished: kept as it is
                continue
            step = log_probs(model, inputs, row, list(tokens))
            candidates += [(tokens + (v,), score + step[v]) for v in range(len(step))]
        beams = sorted(candidates, key=lambda c: -c[1])[:beam_width]
    return max(
        ((list(t), s / length_penalty(len(t), alpha)) for t, s in beams),
        key=lambda c: c[1],
    )


def exhaustive(model, inputs, row, max_length, alpha=0.0):
    """(tokens, penalised score) of the best of every possible output."""
    vocab = model.table.shape[0]
    best = (None, -np.inf)
    for length in range(1, max_length + 1):
        for tokens in itertools.product(range(vocab), repeat=length):
            if STOP in tokens[:-1] or (length < max_length and tokens[-1] != STOP):
                continue  # not an output: goes on after STOP, or stops too early
            score = sum(
                log_probs(model, inputs, row, list(tokens[:t]))[tokens[t]] for t in range(length)
            )
            score /= length_penalty(length, alpha)
            if score > best[1]:
                best = (list(tokens), score)
    return best


class KerasToyModel:
    """The seam on real, unbuilt Keras layers: an embedding, a GRU cell, a dense head.

    Its layers are built by the first `decode_step`, which the engine runs before
    its loop; inside the loop (traced on JAX and in `tf.function`) they only read
    their weights.
    """

    def __init__(self, vocab, units=8):
        import keras

        self.embedding = keras.layers.Embedding(vocab, units)
        self.cell = keras.layers.GRUCell(units)
        self.head = keras.layers.Dense(vocab)

    def encode(self, inputs):
        source = ops.convert_to_tensor(inputs["source"], "float32")  # (batch, source)
        state = ops.tanh(ops.tile(ops.mean(source, axis=1, keepdims=True), (1, 8)))
        return (source,), (state,)

    def decode_step(self, token_ids, state, memory, index):
        output, new_state = self.cell(self.embedding(token_ids), list(state))
        (source,) = memory
        attention = ops.softmax(source * ops.mean(output, axis=1, keepdims=True))
        return self.head(output), tuple(new_state), attention
