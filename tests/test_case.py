"""`TestCase.run_layer_test`: one declarative check of a Keras layer.

Keras has no public layer-test helper, so this follows the shape of keras-hub's
`TestCase.run_layer_test`: config round trip through JSON, an eager and a symbolic
call with the expected output shapes, weight counts, mask propagation, one `fit`
step that moves the trainable weights, and a `.keras` save/load round trip with
`safe_mode=True` that reproduces the outputs.
"""

import json

import keras
import numpy as np
from keras import ops


def _to_numpy(x):
    return keras.tree.map_structure(lambda t: np.asarray(ops.convert_to_numpy(t)), x)


def _shape_of(x):
    return keras.tree.map_structure(lambda t: tuple(t.shape), x)


def _call(layer, data, call_kwargs):
    """Calls `layer` with positional data (array or list) or keyword data (dict)."""
    if isinstance(data, dict):
        return layer(**data, **call_kwargs)
    if isinstance(data, (list, tuple)):
        return layer(*data, **call_kwargs)
    return layer(data, **call_kwargs)


def _symbolic_inputs(data):
    def to_input(array):
        array = np.asarray(array)
        return keras.Input(shape=array.shape[1:], dtype=str(array.dtype))

    return keras.tree.map_structure(to_input, data)


class TestCase:
    """Base class for layer tests: numeric assertions plus `run_layer_test`."""

    # unittest-style name, as in keras-hub's TestCase.
    def assertAllClose(self, actual, expected, atol=1e-6, rtol=1e-6, msg=None):  # noqa: N802
        actual, expected = _to_numpy(actual), _to_numpy(expected)
        actual, expected = keras.tree.flatten(actual), keras.tree.flatten(expected)
        assert len(actual) == len(expected), f"{len(actual)} outputs, expected {len(expected)}"
        for a, e in zip(actual, expected):
            np.testing.assert_allclose(a, e, atol=atol, rtol=rtol, err_msg=msg or "")

    def run_layer_test(
        self,
        cls,
        init_kwargs,
        input_data,
        expected_output_shape,
        expected_output_data=None,
        expected_num_trainable_weights=None,
        expected_num_non_trainable_weights=0,
        call_kwargs=None,
        input_mask=None,
        expected_output_mask=None,
        run_training_check=True,
        run_saving_check=True,
        tmp_path=None,
        atol=1e-6,
    ):
        """Runs every generic check on `cls(**init_kwargs)` called on `input_data`.

        Args:
            cls: the layer class.
            init_kwargs: dict, the constructor arguments.
            input_data: an array, a list of arrays (positional call arguments) or a
                dict of arrays (keyword call arguments); the first axis is the batch.
            expected_output_shape: the shape, or nested structure of shapes, of the
                output for `input_data`.
            expected_output_data: optional expected output values.
            expected_num_trainable_weights: optional count of trainable weights.
            expected_num_non_trainable_weights: count of non-trainable weights.
            call_kwargs: extra non-tensor call arguments.
            input_mask: optional mask passed to `compute_mask`.
            expected_output_mask: the mask `compute_mask(input_data, input_mask)`
                must return (`None` included, checked only if `input_mask` is set).
            run_training_check: run one `fit` step and check weights move.
            run_saving_check: save and reload as `.keras` with `safe_mode=True`.
            tmp_path: a folder for the saving check (pytest's `tmp_path`).
            atol: tolerance for output comparisons.
        """
        call_kwargs = call_kwargs or {}
        self._check_config_round_trip(cls, init_kwargs)

        layer = cls(**init_kwargs)
        output = _call(layer, input_data, call_kwargs)
        assert _shape_of(output) == _normalize_shapes(expected_output_shape), (
            f"eager output shape {_shape_of(output)} != {expected_output_shape}"
        )
        if expected_output_data is not None:
            self.assertAllClose(output, expected_output_data, atol=atol, rtol=atol)
        if expected_num_trainable_weights is not None:
            assert len(layer.trainable_weights) == expected_num_trainable_weights, (
                f"trainable weights: {[w.path for w in layer.trainable_weights]}"
            )
        assert len(layer.non_trainable_weights) == expected_num_non_trainable_weights

        if input_mask is not None:
            mask = layer.compute_mask(input_data, input_mask)
            if expected_output_mask is None:
                assert mask is None, f"expected no output mask, got {mask}"
            else:
                self.assertAllClose(mask, expected_output_mask)

        model = self._check_symbolic_call(
            cls, init_kwargs, input_data, call_kwargs, expected_output_shape
        )
        if run_training_check:
            self._check_fit_step(model, input_data)
        if run_saving_check:
            assert tmp_path is not None, "run_saving_check needs tmp_path"
            self._check_saving(model, input_data, tmp_path, atol)

    def _check_config_round_trip(self, cls, init_kwargs):
        layer = cls(**init_kwargs)
        config = layer.get_config()
        for key, value in init_kwargs.items():
            assert key in config, f"get_config() lacks __init__ argument {key!r}"
            if not isinstance(value, (keras.layers.Layer, keras.initializers.Initializer)):
                assert _jsonable(config[key]) == _jsonable(value), (
                    f"get_config()[{key!r}] = {config[key]!r}, given {value!r}"
                )
        revived = cls.from_config(json.loads(json.dumps(_jsonable(config))))
        assert _jsonable(revived.get_config()) == _jsonable(config)

    def _check_symbolic_call(self, cls, init_kwargs, input_data, call_kwargs, expected):
        inputs = _symbolic_inputs(input_data)
        outputs = _call(cls(**init_kwargs), inputs, call_kwargs)
        expected = keras.tree.map_shape_structure(
            lambda s: (None,) + tuple(s[1:]), _normalize_shapes(expected)
        )
        assert _shape_of(outputs) == expected, (
            f"symbolic output shape {_shape_of(outputs)} != {expected}"
        )
        return keras.Model(inputs, outputs)

    def _check_fit_step(self, model, input_data):
        float_outputs = [
            i for i, t in enumerate(keras.tree.flatten(model.outputs)) if "float" in str(t.dtype)
        ]
        if not model.trainable_weights or not float_outputs:
            return
        before = [np.array(w.numpy()) for w in model.trainable_weights]
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        prediction = model.predict(input_data, verbose=0)
        targets = keras.tree.map_structure(
            lambda p: np.ones_like(p) if "float" in str(p.dtype) else p, prediction
        )
        model.fit(
            input_data,
            targets,
            batch_size=len(keras.tree.flatten(prediction)[0]),
            epochs=1,
            verbose=0,
        )
        moved = [not np.allclose(b, w.numpy()) for b, w in zip(before, model.trainable_weights)]
        assert any(moved), "one fit step changed no trainable weight"

    def _check_saving(self, model, input_data, tmp_path, atol):
        path = str(tmp_path / "layer_test_model.keras")
        expected = model.predict(input_data, verbose=0)
        model.save(path)
        revived = keras.saving.load_model(path, safe_mode=True)
        self.assertAllClose(revived.predict(input_data, verbose=0), expected, atol=atol, rtol=atol)


def _normalize_shapes(shapes):
    if isinstance(shapes, tuple) and all(isinstance(d, (int, type(None))) for d in shapes):
        return shapes
    return keras.tree.map_shape_structure(tuple, shapes)


def _jsonable(value):
    """What `value` becomes after a JSON round trip (tuples turn into lists)."""
    return json.loads(json.dumps(value, default=repr))
