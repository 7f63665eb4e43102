import numpy as np
from keras import ops

from keras_seqattn.applications import RNNCaptioner
from tests.applications import captioning_checks as checks
from tests.numpy_reference import gru_parameter_count


def test_parameter_count():
    model = checks.model(RNNCaptioner)
    v, e, h, d = checks.tokenizer().vocabulary_size, 8, 32, 16
    expected = (
        (9 * 1 * 8 + 8)
        + (9 * 8 * 16 + 16)  # the small CNN, 2 stages
        + 64 * d  # a position embedding per cell of the 8x8 grid
        + (16 * d + d)  # ReLU projection to feature_dim
        + (d * h + h)  # init MLP: s_0 = tanh(W mean(a) + b)
        + v * e
        + gru_parameter_count(e + d, h)  # GRU over [E w; c]
        + (h + d) * v
        + v  # output layer over [s; c]
    )
    assert model.count_params() == expected


def test_global_feature_is_the_mean_of_the_grid():
    model = checks.model(RNNCaptioner)
    images = checks.quadrant_scenes()[0][:2]
    (context,), (s0,) = model.encode(images.astype("float32"))
    grid = ops.convert_to_numpy(model.encoder(images.astype("float32")))
    np.testing.assert_allclose(ops.convert_to_numpy(context), grid.mean(axis=1), atol=1e-6)
    assert tuple(s0.shape) == (2, 32)


def test_caption_has_no_attention():
    model = checks.model(RNNCaptioner, rnn_type="lstm")
    result = model.caption(checks.quadrant_scenes()[0][:2], max_length=5)
    assert [a.shape for a in result.attention] == [(n, 0) for n in result.lengths]
