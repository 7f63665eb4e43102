import keras
import numpy as np
import pytest
from keras import ops

from keras_seqattn.applications import AttentionCaptioner
from tests.applications import captioning_checks as checks
from tests.numpy_reference import gru_parameter_count


def test_parameter_count():
    model = checks.model(AttentionCaptioner, attention_units=24)
    v, e, h, d, a = checks.tokenizer().vocabulary_size, 8, 32, 16, 24
    expected = (
        (9 * 1 * 8 + 8)
        + (9 * 8 * 16 + 16)  # the small CNN, 2 stages
        + 64 * d  # a position embedding per cell of the 8x8 grid
        + (16 * d + d)  # ReLU projection to feature_dim
        + (d * h + h)  # init MLP
        + v * e
        + gru_parameter_count(e + d, h)  # GRU over [E w; z]
        + (h * a + d * a + a)  # attention: W_q, W_k, v
        + (h + 1)  # gating scalar beta = sigmoid(w . s + b)
        + (h + d) * v
        + v  # output layer over [s; z]
    )
    assert model.count_params() == expected
    plain = checks.model(AttentionCaptioner, attention_units=24, context_gate=False)
    assert plain.count_params() == expected - (h + 1)


def test_attention_maps_are_distributions_over_grid_cells():
    model = checks.model(AttentionCaptioner)
    images = checks.quadrant_scenes()[0][:3]
    result = model.caption(images, max_length=5)
    for length, attention in zip(result.lengths, result.attention):
        assert attention.shape == (length, 64)  # 32x32 / 4 -> an 8x8 grid
        np.testing.assert_allclose(attention.sum(-1), 1.0, atol=1e-5)
        assert np.all(attention >= 0)
    grid = model.caption(images, max_length=5, grid_attention=True).attention
    assert model.grid_shape == (8, 8)
    for flat, square in zip(result.attention, grid):
        np.testing.assert_array_equal(flat.reshape(-1, 8, 8), square)


def test_doubly_stochastic_term_joins_the_loss():
    images, captions, _ = checks.quadrant_scenes()
    plain = checks.model(AttentionCaptioner)
    regularized = checks.model(AttentionCaptioner, attention_regularization=0.5)
    regularized.set_weights(plain.get_weights())
    x, y = next(iter(plain.prepare(checks.pairs(), batch_size=8).as_numpy_iterator()))
    losses = []
    for model in (plain, regularized):
        model.compile()
        losses.append(model.evaluate(x, y, verbose=0, return_dict=True)["loss"])
    features = plain.encoder(x["images"])
    _, state = plain._initial_state(plain.init_layers, features)
    _, attention = plain.decoder(x["target_ids"], state, features)
    attention = ops.convert_to_numpy(attention) * (x["target_ids"] != 0)[:, :, None]
    penalty = 0.5 * np.mean(np.sum((1.0 - attention.sum(axis=1)) ** 2, axis=-1))
    np.testing.assert_allclose(losses[1] - losses[0], penalty, rtol=1e-4)


@pytest.mark.slow
@pytest.mark.only_backend(
    "tensorflow", reason="400 training steps (150 s on torch); test_fit_learns runs everywhere"
)
def test_attention_localises_after_training():
    """Trained on quadrant scenes, each word's attention falls on its quadrant."""
    from keras_seqattn.evaluation import word_localization

    model = checks.model(AttentionCaptioner)
    checks.fit_learns(model, steps=400)
    images, captions, boxes = checks.quadrant_scenes()
    result = model.caption(images[:32], grid_attention=True)
    scores = []
    for i in range(32):
        scores += word_localization(
            result.attention[i], result.output_tokens[i], captions[i], boxes[i]
        )
    assert len(scores) > 50 and np.mean(scores) > 0.7, (len(scores), np.mean(scores))


def test_bad_arguments():
    with pytest.raises(ValueError, match="Received: attention_regularization=-1.0$"):
        checks.model(AttentionCaptioner, attention_regularization=-1.0)
    with pytest.raises(ValueError, match="rnn_type"):
        checks.model(AttentionCaptioner, rnn_type="vanilla")
    with pytest.raises(ValueError, match="image_size"):
        checks.model(AttentionCaptioner, image_size=32)
    with pytest.raises(ValueError, match="num_channels"):
        checks.model(AttentionCaptioner, num_channels=2)
    with pytest.raises(ValueError, match="multiples of 4"):
        checks.model(AttentionCaptioner, image_size=(30, 32))
    with pytest.raises(ValueError, match="tokenizer"):
        AttentionCaptioner(None)
    assert isinstance(checks.model(AttentionCaptioner, rnn_type="lstm"), keras.Model)
