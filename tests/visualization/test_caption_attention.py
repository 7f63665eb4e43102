import numpy as np
import pytest
from matplotlib.figure import Figure

from keras_seqattn.visualization import plot_caption_attention

independent = pytest.mark.backend_independent(reason="matplotlib only")


@independent
def test_one_panel_per_word_saved_as_png(tmp_path):
    image = np.random.default_rng(0).integers(0, 256, (64, 64, 1)).astype("uint8")
    attention = np.full((3, 64), 1 / 64)
    path = tmp_path / "caption.png"
    figure = plot_caption_attention(
        image, attention, ["seven", "three", "[STOP]"], title="seven three", path=path
    )
    assert isinstance(figure, Figure)
    titled = [ax.get_title() for ax in figure.axes if ax.get_title()]
    assert titled == ["image", "seven", "three", "[STOP]"]
    assert path.read_bytes()[:4] == b"\x89PNG"
    rgb = plot_caption_attention(image.repeat(3, -1), attention.reshape(3, 8, 8), ["a", "b", "c"])
    assert len([ax for ax in rgb.axes if ax.get_title()]) == 4


@independent
def test_bad_input():
    image = np.zeros((32, 32))
    with pytest.raises(ValueError, match="one word per"):
        plot_caption_attention(image, np.ones((2, 16)), ["a"])
    with pytest.raises(ValueError, match="grid_shape"):
        plot_caption_attention(image, np.ones((1, 12)), ["a"])
    assert plot_caption_attention(image, np.ones((1, 12)), ["a"], grid_shape=(3, 4))
    with pytest.raises(ValueError, match="image"):
        plot_caption_attention(np.zeros((32, 32, 2)), np.ones((1, 16)), ["a"])
