"""`VisionTransformer.from_pretrained` against the source models themselves.

Each source model is built here at a tiny size with random weights, saved in its
own format and read back into ours: logits (and, for Hugging Face, every layer's
attention) must match the source's own forward pass on the same uint8 images,
through HF's image processor. timm cannot be installed beside torch 2.13 (it
pulls torchvision and another torch), so its name map is tested on the HF
model's weights renamed to timm 1.0's `VisionTransformer` state-dict names.
keras-hub's ViTs are in test_vit_pretrained_keras_hub.py, every processor
setting in test_vit_pretrained_preprocessing.py, unreadable files in
test_vit_pretrained_files.py.
"""

import json

import keras
import numpy as np
import pytest

from keras_seqattn.applications import VisionTransformer
from tests.applications.hf_vit import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    SIZE,
    hf_forward,
    hf_model,
    uint8_images,
)

safetensors_numpy = pytest.importorskip("safetensors.numpy")


@pytest.fixture(scope="module")
def images():
    return uint8_images((2, 32, 32, 3))


@pytest.fixture(scope="module")
def hf(tmp_path_factory):
    path = tmp_path_factory.mktemp("hf_vit")
    model, processor = hf_model(path, attn_implementation="eager")
    return path, model, processor


def test_hugging_face_logits_and_attention_match(hf, images):
    path, reference, processor = hf
    expected = hf_forward(reference, processor, images)
    model = VisionTransformer.from_pretrained(path)
    assert (model.num_classes, model.hidden_dim, model.num_layers) == (5, 32, 2)
    assert model.layer_norm_epsilon == 1e-12 and model.pixel_std == pytest.approx(IMAGENET_STD)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model(images)), expected.logits.numpy(), atol=1e-4
    )
    maps = model.attention_maps(images)  # (B, layers, heads, N + 1, N + 1)
    np.testing.assert_allclose(
        maps, np.stack([a.numpy() for a in expected.attentions], axis=1), atol=1e-5
    )


def test_non_square_hugging_face_and_timm_vits(tmp_path):
    # timm's LayerNorm epsilon is 1e-6: the HF reference is built with it.
    reference, processor = hf_model(
        tmp_path / "wide", seed=8, image_size=[32, 48], layer_norm_eps=1e-6,
        attn_implementation="eager",
    )  # fmt: skip
    images = uint8_images((2, 32, 48, 3), seed=8)
    expected = hf_forward(reference, processor, images)
    model = VisionTransformer.from_pretrained(tmp_path / "wide")
    assert model.input_shape == (None, 32, 48, 3) and model.patch_encoder.grid_size == (4, 6)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model(images)), expected.logits.numpy(), atol=1e-4
    )
    np.testing.assert_allclose(
        model.attention_maps(images),
        np.stack([a.numpy() for a in expected.attentions], axis=1),
        atol=1e-5,
    )
    # timm's grid is its pretrained_cfg's input_size over the patch size.
    timm_dir = tmp_path / "timm"
    timm_dir.mkdir()
    safetensors_numpy.save_file(_timm_state(tmp_path / "wide"), str(timm_dir / "model.safetensors"))
    pretrained_cfg = dict(
        input_size=[3, 32, 48], crop_pct=1.0, mean=IMAGENET_MEAN, std=IMAGENET_STD
    )
    timm_config = {"architecture": "vit_wide", "num_classes": 5, "pretrained_cfg": pretrained_cfg}
    (timm_dir / "config.json").write_text(
        json.dumps({**timm_config, "model_args": {"num_heads": 4}})
    )
    timm_model = VisionTransformer.from_pretrained(timm_dir)
    assert timm_model.patch_encoder.grid_size == (4, 6)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(timm_model(images)), expected.logits.numpy(), atol=1e-4
    )
    hf_model(tmp_path / "tall_patches", image_size=[32, 48], patch_size=[16, 8])
    with pytest.raises(ValueError, match=r"non-square patches, patch_size=\[16, 8\]"):
        VisionTransformer.from_pretrained(tmp_path / "tall_patches")


def test_hugging_face_tanh_gelu_without_qkv_bias(tmp_path, images):
    reference, processor = hf_model(
        tmp_path, seed=1, hidden_act="gelu_pytorch_tanh", qkv_bias=False, layer_norm_eps=1e-6
    )
    expected = hf_forward(reference, processor, images).logits.numpy()
    model = VisionTransformer.from_pretrained(tmp_path)
    assert model.activation == "gelu_tanh"
    # The two GELU forms differ by ~1e-5 in these logits: the tolerance tells them apart.
    error = np.abs(keras.ops.convert_to_numpy(model(images)) - expected).max()
    exact = VisionTransformer.from_pretrained(tmp_path, activation="gelu")
    exact_error = np.abs(keras.ops.convert_to_numpy(exact(images)) - expected).max()
    assert error < 2e-6 < exact_error, (error, exact_error)


def test_hugging_face_backbone_gets_a_fresh_head(tmp_path, images):
    reference, processor = hf_model(tmp_path, cls="ViTModel", seed=2)
    with pytest.raises(ValueError, match="no classification head.*num_classes"):
        VisionTransformer.from_pretrained(tmp_path)
    model = VisionTransformer.from_pretrained(tmp_path, num_classes=3)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model.get_layer("head").kernel), 0)
    features = keras.Model(model.input, model.get_layer("encoder_norm").output)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(features(images)),
        hf_forward(reference, processor, images).last_hidden_state.numpy(),
        atol=1e-4,
    )


def test_fine_tuning_size_resizes_positions_and_replaces_the_head(hf, images):
    path, _, _ = hf
    model = VisionTransformer.from_pretrained(path, num_classes=3, image_size=48, dropout=0.1)
    assert model.input_shape == (None, 48, 48, 3) and model.output_shape == (None, 3)
    assert model.patch_encoder.position_embedding.shape == (1, 1 + 36, 32)
    # Same checkpoint and classes: the head is the checkpoint's.
    same = VisionTransformer.from_pretrained(path, num_classes=5)
    assert np.abs(keras.ops.convert_to_numpy(same.get_layer("head").kernel)).sum() > 0


def _timm_state(hf_path):
    """The saved HF model's weights under timm 1.0's `VisionTransformer` names."""
    saved = safetensors_numpy.load_file(str(hf_path / "model.safetensors"))
    hf_state = {k.removeprefix("vit."): v for k, v in saved.items()}
    state = {
        "cls_token": hf_state["embeddings.cls_token"],
        "pos_embed": hf_state["embeddings.position_embeddings"],
        "patch_embed.proj.weight": hf_state["embeddings.patch_embeddings.projection.weight"],
        "patch_embed.proj.bias": hf_state["embeddings.patch_embeddings.projection.bias"],
        "norm.weight": hf_state["layernorm.weight"],
        "norm.bias": hf_state["layernorm.bias"],
        "head.weight": hf_state["classifier.weight"],
        "head.bias": hf_state["classifier.bias"],
    }
    for i in range(SIZE["num_hidden_layers"]):
        hf_block, block = f"encoder.layer.{i}", f"blocks.{i}"
        qkv = [f"{hf_block}.attention.attention.{n}" for n in ("query", "key", "value")]
        for kind in ("weight", "bias"):
            state[f"{block}.attn.qkv.{kind}"] = np.concatenate(
                [hf_state[f"{name}.{kind}"] for name in qkv]
            )
            for timm_name, hf_name in (
                ("attn.proj", "attention.output.dense"),
                ("norm1", "layernorm_before"),
                ("norm2", "layernorm_after"),
                ("mlp.fc1", "intermediate.dense"),
                ("mlp.fc2", "output.dense"),
            ):
                state[f"{block}.{timm_name}.{kind}"] = hf_state[f"{hf_block}.{hf_name}.{kind}"]
    return {k: np.ascontiguousarray(v) for k, v in state.items()}


def test_timm_hub_directory_and_bare_state_dict(tmp_path, images):
    # timm's LayerNorm epsilon is 1e-6: the HF reference is built with it.
    reference, processor = hf_model(tmp_path / "hf", seed=3, layer_norm_eps=1e-6)
    expected = hf_forward(reference, processor, images).logits.numpy()
    timm_dir = tmp_path / "timm"
    timm_dir.mkdir()
    safetensors_numpy.save_file(_timm_state(tmp_path / "hf"), str(timm_dir / "model.safetensors"))
    (timm_dir / "config.json").write_text(
        json.dumps(
            {
                "architecture": "vit_tiny_patch8_32",
                "num_classes": 5,
                "model_args": {"num_heads": 4},
                "pretrained_cfg": {
                    "input_size": [3, 32, 32],
                    "crop_pct": 1.0,
                    "mean": IMAGENET_MEAN,
                    "std": IMAGENET_STD,
                },
            }
        )
    )
    model = VisionTransformer.from_pretrained(timm_dir)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(images)), expected, atol=1e-4)
    # timm's eval transform resizes to 1 / crop_pct (0.875 unless said) and crops back.
    config = json.loads((timm_dir / "config.json").read_text())
    del config["pretrained_cfg"]["crop_pct"]
    (timm_dir / "config.json").write_text(json.dumps(config))
    with pytest.warns(UserWarning, match=r"crop_pct=0.875"):
        VisionTransformer.from_pretrained(timm_dir)

    bare = timm_dir / "model.safetensors"
    with pytest.raises(ValueError, match="unknown number of heads for width 32"):
        VisionTransformer.from_pretrained(bare)
    model = VisionTransformer.from_pretrained(
        bare, num_heads=4, pixel_mean=IMAGENET_MEAN, pixel_std=IMAGENET_STD
    )
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(images)), expected, atol=1e-4)


@pytest.mark.parametrize(
    "key, message",
    [("reg_token", "register tokens"), ("blocks.0.ls1.gamma", "layer scale")],
)
def test_timm_features_this_class_lacks_are_refused(tmp_path, hf, key, message):
    state = _timm_state(hf[0])
    state[key] = np.zeros((1, 1, 32), "float32")
    path = tmp_path / "model.safetensors"
    safetensors_numpy.save_file(state, str(path))
    with pytest.raises(ValueError, match=f"cannot represent {message}.*model.safetensors"):
        VisionTransformer.from_pretrained(path, num_heads=4)


@pytest.mark.parametrize(
    "config, message",
    [
        ({"pretrained_cfg": {"input_size": [32, 32]}}, r"Received: input_size=\[32, 32\]"),
        ({"pretrained_cfg": {"std": [0.5, 0.0, 0.5]}}, r"Received: pretrained_cfg.std="),
        ({"model_args": "num_heads=4"}, r"`model_args` must be a JSON object"),
        ({"model_args": {"num_heads": "4"}}, r"Received: num_heads='4'"),
    ],
)
def test_timm_config_fields_are_checked_by_name(tmp_path, hf, config, message):
    safetensors_numpy.save_file(_timm_state(hf[0]), str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(
        json.dumps({"architecture": "vit", "model_args": {"num_heads": 4}, **config})
    )
    with pytest.raises(ValueError, match=message + ".*source="):
        VisionTransformer.from_pretrained(tmp_path)


def test_unknown_hugging_face_activation_is_refused(tmp_path):
    hf_model(tmp_path, hidden_act="quick_gelu")
    with pytest.raises(ValueError, match="cannot represent hidden_act='quick_gelu'"):
        VisionTransformer.from_pretrained(tmp_path)


def test_not_a_checkpoint_is_refused(tmp_path):
    with pytest.raises(ValueError, match="config.json"):
        VisionTransformer.from_pretrained(tmp_path)
    with pytest.raises(ValueError, match="ViTBackbone or ViTImageClassifier"):
        VisionTransformer.from_pretrained(object())


def test_pixel_normalization_arguments(images):
    config = dict(
        image_size=32, patch_size=8, num_classes=2, hidden_dim=8, num_layers=1, num_heads=2,
        mlp_dim=8,
    )  # fmt: skip
    model = VisionTransformer(**config, pixel_mean=(0.5, 0.25, 0.0), pixel_std=0.5)
    assert model.get_config()["pixel_std"] == [0.5, 0.5, 0.5]
    assert VisionTransformer.from_config(model.get_config()).get_config() == model.get_config()
    x = keras.ops.convert_to_numpy(model.get_layer("rescaling")(images.astype("float32")))
    np.testing.assert_allclose(x, (images / 255 - [0.5, 0.25, 0.0]) / 0.5, atol=1e-5)
    with pytest.raises(
        ValueError, match="`pixel_mean` must be a finite number or 3, one per channel"
    ):
        VisionTransformer(**config, pixel_mean=(0.5, 0.5))
    with pytest.raises(ValueError, match="`pixel_std` must be > 0"):
        VisionTransformer(**config, pixel_std=(0.5, 0.0, 0.5))
