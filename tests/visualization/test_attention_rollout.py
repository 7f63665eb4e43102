import numpy as np
import pytest
from matplotlib.figure import Figure

from keras_seqattn.visualization import (
    attention_rollout,
    class_token_attention,
    plot_image_attention,
)
from tests.numpy_reference import softmax

pytestmark = pytest.mark.backend_independent(reason="NumPy and matplotlib only")


def _scores(batch=2, layers=3, heads=2, tokens=5, seed=0):
    rng = np.random.default_rng(seed)
    return softmax(rng.normal(size=(batch, layers, heads, tokens, tokens)) * 2)


def _reference_rollout(scores):
    """Abnar & Zuidema (2020), one example and one layer at a time."""
    out = []
    for example in scores:
        result = np.eye(example.shape[-1])
        for layer in example:
            a = layer.mean(axis=0) + np.eye(layer.shape[-1])
            a = a / a.sum(axis=-1, keepdims=True)
            result = a @ result
        out.append(result)
    return np.stack(out)


def test_rollout_matches_numpy_reference():
    scores = _scores()
    rollout = attention_rollout(scores)
    np.testing.assert_allclose(rollout, _reference_rollout(scores), atol=1e-12)
    np.testing.assert_allclose(rollout.sum(-1), np.ones((2, 5)), atol=1e-12)
    np.testing.assert_allclose(attention_rollout(scores[0]), rollout[0])


def test_rollout_of_one_hand_computed_layer():
    # One layer, one head, two tokens: (A + I) / 2 row by row.
    scores = np.array([[[[0.5, 0.5], [1.0, 0.0]]]])
    np.testing.assert_allclose(attention_rollout(scores), [[0.75, 0.25], [0.5, 0.5]])
    np.testing.assert_allclose(attention_rollout(scores, add_residual=False), scores[0, 0])


def test_class_token_attention_averages_heads():
    scores = _scores()
    attention = class_token_attention(scores)
    assert attention.shape == (2, 3, 4)
    np.testing.assert_allclose(attention, scores.mean(axis=2)[:, :, 0, 1:])


def test_bad_scores_shape_is_a_value_error():
    with pytest.raises(ValueError, match=r"Received: scores.shape=\(3, 4, 5\)"):
        attention_rollout(np.zeros((3, 4, 5)))


def test_plot_draws_over_the_image_and_saves_png(tmp_path):
    scores = _scores(batch=1, tokens=17)[0]  # a 4 x 4 grid and the class token
    image = np.random.default_rng(0).integers(0, 256, size=(32, 32, 1))
    figure = plot_image_attention(image, scores, title="seven", path=tmp_path / "a.png")
    assert isinstance(figure, Figure) and len(figure.axes) == 1 + 1 + 3
    assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"
    plot_image_attention(np.zeros((8, 16, 3)), scores[:, :, :9, :9], grid_size=(2, 4))
    with pytest.raises(ValueError, match=r"no 3x3 grid.*grid_size=\(3, 3\)"):
        plot_image_attention(image, scores, grid_size=(3, 3))
