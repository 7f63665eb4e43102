"""keras_seqattn.saving.load_model: committed files keep loading; unsafe files are refused."""

import json
import pathlib
import zipfile

import keras
import numpy as np
import pytest

import keras_seqattn_registry
from keras_seqattn import applications
from keras_seqattn.saving import _class_entries, load_model
from keras_seqattn.version import __version__

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"
FILES = sorted(FIXTURES.glob("*/*.keras"))


def test_every_registered_application_has_a_fixture_of_this_version():
    names = {p.stem for p in (FIXTURES / __version__).glob("*.keras")}
    wanted = {app.class_name for app in keras_seqattn_registry.APPLICATIONS.values()}
    assert names == wanted, "run tests/fixtures/make_fixtures.py for the new application"


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="the script's backend")
def test_the_fixture_script_makes_a_file_of_every_registered_application(tmp_path, monkeypatch):
    from tests.fixtures import make_fixtures

    monkeypatch.setattr(make_fixtures, "FOLDER", tmp_path)
    make_fixtures.main()
    made = sorted((tmp_path / __version__).glob("*.keras"))
    assert [p.stem for p in made] == sorted(p.stem for p in FILES if p.parent.name == __version__)
    for path in made:
        test_saved_files_load_in_safe_mode_and_give_the_saved_outputs(path)
    with pytest.raises(SystemExit, match="never rewritten"):
        make_fixtures.main(["LuongSeq2Seq"])  # the file is there


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_saved_files_load_in_safe_mode_and_give_the_saved_outputs(path):
    arrays = np.load(path.with_suffix(".npz"))
    inputs = {k[2:]: arrays[k] for k in arrays.files if k.startswith("x/")}
    model = load_model(path)
    assert isinstance(model, getattr(applications, path.stem))
    x = inputs["images"] if list(inputs) == ["images"] else inputs
    np.testing.assert_allclose(model.predict_on_batch(x), arrays["y"], rtol=1e-4, atol=1e-5)
    names = [layer.__class__.__name__ for layer in model._flatten_layers()]
    assert "Lambda" not in names


def _rewrite(source, target, edit):
    """Copies the `.keras` archive `source` to `target` with `edit(config)` applied."""
    with zipfile.ZipFile(source) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(files["config.json"])
    edit(config)
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(target, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return target


@pytest.mark.parametrize("where", ["root", "nested"])
def test_unknown_class_is_refused_by_name(where, tmp_path):
    def smuggle(config):
        entry = config if where == "root" else next(_class_entries(config["config"]))
        entry.update(module="payload", registered_name="payload>Exec")

    source = FIXTURES / __version__ / "AttentionSeq2Seq.keras"
    path = _rewrite(source, tmp_path / "m.keras", smuggle)
    with pytest.raises(ValueError, match=r"neither Keras nor keras-seqattn.*class='payload>Exec'"):
        load_model(path)


def test_lambda_is_refused_even_a_named_function(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(keras.ops.relu)])
    model.save(tmp_path / "lambda.keras")
    with pytest.raises(ValueError, match="`Lambda` layer.*class_name='Lambda'"):
        load_model(tmp_path / "lambda.keras")


@pytest.mark.backend_independent(reason="fails before any Keras object is built")
def test_paths_that_are_no_keras_archive(tmp_path):
    (tmp_path / "broken.keras").write_bytes(b"not a zip archive")
    with pytest.raises(ValueError, match="not one or is damaged"):
        load_model(tmp_path / "broken.keras")
    with pytest.raises(ValueError, match="No model file.*missing.keras"):
        load_model(tmp_path / "missing.keras")
    with pytest.raises(ValueError, match=r"`.keras` file. Received: path='.*weights.h5'"):
        load_model(tmp_path / "model.weights.h5")
