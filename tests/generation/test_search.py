import math

import keras
import numpy as np
import pytest
from keras import ops

from keras_seqattn.generation import GenerationOutput, beam_search, generate, greedy_search
from tests.generation import toy_model
from tests.generation.toy_model import PAD, START, STOP, ToyModel, random_inputs
from tests.test_case import TestCase

VOCAB = 6
IDS = {"start_id": START, "stop_id": STOP}


def _random_model(vocab=VOCAB, stateful=True, heads=None, seed=0):
    rng = np.random.default_rng(seed)
    table = rng.normal(scale=2.0, size=(vocab, vocab))
    table[:, STOP] += 0.5  # stop often enough to exercise finished rows
    state_table = rng.normal(scale=2.0, size=(3, vocab)) if stateful else None
    return ToyModel(table, state_table, heads=heads)


def _chain_model():
    """Deterministic: START -> (row bias), 3 -> 4 -> STOP, 5 -> 5 -> ... forever."""
    table = np.full((VOCAB, VOCAB), -20.0)
    table[START] = 0.0  # the row bias picks the first token
    table[3, 4] = table[4, STOP] = table[5, 5] = 20.0
    table[STOP, PAD] = table[PAD, PAD] = 20.0
    return ToyModel(table)


def _chain_inputs():
    """Row 0 stops at once, row 1 after 3 -> 4, row 2 never stops."""
    inputs = random_inputs(batch=3, vocab=VOCAB, extras=False)
    inputs["row_bias"] = np.zeros((3, VOCAB), "float32")
    for row, first in enumerate((STOP, 3, 5)):
        inputs["row_bias"][row, first] = 5.0
    return inputs


def _numpy(output):
    return GenerationOutput(*keras.tree.map_structure(ops.convert_to_numpy, tuple(output)))


def _expected(model, inputs, paths, max_length, pad_id=PAD):
    """ids, lengths and attention `generate` should return for the token paths."""
    rows = [toy_model.padded(model, inputs, r, p, max_length, pad_id) for r, p in enumerate(paths)]
    return (
        np.stack([ids for ids, _ in rows]),
        np.array([len(p) for p in paths]),
        np.stack([weights for _, weights in rows]),
    )


CONFIGS = {
    "state_and_memory_ranks_2_to_5": dict(stateful=True, heads=None, extras=True),
    "no_state_multi_head": dict(stateful=False, heads=2, extras=True),
    "no_attention": dict(stateful=True, heads=0, extras=False),
}


def _config(name, batch=3, seed=0):
    config = CONFIGS[name]
    model = _random_model(stateful=config["stateful"], heads=config["heads"], seed=seed)
    inputs = random_inputs(batch, VOCAB, extras=config["extras"], seed=seed)
    return model, inputs


class TestGreedySearch(TestCase):
    @pytest.mark.parametrize("name", sorted(CONFIGS))
    def test_matches_numpy_argmax_path(self, name):
        model, inputs = _config(name, batch=4)
        output = _numpy(generate(model, inputs, max_length=6, **IDS))
        paths, scores = zip(*(toy_model.greedy(model, inputs, r, 6) for r in range(4)))
        ids, lengths, weights = _expected(model, inputs, paths, 6)
        np.testing.assert_array_equal(output.ids, ids)
        np.testing.assert_array_equal(output.lengths, lengths)
        self.assertAllClose(output.scores, np.array(scores), atol=1e-5, rtol=1e-5)
        self.assertAllClose(output.attention, weights, atol=1e-5, rtol=1e-5)
        assert output.ids.dtype == output.lengths.dtype == np.int32
        assert output.scores.dtype == output.attention.dtype == np.float32

    def test_output_shapes(self):
        model, inputs = _config("no_state_multi_head", batch=2)
        output = generate(model, inputs, max_length=5, **IDS)
        assert isinstance(output, GenerationOutput)
        shapes = [tuple(x.shape) for x in output[:4]]
        assert shapes == [(2, 5), (2,), (2,), (2, 5, 2, 4)]
        assert list(output.steps) == ["attention"] and output.steps["attention"] is output.attention
        model, inputs = _config("no_attention", batch=2)
        assert tuple(generate(model, inputs, max_length=5, **IDS).attention.shape) == (2, 5, 0)

    @pytest.mark.parametrize("search", ["greedy", "beam"])
    @pytest.mark.parametrize("pad_id", [PAD, -1])
    def test_rows_stop_at_different_steps_and_pad_after(self, search, pad_id):
        model, inputs = _chain_model(), _chain_inputs()
        beam_width = 1 if search == "greedy" else 3
        output = _numpy(
            generate(model, inputs, max_length=5, beam_width=beam_width, pad_id=pad_id, **IDS)
        )
        paths = [[STOP], [3, 4, STOP], [5, 5, 5, 5, 5]]
        ids, lengths, weights = _expected(model, inputs, paths, 5, pad_id)
        np.testing.assert_array_equal(output.ids, ids)
        np.testing.assert_array_equal(output.lengths, [1, 3, 5])
        self.assertAllClose(output.attention, weights, atol=1e-5)
        for row, length in enumerate(lengths):
            assert np.all(output.attention[row, length:] == 0)
            assert np.all(output.attention[row, :length] != 0)

    @pytest.mark.parametrize("beam_width", [1, 4])
    def test_model_that_never_stops_fills_max_length(self, beam_width):
        model = _random_model(stateful=True)
        model.table[:, STOP] = -1e4
        inputs = random_inputs(2, VOCAB)
        inputs["row_bias"][:, STOP] = 0.0
        output = _numpy(generate(model, inputs, max_length=7, beam_width=beam_width, **IDS))
        np.testing.assert_array_equal(output.lengths, [7, 7])
        assert not np.any(output.ids == STOP)
        assert np.all(np.abs(output.attention).sum(axis=-1) > 0)

    def test_max_length_one(self):
        model, inputs = _config("state_and_memory_ranks_2_to_5", batch=2)
        for beam_width in (1, 3):
            output = _numpy(generate(model, inputs, max_length=1, beam_width=beam_width, **IDS))
            assert output.ids.shape == (2, 1)
            np.testing.assert_array_equal(output.lengths, [1, 1])


class TestBeamSearch(TestCase):
    @pytest.mark.parametrize(
        "name, length_penalty",
        [(name, 0.0) for name in sorted(CONFIGS)] + [("state_and_memory_ranks_2_to_5", 0.7)],
    )
    def test_width_one_is_exactly_greedy(self, name, length_penalty):
        model, inputs = _config(name, batch=4, seed=1)
        kwargs = dict(max_length=6, length_penalty=length_penalty, **IDS)
        greedy = _numpy(greedy_search(model, inputs, **kwargs))
        beam = _numpy(beam_search(model, inputs, beam_width=1, **kwargs))
        for field in GenerationOutput._fields[:4]:
            np.testing.assert_array_equal(getattr(beam, field), getattr(greedy, field))
        assert beam.steps.keys() == greedy.steps.keys() == {"attention"}

    @pytest.mark.parametrize("length_penalty", [0.0, 0.6, 2.0])
    def test_full_width_finds_the_best_sequence(self, length_penalty):
        vocab, max_length = 5, 3
        model = _random_model(vocab=vocab, seed=2)
        inputs = random_inputs(3, vocab, seed=2)
        output = _numpy(
            generate(
                model,
                inputs,
                max_length=max_length,
                beam_width=vocab**max_length,
                length_penalty=length_penalty,
                **IDS,
            )
        )
        best = [
            toy_model.exhaustive(model, inputs, r, max_length, length_penalty) for r in range(3)
        ]
        ids, lengths, weights = _expected(model, inputs, [b[0] for b in best], max_length)
        np.testing.assert_array_equal(output.ids, ids)
        np.testing.assert_array_equal(output.lengths, lengths)
        self.assertAllClose(output.scores, np.array([b[1] for b in best]), atol=1e-5, rtol=1e-5)
        self.assertAllClose(output.attention, weights, atol=1e-5, rtol=1e-5)

    @pytest.mark.parametrize("beam_width, length_penalty", [(2, 0.0), (3, 1.0), (7, 0.0), (7, 1.0)])
    def test_matches_numpy_beam_search_with_stateful_logits(self, beam_width, length_penalty):
        # The logits depend on the token sum carried in the state, so a state left
        # in the order of the previous step gives other tokens and scores.
        model, inputs = _config("state_and_memory_ranks_2_to_5", batch=4, seed=3)
        output = _numpy(
            generate(
                model,
                inputs,
                max_length=6,
                beam_width=beam_width,
                length_penalty=length_penalty,
                **IDS,
            )
        )
        best = [toy_model.beam(model, inputs, r, 6, beam_width, length_penalty) for r in range(4)]
        ids, lengths, weights = _expected(model, inputs, [b[0] for b in best], 6)
        np.testing.assert_array_equal(output.ids, ids)
        np.testing.assert_array_equal(output.lengths, lengths)
        self.assertAllClose(output.scores, np.array([b[1] for b in best]), atol=1e-5, rtol=1e-5)
        self.assertAllClose(output.attention, weights, atol=1e-5, rtol=1e-5)

    def test_length_penalty_changes_the_choice(self):
        # P(STOP) = 0.4 and P(3 STOP) = 0.6 * 0.6 = 0.36: the short output wins on
        # log-probability, the long one once divided by lp(2) = 7/6 (alpha = 1).
        table = np.full((VOCAB, VOCAB), -1e4)
        table[START, STOP], table[START, 3] = math.log(0.4), math.log(0.6)
        table[3, STOP], table[3, 3] = math.log(0.6), math.log(0.4)
        model = ToyModel(table)
        inputs = random_inputs(1, VOCAB, extras=False)
        inputs["row_bias"][:] = 0.0
        kwargs = dict(max_length=3, beam_width=2, **IDS)
        raw = _numpy(generate(model, inputs, length_penalty=0.0, **kwargs))
        np.testing.assert_array_equal(raw.ids, [[STOP, PAD, PAD]])
        self.assertAllClose(raw.scores, np.array([math.log(0.4)]), atol=1e-5)
        penalised = _numpy(generate(model, inputs, length_penalty=1.0, **kwargs))
        np.testing.assert_array_equal(penalised.ids, [[3, STOP, PAD]])
        np.testing.assert_array_equal(penalised.lengths, [2])
        self.assertAllClose(penalised.scores, np.array([math.log(0.36) / (7 / 6)]), atol=1e-5)

    def test_more_beams_than_tokens(self):
        model, inputs = _config("no_state_multi_head", batch=2, seed=4)
        output = _numpy(generate(model, inputs, max_length=4, beam_width=VOCAB * 3, **IDS))
        best = [toy_model.beam(model, inputs, r, 4, VOCAB * 3) for r in range(2)]
        np.testing.assert_array_equal(
            output.ids, _expected(model, inputs, [b[0] for b in best], 4)[0]
        )
        self.assertAllClose(output.scores, np.array([b[1] for b in best]), atol=1e-5, rtol=1e-5)


class TestArguments:
    @pytest.mark.parametrize(
        "kwargs, message",
        [
            ({"beam_width": 0}, "Received: beam_width=0"),
            ({"beam_width": 2.0}, "Received: beam_width=2.0"),
            ({"beam_width": True}, "Received: beam_width=True"),
            ({"max_length": 0}, "Received: max_length=0"),
            ({"max_length": None}, "Received: max_length=None"),
            ({"length_penalty": -0.5}, "Received: length_penalty=-0.5"),
            ({"length_penalty": float("nan")}, "Received: length_penalty=nan"),
            ({"length_penalty": float("inf")}, "Received: length_penalty=inf"),
            ({"length_penalty": "0.6"}, "Received: length_penalty='0.6'"),
            ({"stop_id": "[STOP]"}, "Received: stop_id='[STOP]'"),
        ],
    )
    def test_bad_arguments_raise(self, kwargs, message):
        model, inputs = _config("no_attention", batch=1)
        arguments = dict(max_length=4, **IDS) | kwargs
        with pytest.raises(ValueError, match=f"{message}$".replace("[", r"\[").replace("]", r"\]")):
            generate(model, inputs, **arguments)

    def test_encode_must_return_tuples(self):
        class Broken(ToyModel):
            def encode(self, inputs):
                memory, _ = super().encode(inputs)
                return memory, memory[0]

        model = Broken(np.zeros((VOCAB, VOCAB)))
        with pytest.raises(TypeError, match="state"):
            generate(model, random_inputs(1, VOCAB), max_length=3, **IDS)


def _compiled_case(beam_width):
    model, inputs = _config("state_and_memory_ranks_2_to_5", batch=3, seed=5)
    kwargs = dict(max_length=6, beam_width=beam_width, length_penalty=0.6, **IDS)
    return model, inputs, kwargs, _numpy(generate(model, inputs, **kwargs))


class TestCompiled(TestCase):
    @pytest.mark.only_backend("tensorflow", reason="tf.function and TFLite")
    @pytest.mark.parametrize("beam_width", [1, 3])
    def test_tf_function_of_unknown_batch_and_tflite_builtins(self, beam_width):
        import tensorflow as tf
        from ai_edge_litert.interpreter import Interpreter

        model, inputs, kwargs, eager = _compiled_case(beam_width)
        flat_inputs = tf.nest.flatten(inputs)
        specs = [tf.TensorSpec((None,) + x.shape[1:], tf.float32) for x in flat_inputs]

        @tf.function(input_signature=specs)
        def run(*flat):
            inputs_ = tf.nest.pack_sequence_as(inputs, list(flat))
            return tuple(generate(model, inputs_, **kwargs))

        self.assertAllClose(_numpy(run(*flat_inputs)), eager, atol=1e-5, rtol=1e-5)
        # Builtins only: an op that needs Flex (argmax, TensorList...) fails here.
        converter = tf.lite.TFLiteConverter.from_concrete_functions(
            [run.get_concrete_function()], run
        )
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        interpreter = Interpreter(model_content=converter.convert())
        for detail, x in zip(interpreter.get_input_details(), flat_inputs):
            interpreter.resize_tensor_input(detail["index"], x.shape)
        interpreter.allocate_tensors()
        for detail, x in zip(interpreter.get_input_details(), flat_inputs):
            interpreter.set_tensor(detail["index"], x)
        interpreter.invoke()
        outputs = [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]
        for expected in eager[:4]:  # in the converter's order: match by value (steps: attention)
            assert any(
                o.shape == expected.shape and np.allclose(o, expected, atol=1e-4) for o in outputs
            ), f"no TFLite output matches {expected}"

    @pytest.mark.only_backend("jax", reason="jax.jit")
    @pytest.mark.parametrize("beam_width", [1, 3])
    def test_jax_jit(self, beam_width):
        import jax

        model, inputs, kwargs, eager = _compiled_case(beam_width)
        compiled = jax.jit(lambda inputs_: tuple(generate(model, inputs_, **kwargs)))
        self.assertAllClose(_numpy(compiled(inputs)), eager, atol=1e-5, rtol=1e-5)


class TestKerasLayers(TestCase):
    def test_greedy_follows_step_by_step_decoding(self):
        model = toy_model.KerasToyModel(VOCAB)
        inputs = random_inputs(3, VOCAB, seed=6)
        output = _numpy(generate(model, inputs, max_length=5, **IDS))
        # The same steps in a plain Python loop, eagerly, argmax in NumPy.
        memory, state = model.encode(inputs)
        tokens = np.full(3, START, "int32")
        done = np.zeros(3, bool)
        for t in range(5):
            logits, state, weights = model.decode_step(
                ops.convert_to_tensor(tokens), state, memory, ops.convert_to_tensor(t, "int32")
            )
            tokens = np.where(done, PAD, ops.convert_to_numpy(logits).argmax(-1)).astype("int32")
            np.testing.assert_array_equal(output.ids[:, t], tokens)
            expected = np.where(done[:, None], 0.0, ops.convert_to_numpy(weights))
            self.assertAllClose(output.attention[:, t], expected, atol=1e-5, rtol=1e-5)
            done |= tokens == STOP
        beam = _numpy(beam_search(model, inputs, max_length=5, beam_width=1, **IDS))
        np.testing.assert_array_equal(beam.ids, output.ids)
        wide = _numpy(generate(model, inputs, max_length=5, beam_width=4, **IDS))
        assert wide.ids.shape == (3, 5) and np.all(np.isfinite(wide.scores))
