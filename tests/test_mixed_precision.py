"""Every application under `mixed_float16` and `mixed_bfloat16`: fit, generate, save, TFLite.

A mixed model gets the float32 model's weights (its variables stay float32) and
must then generate the same ids as the float32 model for as long as the float32
model's choice is clear: until the first step where its two best next tokens are
closer than `MARGIN` in log-probability, a gap half precision cannot blur.

On TensorFlow, the mixed model's `model.tflite` (converted as `export_model`
converts it) must be the float32 model's: TFLite takes no bfloat16 and no
float16 graph, so the export converts a float32 copy. Every case checks that
copy; one case per TFLite plan converts it and runs it in LiteRT (`CONVERTED`).

The float32 model both policies compare with is trained once per application
(`_float32_reference`).
"""

import functools

import keras
import numpy as np
import pytest

from keras_seqattn import applications, saving
from keras_seqattn.export import _tflite
from keras_seqattn.models._dtype_policy import policy_scope
from tests.applications import tiny_models
from tests.conftest import BACKEND
from tests.export.export_checks import assert_builtin_ops, litert_outputs

POLICIES = ("mixed_float16", "mixed_bfloat16")
MARGIN = 0.05  # log-probability; bfloat16 keeps 8 bits of mantissa


def _decisive_steps(model, inputs, ids):
    """Per row, the steps before the first one where `model` barely chose `ids`.

    The float32 model's logits along its own greedy output (teacher forcing: the
    training graph fed `[START]` and the ids so far) give the gap between the
    chosen token and the runner-up at every step.
    """
    start = model.target_tokenizer.start_id if hasattr(model, "target_tokenizer") else None
    start = model.tokenizer.start_id if start is None else start
    length = ids.shape[1]
    previous = np.concatenate([np.full((len(ids), 1), start), ids[:, :-1]], axis=1)
    if hasattr(model, "translate"):
        features = {"source_ids": model.tokenize_sources(inputs), "target_ids": previous}
    else:
        features = {"images": model.prepare_images(inputs), "target_ids": previous}
    logits = np.asarray(model.predict_on_batch(features), "float64")[:, :length]
    top2 = np.sort(logits, axis=-1)[..., -2:]
    gaps = top2[..., 1] - top2[..., 0]  # (batch, length): log-softmax gaps equal logit gaps
    steps = []
    for row, row_ids in zip(gaps, ids):
        close = np.flatnonzero(row < MARGIN)
        stop = np.flatnonzero(row_ids == 0)  # after [STOP] the buffer holds padding
        steps.append(int(min([length, *close[:1], *stop[:1]])))
    return steps


def _fit_steps(model, steps=2):
    """Losses of `steps` training steps at a learning rate that moves a tiny model."""
    if isinstance(model, applications.VisionTransformer):
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        model.compile(keras.optimizers.Adam(1e-2), loss)
    else:
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
    data = tiny_models.batches(model, 8).repeat()
    return model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0).history["loss"]


# The mixed models converted and run in LiteRT: one per TFLite plan (translation,
# captioning, classification), recurrent and Transformer, both policies. What a
# mixed model's `model.tflite` is, the float32 copy, is checked for every case;
# that copy is the float32 model bit for bit, whose own `model.tflite` every
# application runs in LiteRT in tests/export/test_every_application_export.py.
CONVERTED = {
    ("Seq2SeqRNN", "mixed_bfloat16"),  # a GRU's TensorList, which takes no bfloat16
    ("TransformerSeq2Seq", "mixed_float16"),  # float16 MatMuls, which TFLite refuses
    ("AttentionCaptioner", "mixed_float16"),  # export_model converts a bfloat16 captioner
    ("VisionTransformer", "mixed_bfloat16"),
}


def _check_tflite(name, policy, mixed, full, inputs, expected):
    """The mixed model's `model.tflite` is the float32 model: its weights, its outputs.

    Every case checks the float32 copy that the export converts (the float32
    model's class, config and weights, bit for bit). A conversion costs seconds, so
    the `CONVERTED` cases convert and run it in LiteRT: ids equal to the float32
    Keras model's, probabilities and scores close.
    """
    twin = _tflite.Float32Model(mixed).get()
    assert type(twin) is type(full) and twin.dtype_policy.name == "float32"
    assert {**twin.get_config(), "name": ""} == {**full.get_config(), "name": ""}
    for a, b in zip(twin.get_weights(), full.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    if (name, policy) not in CONVERTED:
        return
    litert, ops = litert_outputs(mixed, inputs)
    assert_builtin_ops(ops)
    if isinstance(full, applications.VisionTransformer):
        probabilities = np.exp(expected - expected.max(-1, keepdims=True))
        probabilities /= probabilities.sum(-1, keepdims=True)
        np.testing.assert_allclose(litert["probabilities"], probabilities, atol=1e-5)
        np.testing.assert_array_equal(litert["top_k_indices"][:, 0], expected.argmax(-1))
    else:
        np.testing.assert_array_equal(litert["ids"], expected.ids)
        np.testing.assert_allclose(litert["scores"], expected.scores, atol=1e-4)


def _cases():
    for name in tiny_models.BUILDS:
        for policy in POLICIES:
            marks = []
            if BACKEND == "jax" and policy == "mixed_float16" and "Transformer" in name:
                # Keras's fused attention asks XLA for float16 x float16 -> float32
                # matmuls, which XLA:CPU does not have (GPUs do): "The precision
                # 'F16_F16_F32' is not supported by dot_general on CPU".
                marks.append(pytest.mark.xfail(raises=ValueError, strict=True))
            yield pytest.param(name, policy, marks=marks)


@functools.cache
def _float32_reference(name):
    """`(weights, inputs, expected, steps)` of the float32 model that both policies'
    cases compare with: trained once per application, as NumPy (no model outlives
    its test's `clear_session`). `expected` is the ViT's logits or the generated
    output; `steps` are `_decisive_steps()` (`None` for the ViT)."""
    keras.utils.set_random_seed(0)
    full = tiny_models.BUILDS[name]()
    _fit_steps(full, steps=24)  # so that its choices are not all ties
    inputs = tiny_models.generation_inputs(full)
    if isinstance(full, applications.VisionTransformer):
        logits = np.asarray(full.predict_on_batch(inputs), "float64")
        return full.get_weights(), inputs, logits, None
    expected = getattr(full, _generate(full))(inputs)
    steps = _decisive_steps(full, inputs, expected.ids)
    assert sum(steps) > 0, f"{name}: no decisive step in {expected.ids}"
    return full.get_weights(), inputs, expected, steps


def _generate(model):
    return "translate" if hasattr(model, "translate") else "caption"


@pytest.mark.parametrize(("name", "policy"), _cases())
def test_mixed_precision_trains_and_generates_as_float32(name, policy, tmp_path):
    weights, inputs, expected, steps = _float32_reference(name)
    full = tiny_models.BUILDS[name]()  # the float32 model again, for the TFLite checks
    full.set_weights(weights)
    with policy_scope(policy):
        mixed = tiny_models.BUILDS[name]()
    assert mixed.compute_dtype == policy.split("_")[1]
    assert {v.dtype for v in mixed.trainable_variables} == {"float32"}
    mixed.set_weights(weights)

    if isinstance(full, applications.VisionTransformer):
        got = np.asarray(mixed.predict_on_batch(inputs), "float64")
        top2 = np.sort(expected, -1)[:, -2:]
        clear = top2[:, 1] - top2[:, 0] >= MARGIN
        np.testing.assert_array_equal(got.argmax(-1)[clear], expected.argmax(-1)[clear])
        np.testing.assert_allclose(got, expected, atol=0.1)
    else:
        got = getattr(mixed, _generate(mixed))(inputs)
        for row, n in enumerate(steps):
            np.testing.assert_array_equal(got.ids[row, :n], expected.ids[row, :n])
        assert np.isfinite(got.scores).all() and got.scores.dtype == np.float32
    if BACKEND == "tensorflow":  # exports run there (other backends re-run them there)
        _check_tflite(name, policy, mixed, full, inputs, expected)

    losses = _fit_steps(mixed)
    assert np.isfinite(losses).all(), losses
    path = tmp_path / "mixed.keras"
    mixed.save(path)
    reloaded = saving.load_model(path)
    assert reloaded.compute_dtype == mixed.compute_dtype
    for a, b in zip(reloaded.get_weights(), mixed.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["AttentionSeq2Seq", "TransformerCaptioner", "VisionTransformer"])
def test_dtype_argument_builds_every_layer_under_that_policy(name):
    build = tiny_models.BUILDS[name]
    with policy_scope("mixed_bfloat16"):
        config = build().get_config()
    assert config["dtype"] == "mixed_bfloat16"
    model = type(build()).from_config(config)  # dtype= under the global float32
    assert keras.config.dtype_policy().name == "float32"  # left as it was
    assert model.dtype_policy.name == "mixed_bfloat16"
    policies = {layer.dtype_policy.name for layer in model._flatten_layers() if layer.weights}
    assert policies == {"mixed_bfloat16"}
    assert model.get_config() == config


@pytest.mark.backend_independent(reason="NumPy arrays only")
def test_the_float32_copy_casts_only_floating_point_weights():
    import ml_dtypes

    dtypes = ("float16", ml_dtypes.bfloat16, "float64", "float32", "int32", "int64", "uint8")
    cast = [_tflite._float32(np.ones(2, dtype)) for dtype in dtypes]
    assert [w.dtype.name for w in cast] == ["float32"] * 4 + ["int32", "int64", "uint8"]
