import json

import keras
import numpy as np
import pytest
import tensorflow_datasets as tfds
from keras import ops

from keras_seqattn.applications import VisionTransformer, load_vit_npz
from keras_seqattn.applications.vision_transformer import CONFIGS
from keras_seqattn.training.image_classification import (
    image_batches,
    train_image_classifier,
    warmup_cosine,
)
from tests.applications.vit_reference import random_checkpoint, vit_forward
from tests.conftest import BACKEND

# Exact parameter counts with a 1000-class head at 224x224 (10 classes for the
# digit sizes), as google-research/vision_transformer `vit_jax/models_test.py`.
# ViT-* rows are that file's published numbers; the digit rows are ours.
PARAMETERS = {
    "vit_ti16": 5_717_416,
    "vit_s16": 22_050_664,
    "vit_s32": 22_878_952,
    "vit_b8": 86_576_872,
    "vit_b16": 86_567_656,
    "vit_b32": 88_224_232,
    "vit_l16": 304_326_632,
    "vit_l32": 306_535_400,
    "vit_h14": 632_045_800,
    "vit_tiny_digits": 139_978,
    "vit_micro_digits": 20_138,
}
# Small enough to build on CPU in seconds on every backend.
BUILT = ("vit_ti16", "vit_s16", "vit_micro_digits", "vit_tiny_digits")
TINY = dict(image_size=8, patch_size=4, hidden_dim=8, num_layers=2, num_heads=2, mlp_dim=16)


def _num_classes(name):
    return 10 if name.endswith("_digits") else 1000


def _formula(config, num_classes):
    """Parameters of a ViT counted from the paper's equations, independently of Keras."""
    p, c, d = config["patch_size"], config["num_channels"], config["hidden_dim"]
    m, layers = config["mlp_dim"], config["num_layers"]
    patches = (config["image_size"] // p) ** 2
    embedding = p * p * c * d + d  # linear projection E and its bias
    tokens = d + (patches + 1) * d  # x_class and E_pos
    attention = 4 * (d * d + d)  # W_q, W_k, W_v, W_o with biases
    mlp = d * m + m + m * d + d
    block = 2 * d + attention + 2 * d + mlp  # two layer norms
    head = 2 * d + d * num_classes + num_classes  # final layer norm and linear head
    return embedding + tokens + layers * block + head


def _tiny_model(**kwargs):
    return VisionTransformer(**{**TINY, "num_classes": 3, "num_channels": 3, **kwargs})


def _images(batch=2, size=8, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(batch, size, size, channels)).astype("float32")


@pytest.mark.backend_independent(reason="a table check; builds no model")
def test_every_config_is_in_the_table():
    assert set(CONFIGS) == set(PARAMETERS)


@pytest.mark.backend_independent(reason="arithmetic on the configs")
@pytest.mark.parametrize("name", sorted(PARAMETERS))
def test_formula_gives_the_published_count(name):
    assert _formula(CONFIGS[name], _num_classes(name)) == PARAMETERS[name]


@pytest.mark.parametrize("name", BUILT)
def test_built_model_has_the_exact_count(name):
    model = VisionTransformer.from_config_name(name, num_classes=_num_classes(name))
    assert model.count_params() == PARAMETERS[name]


@pytest.mark.only_backend("tensorflow", reason="86M weights; the count is backend independent")
def test_built_vit_b16_has_the_published_count():
    model = VisionTransformer.from_config_name("vit_b16", num_classes=1000)
    assert model.count_params() == 86_567_656


def test_matches_independent_numpy_vit():
    model = _tiny_model()
    arrays = random_checkpoint(model.get_config(), num_classes=3)
    for variable, value in zip(_weights_in_checkpoint_order(model), arrays.values()):
        variable.assign(value)
    images = _images()
    expected = vit_forward(arrays, images, num_layers=2)
    np.testing.assert_allclose(ops.convert_to_numpy(model(images)), expected, atol=1e-4)


def _weights_in_checkpoint_order(model):
    from keras_seqattn.applications.vit_checkpoint import _checkpoint_keys

    return list(_checkpoint_keys(model).values())


def test_loads_original_checkpoint_layout(tmp_path):
    model = _tiny_model()
    arrays = random_checkpoint(model.get_config(), num_classes=3, seed=1)
    arrays["pre_logits/unused_extra"] = np.zeros(2, "float32")  # extra keys are left
    np.savez(tmp_path / "vit.npz", **arrays)
    with pytest.raises(ValueError, match="pre_logits"):
        load_vit_npz(model, tmp_path / "vit.npz")
    del arrays["pre_logits/unused_extra"]
    np.savez(tmp_path / "vit.npz", **arrays)
    assert load_vit_npz(model, tmp_path / "vit.npz") == []
    images = _images(seed=3)
    expected = vit_forward(arrays, images, num_layers=2)
    np.testing.assert_allclose(ops.convert_to_numpy(model(images)), expected, atol=1e-4)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(model.get_layer("head").kernel), arrays["head/kernel"]
    )


def test_skip_head_keeps_the_new_head(tmp_path):
    model = _tiny_model(num_classes=5)
    arrays = random_checkpoint(model.get_config(), num_classes=1000)
    np.savez(tmp_path / "vit.npz", **arrays)
    unused = load_vit_npz(model, tmp_path / "vit.npz", skip_head=True)
    assert unused == ["head/bias", "head/kernel"]
    assert not np.any(ops.convert_to_numpy(model.get_layer("head").kernel))
    np.testing.assert_array_equal(
        ops.convert_to_numpy(model.patch_encoder.class_token), arrays["cls"]
    )


def test_checkpoint_of_another_grid_gets_resized_position_embeddings(tmp_path):
    model = _tiny_model(image_size=16)  # a 4 x 4 grid
    arrays = random_checkpoint(model.get_config(), num_classes=3, grid=(2, 2))
    np.savez(tmp_path / "vit.npz", **arrays)
    load_vit_npz(model, tmp_path / "vit.npz")
    stored = ops.convert_to_numpy(model.patch_encoder.position_embedding)
    assert stored.shape == (1, 17, 8)
    old = arrays["Transformer/posembed_input/pos_embedding"]
    np.testing.assert_array_equal(stored[:, 0], old[:, 0])
    np.testing.assert_allclose(stored[0, 1], old[0, 1], atol=1e-6)  # corners are kept


def test_broken_checkpoint_lists_every_problem(tmp_path):
    model = _tiny_model()
    arrays = random_checkpoint(model.get_config(), num_classes=3)
    del arrays["Transformer/encoderblock_1/LayerNorm_2/scale"]
    del arrays["cls"]
    arrays["embedding/kernel"] = arrays["embedding/kernel"][:2]
    np.savez(tmp_path / "vit.npz", **arrays)
    before = [np.array(w) for w in model.get_weights()]
    with pytest.raises(ValueError, match="2 missing and 1 misshapen") as error:
        load_vit_npz(model, tmp_path / "vit.npz")
    message = str(error.value)
    assert "'Transformer/encoderblock_1/LayerNorm_2/scale'" in message and "'cls'" in message
    assert "embedding/kernel: (2, 4, 3, 8), expected (4, 4, 3, 8)" in message
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)  # nothing was loaded


def test_attention_maps_have_one_map_per_layer_and_head():
    model = _tiny_model()
    maps = model.attention_maps(_images(batch=3), batch_size=2)
    assert maps.shape == (3, 2, 2, 5, 5)
    np.testing.assert_allclose(maps.sum(-1), np.ones((3, 2, 2, 5)), atol=1e-5)


def test_config_and_keras_file_round_trip(tmp_path):
    model = _tiny_model(dropout=0.1, include_rescaling=False, image_size=(8, 12))
    config = json.loads(json.dumps(model.get_config()))
    assert VisionTransformer.from_config(config).get_config() == config
    images = _images(size=8)[:, :, :6].repeat(2, axis=2) / 255.0
    expected = ops.convert_to_numpy(model(images))
    model.save(tmp_path / "vit.keras")
    revived = keras.saving.load_model(tmp_path / "vit.keras", safe_mode=True)
    assert isinstance(revived, VisionTransformer)
    np.testing.assert_allclose(ops.convert_to_numpy(revived(images)), expected, atol=1e-6)


def test_with_image_size_copies_weights_and_resizes_positions():
    model = _tiny_model()
    same = model.with_image_size(8)
    images = _images()
    np.testing.assert_allclose(
        ops.convert_to_numpy(same(images)), ops.convert_to_numpy(model(images)), atol=1e-6
    )
    larger = model.with_image_size(16)
    assert larger.patch_encoder.position_embedding.shape == (1, 17, 8)
    assert tuple(larger(_images(size=16)).shape) == (2, 3)


def test_bad_arguments_are_value_errors():
    with pytest.raises(ValueError, match="Received: config_name='vit_x99'"):
        VisionTransformer.from_config_name("vit_x99", num_classes=10)
    with pytest.raises(ValueError, match="hidden_dim=8, num_heads=3"):
        _tiny_model(num_heads=3)
    with pytest.raises(ValueError, match="num_classes=0"):
        _tiny_model(num_classes=0)
    with pytest.raises(ValueError, match="image_size=10, patch_size=4"):
        _tiny_model(image_size=10)


def test_fit_lowers_the_loss():
    model = _tiny_model(num_classes=2)
    images = _images(batch=16, seed=4)
    labels = (images.mean(axis=(1, 2, 3)) > 127.5).astype("int32")
    model.compile(
        optimizer=keras.optimizers.AdamW(warmup_cosine(1e-2, total_steps=6, warmup_steps=1)),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    history = model.fit(images, labels, batch_size=16, epochs=6, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_warmup_cosine_schedule():
    schedule = warmup_cosine(1e-3, total_steps=110, warmup_steps=10)
    values = [float(ops.convert_to_numpy(schedule(step))) for step in (0, 5, 10, 60, 110)]
    np.testing.assert_allclose(values, [0.0, 5e-4, 1e-3, 5e-4, 0.0], atol=1e-9)


@pytest.mark.only_backend("tensorflow", reason="tf.data pipeline; the model runs elsewhere")
def test_augmented_batches_keep_shapes_and_labels():
    with tfds.testing.mock_data(num_examples=6, policy=tfds.testing.MockPolicy.USE_CODE):
        from keras_seqattn import datasets

        pairs = datasets.load_image_labels("cifar10", "train")
        images, labels = next(iter(image_batches(pairs, 4, augmentation="shift_flip")))
    assert tuple(images.shape) == (4, 32, 32, 3) and tuple(labels.shape) == (4,)
    with pytest.raises(ValueError, match="Received: 'flip'"):
        image_batches(pairs, 4, augmentation="flip")


@pytest.mark.only_backend("tensorflow", reason="the CLI test trains on digits on every backend")
def test_trains_on_mocked_cifar10(tmp_path):
    with tfds.testing.mock_data(num_examples=8, policy=tfds.testing.MockPolicy.USE_CODE):
        metrics = train_image_classifier(
            "cifar10", tmp_path, config="vit_micro_digits", epochs=1, batch_size=4, verbose=0
        )
    assert metrics["backend"] == BACKEND and metrics["test_examples"] == 8
    assert metrics["parameters"] == _formula({**CONFIGS["vit_micro_digits"], "num_channels": 3}, 10)
    assert (tmp_path / "attention.png").read_bytes()[:4] == b"\x89PNG"
