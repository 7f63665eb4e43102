"""Named per-step outputs: the engine buffers every one by name, in every search.

The named toy (`ToyModel(named=True)`) returns `{"attention", "gate"}`; its `gate`
depends on the previous token, the position and the row, so a buffer reordered
with the wrong beam, written at the wrong position or left unmasked after the end
gives numbers that the NumPy recomputation along the returned ids does not.
"""

import re

import numpy as np
import pytest
from keras import ops

from keras_seqattn.generation import generate
from tests.applications import tiny_models
from tests.generation import toy_model
from tests.generation.toy_model import START, STOP, ToyModel, random_inputs

VOCAB = 6
IDS = {"start_id": START, "stop_id": STOP}
SEARCHES = {
    "greedy": dict(beam_width=1),
    "beam": dict(beam_width=3, length_penalty=0.6),
    "apart": dict(
        beam_width=3, length_penalty=1.0, length_penalty_form="power", finished_beams="apart"
    ),
}


def _models(heads=None, seed=0):
    rng = np.random.default_rng(seed)
    table = rng.normal(scale=2.0, size=(VOCAB, VOCAB))
    table[:, STOP] += 0.5  # rows stop at different steps
    state_table = rng.normal(scale=2.0, size=(3, VOCAB))
    return (
        ToyModel(table, state_table, heads=heads),
        ToyModel(table, state_table, heads=heads, named=True),
    )


def _numpy(tree):
    return {name: ops.convert_to_numpy(value) for name, value in tree.items()}


@pytest.mark.parametrize("search", sorted(SEARCHES))
def test_every_named_output_is_buffered_along_the_returned_tokens(search):
    plain, named = _models()
    inputs = random_inputs(4, VOCAB, seed=3)
    settings = dict(max_length=6, **IDS, **SEARCHES[search])
    expected = generate(plain, inputs, **settings)
    output = generate(named, inputs, **settings)
    # Naming the outputs changes no choice, and `attention` is the named one.
    for field in ("ids", "lengths", "scores", "attention"):
        np.testing.assert_array_equal(
            ops.convert_to_numpy(getattr(output, field)),
            ops.convert_to_numpy(getattr(expected, field)),
        )
    steps = _numpy(output.steps)
    assert sorted(steps) == ["attention", "gate"]
    np.testing.assert_array_equal(steps["attention"], ops.convert_to_numpy(output.attention))
    ids, lengths = ops.convert_to_numpy(output.ids), ops.convert_to_numpy(output.lengths)
    assert steps["gate"].shape == (4, 6, 2) and steps["gate"].dtype == np.float32
    for row, length in enumerate(lengths):
        tokens = [int(t) for t in ids[row, :length]]
        want = [toy_model.gate(inputs, row, tokens[:t]) for t in range(length)]
        np.testing.assert_allclose(steps["gate"][row, :length], want, rtol=1e-6)
        assert not steps["gate"][row, length:].any()  # zero after the end


def test_a_step_without_attention_names_only_what_it_has():
    plain, named = _models(heads=0)
    inputs = random_inputs(2, VOCAB, extras=False)
    for beam_width in (1, 2):
        output = generate(named, inputs, max_length=5, beam_width=beam_width, **IDS)
        assert sorted(output.steps) == ["gate"]
        assert tuple(output.attention.shape) == (2, 5, 0)
        expected = generate(plain, inputs, max_length=5, beam_width=beam_width, **IDS)
        assert sorted(expected.steps) == ["attention"]  # a tensor is the attention


@pytest.mark.parametrize(
    "outputs, names",
    [({}, "[]"), ({"not a name": 1.0}, "['not a name']"), ({3: 1.0}, "[3]")],
)
def test_outputs_that_are_not_named_tensors_are_refused(outputs, names):
    class Model(ToyModel):
        def decode_step(self, token_ids, state, memory, index):
            logits, state, _ = super().decode_step(token_ids, state, memory, index)
            return logits, state, {k: ops.ones((ops.shape(token_ids)[0], 1)) for k in outputs}

    model = Model(np.zeros((VOCAB, VOCAB)))
    with pytest.raises(
        ValueError, match=r"mapping from names .*Received names: " + re.escape(names)
    ):
        generate(model, random_inputs(2, VOCAB, extras=False), max_length=3, **IDS)


def test_results_of_an_application_carry_every_named_output():
    """Through the compiled `Generator` to `GenerationResult.steps`, trimmed per row.

    Beam search (reordered buffers) on per-head attention `(batch, heads, source)`;
    every application shares `Generator` and `from_output`, and the searches are
    checked on every output shape by the toy above.
    """
    model = tiny_models.BUILDS["TransformerSeq2Seq"]()
    inputs = tiny_models.generation_inputs(model)
    result = model.translate(inputs, beam_width=2)
    attention = result.steps["attention"]
    assert len(attention) == len(result.attention) == len(inputs)
    for row, length in enumerate(result.lengths):
        assert attention[row].shape[0] == length
        # `attention_heads` drops the input's padding positions; `steps` keeps them.
        heads = result.attention_heads[row]  # (length, heads, real source)
        np.testing.assert_array_equal(attention[row][..., : heads.shape[-1]], heads)
        np.testing.assert_allclose(heads.mean(axis=1), result.attention[row], rtol=1e-6)
