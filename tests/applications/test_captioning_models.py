"""Checks every captioning application passes, run for each of them."""

import warnings

import keras
import numpy as np
import pytest

from keras_seqattn.applications import AttentionCaptioner, RNNCaptioner, TransformerCaptioner
from tests.applications import captioning_checks as checks

MODELS = [RNNCaptioner, AttentionCaptioner]
# TransformerCaptioner has no CNN or RNN sizes: its own tests cover the checks
# above, and it joins the cross-backend load below at its own small size.
TRANSFORMER = dict(image_size=(32, 32), hidden_dim=16, intermediate_dim=32, max_caption_length=6)


@pytest.mark.parametrize("cls", MODELS)
def test_fit_learns(cls):
    before, after = checks.fit_learns(checks.model(cls))
    assert after < 0.3 * before, (before, after)


@pytest.mark.parametrize("cls", MODELS)
def test_beam_width_one_equals_greedy(cls):
    model = checks.model(cls)
    images = checks.quadrant_scenes()[0][:3]
    greedy = model.caption(images)
    beam = model.caption(images, beam_width=1)
    np.testing.assert_array_equal(greedy.ids, beam.ids)
    np.testing.assert_allclose(beam.scores, greedy.scores, atol=1e-5)
    wide = model.caption(images, beam_width=3, length_penalty=0.6)
    assert wide.ids.shape == (3, 6) and np.all(np.isfinite(wide.scores))
    assert len(wide.attention) == 3 and wide.attention[0].shape[0] == wide.lengths[0]


@pytest.mark.parametrize("cls", MODELS)
def test_generation_ends_without_stop(cls):
    model = checks.model(cls)
    checks.never_stop(model)
    for beam_width in (1, 3):
        result = model.caption(checks.quadrant_scenes()[0][:1], beam_width=beam_width)
        assert result.lengths.tolist() == [6]
        assert model.tokenizer.stop_id not in result.ids[0]


@pytest.mark.parametrize("cls", MODELS)
def test_save_load_keeps_vocabulary_and_outputs(cls, tmp_path):
    model = checks.model(cls, rnn_type="lstm")
    images = checks.quadrant_scenes()[0][:3]
    path = str(tmp_path / "model.keras")
    model.save(path)
    revived = keras.saving.load_model(path, safe_mode=True)
    expected, actual = model.caption(images), revived.caption(images)
    assert actual.text == expected.text
    for got, want in zip(actual.attention, expected.attention):
        np.testing.assert_allclose(got, want, atol=1e-6)
    assert revived.get_config() == model.get_config()


@pytest.mark.only_backend("tensorflow", reason="saves once, reloads under the other two")
def test_saved_models_load_on_other_backends(tmp_path):
    images = checks.quadrant_scenes()[0][:3]
    np.save(tmp_path / "images.npy", images)
    paths, expected = [], []
    models = [checks.model(cls) for cls in MODELS]
    models.append(TransformerCaptioner(checks.tokenizer(), **TRANSFORMER))
    for model in models:
        paths.append(str(tmp_path / f"{type(model).__name__}.keras"))
        model.save(paths[-1])
        result = model.caption(images)
        expected.append((result.ids, result.attention))
    reloaded = checks.reload_on_backends(
        paths, str(tmp_path / "images.npy"), checks.other_backends()
    )
    for backend, outputs in reloaded.items():
        for (ids, attention), (want_ids, want_attention), path in zip(outputs, expected, paths):
            np.testing.assert_array_equal(ids, want_ids, err_msg=f"{path} on {backend}")
            for got, want in zip(attention, want_attention):
                np.testing.assert_allclose(np.reshape(got, want.shape), want, atol=1e-5)


@pytest.mark.parametrize("cls", MODELS)
def test_bad_and_unusual_images(cls):
    model = checks.model(cls)
    images = checks.quadrant_scenes()[0][:2]
    with pytest.raises(ValueError, match="image\\[None\\]"):
        model.caption(images[0])
    with pytest.raises(ValueError, match="at least one image"):
        model.caption(images[:0])
    with pytest.raises(ValueError, match="channels"):
        model.caption(np.zeros((1, 32, 32, 2), "uint8"))
    with pytest.raises(TypeError, match="numeric"):
        model.caption(np.array([[["a"]]]))
    nan = images.astype("float32")
    nan[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.caption(nan)
    with pytest.warns(UserWarning, match="0-255"):
        model.caption(images.astype("float32") / 255.0)
    with pytest.raises(ValueError, match="beam_width"):
        model.caption(images, beam_width=0)
    # Documented handling: float pixels on 0-255 equal uint8; other sizes and
    # RGB are resized and converted to the model's format.
    expected = model.caption(images).ids
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        np.testing.assert_array_equal(model.caption(images.astype("float32")).ids, expected)
    np.testing.assert_array_equal(model.caption(np.repeat(images, 3, axis=-1)).ids, expected)
    big = np.repeat(np.repeat(images, 2, axis=1), 2, axis=2)  # 64x64, same content
    assert model.prepare_images(big).shape == (2, 32, 32, 1)
    assert len(model.caption(big).text) == 2
