"""Checkpoint files `from_pretrained` cannot read: one `ValueError` naming the file or field.

Truncated or random `.safetensors` files, a Hugging Face `model.safetensors` given
without its config.json, JSON that does not parse, and checkpoints whose arrays
or config fields are missing or of the wrong shape or type. Every refusal comes
before a model is built, so these tests touch no backend.
"""

import json
import shutil

import numpy as np
import pytest

from keras_seqattn.applications import VisionTransformer
from keras_seqattn.applications.vit_pretrained import check_checkpoint_path
from tests.applications.hf_vit import hf_model

safetensors_numpy = pytest.importorskip("safetensors.numpy")
pytestmark = pytest.mark.backend_independent(reason="every refusal comes before a model is built")

PATCH = "embeddings.patch_embeddings.projection.weight"
QUERY = "vit.encoder.layer.0.attention.attention.query.weight"


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("hf_vit_files")
    hf_model(path, seed=9)
    return path


def _copy(hf_dir, tmp_path, arrays=None, config=None):
    """A copy of the HF checkpoint with `arrays` (name: array or None) and `config`
    (key: value or None) changed."""
    directory = tmp_path / "checkpoint"
    shutil.copytree(hf_dir, directory)
    state = safetensors_numpy.load_file(str(directory / "model.safetensors"))
    for name, array in (arrays or {}).items():
        state.pop(name) if array is None else state.__setitem__(name, array)
    safetensors_numpy.save_file(state, str(directory / "model.safetensors"))
    settings = json.loads((directory / "config.json").read_text())
    for key, value in (config or {}).items():
        settings.pop(key) if value is None else settings.__setitem__(key, value)
    (directory / "config.json").write_text(json.dumps(settings))
    return directory


def _refused(source, match):
    with pytest.raises(ValueError, match=match) as error:
        VisionTransformer.from_pretrained(source)
    assert len(str(error.value).splitlines()) == 1, str(error.value)


@pytest.mark.parametrize("damage", ["truncated", "random_bytes", "empty", "short_header"])
def test_unreadable_safetensors_are_named(hf_dir, tmp_path, damage):
    data = (hf_dir / "model.safetensors").read_bytes()
    data = {
        "truncated": data[: len(data) // 2],
        "random_bytes": np.random.default_rng(0).bytes(4096),
        "empty": b"",
        "short_header": data[:100],
    }[damage]
    bare = tmp_path / "weights.safetensors"
    bare.write_bytes(data)
    message = r"weights.safetensors is not a readable safetensors file. Received: "
    # Told before a training job prepares its data, and by from_pretrained alike.
    with pytest.raises(ValueError, match=message):
        check_checkpoint_path(bare)
    _refused(bare, message)
    directory = _copy(hf_dir, tmp_path)
    (directory / "model.safetensors").write_bytes(data)
    _refused(directory, r"model.safetensors is not a readable safetensors file")


def test_a_bare_hugging_face_state_dict_or_another_models_says_what_was_expected(hf_dir, tmp_path):
    _refused(
        hf_dir / "model.safetensors",
        r"holds the weights of a Hugging Face ViT.*pass the directory that holds both",
    )
    other = tmp_path / "bert.safetensors"
    safetensors_numpy.save_file({"bert.pooler.dense.weight": np.zeros((2, 2), "float32")}, other)
    _refused(other, r"Expected a checkpoint directory with a config.json.*without timm's names")
    garbage = tmp_path / "weights.bin"
    garbage.write_bytes(b"\x00garbage")
    _refused(garbage, r"Expected a checkpoint directory.*Received: a file not named .safetensors")
    directory = _copy(hf_dir, tmp_path)
    safetensors_numpy.save_file(
        {"bert.pooler.dense.weight": np.zeros((2, 2), "float32")},
        str(directory / "model.safetensors"),
    )
    _refused(directory, r"Expected the weights of a Hugging Face ViT in model.safetensors")


@pytest.mark.parametrize("name", ["config.json", "preprocessor_config.json"])
def test_invalid_json_names_the_file_and_the_position(hf_dir, tmp_path, name):
    directory = _copy(hf_dir, tmp_path)
    (directory / name).write_text('{"model_type": "vit",\n  "hidden_size": 32,,\n}')
    _refused(directory, rf"{name} is not valid JSON. Received: .* at line 2, column 21")
    (directory / name).write_text("[]")
    _refused(directory, rf"{name} must hold a JSON object. Received: a JSON list")


@pytest.mark.parametrize(
    "arrays, config, match",
    [
        ({QUERY: None}, {}, rf"lacks the array '{QUERY.removeprefix('vit.')}'"),
        (
            {QUERY: np.zeros((32, 30), "float32")},
            {},
            r"query.weight has the shape \(32, 30\), where its config needs \(32, 32\)",
        ),
        ({"vit." + PATCH: np.zeros((32, 3, 8), "float32")}, {}, rf"{PATCH} has the shape"),
        ({QUERY: np.zeros((32, 32), "int32")}, {}, rf"not floating point.*{QUERY}: int32"),
        ({}, {"num_hidden_layers": None}, r"config.json lacks `num_hidden_layers`"),
        ({}, {"hidden_size": "32"}, r"`hidden_size` must be of type int. Received: hidden_size="),
        ({}, {"image_size": [32]}, r"`image_size` must be an int > 0 or two"),
        ({}, {"num_attention_heads": 5}, r"5 heads of hidden_size=32"),
        ({}, {"hidden_act": ["gelu"]}, r"cannot represent hidden_act=\['gelu'\]"),
    ],
    ids=[
        "missing_array",
        "misshapen_kernel",
        "misshapen_patches",
        "integer_array",
        "missing_field",
        "string_field",
        "one_number_image_size",
        "heads_not_dividing",
        "list_activation",
    ],
)
def test_missing_misshapen_or_mistyped_parts_are_named(hf_dir, tmp_path, arrays, config, match):
    _refused(_copy(hf_dir, tmp_path, arrays, config), match)
