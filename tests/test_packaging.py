"""The package as users get it: wheel contents, import hygiene, lint, README."""

import ast
import os
import pathlib
import re
import subprocess
import sys
import zipfile

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

from tests.conftest import BACKEND

REPO = pathlib.Path(__file__).resolve().parents[1]
# The only modules allowed to import TensorFlow: tf.data/TFDS pipelines, text
# preprocessing that runs inside tf.data, export, and tf.distribute strategies.
TF_MODULES = (
    "keras_seqattn/datasets/",
    "keras_seqattn/text/",
    "keras_seqattn/export/",
    "keras_seqattn/distribute/",
)
FORBIDDEN = ("tensorflow", "jax", "torch", "keras.src")
# Backend-specific fast paths, each behind a portable fallback it is tested against,
# and the one framework each may import.
FAST_PATHS = {"keras_seqattn/layers/_jax_cpu_cnn.py": "jax"}  # tests/layers/test_jax_cpu_cnn.py

independent = pytest.mark.backend_independent(reason="packaging; no Keras backend")


def _python_files(folder):
    return sorted(p for p in (REPO / folder).rglob("*.py") if "__pycache__" not in p.parts)


@independent
def test_every_package_is_listed_in_pyproject():
    listed = set(
        tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {"keras_seqattn.applications"}
    for init in (REPO / "keras_seqattn").rglob("__init__.py"):
        found.add(".".join(init.parent.relative_to(REPO).parts))
    for init in (REPO / "applications").rglob("__init__.py"):
        found.add(".".join(("keras_seqattn",) + init.parent.relative_to(REPO).parts))
    assert found == listed, (
        f"pyproject packages differ: missing {found - listed}, extra {listed - found}"
    )


@independent
def test_wheel_ships_applications_inside_the_package(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("keras_seqattn-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    top_level = {n.split("/")[0] for n in names}
    dist_info = wheel.name.split("-py")[0] + ".dist-info"
    # The console script's grammar and the registry, beside the package (see their docstrings).
    assert top_level == {
        "keras_seqattn",
        "keras_seqattn_cli.py",
        "keras_seqattn_registry.py",
        dist_info,
    }
    entry_points = zipfile.ZipFile(wheel).read(f"{dist_info}/entry_points.txt").decode()
    assert "keras-seqattn = keras_seqattn_cli:main" in entry_points
    expected = {
        f"keras_seqattn/{p.relative_to(REPO / 'keras_seqattn').as_posix()}"
        for p in _python_files("keras_seqattn")
    }
    expected |= {
        f"keras_seqattn/applications/{p.relative_to(REPO / 'applications').as_posix()}"
        for p in _python_files("applications")
    }
    assert expected <= names, f"missing from the wheel: {sorted(expected - names)}"


def _imports(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


@independent
def test_model_code_imports_no_backend_framework():
    offenders = []
    for path in _python_files("keras_seqattn") + _python_files("applications"):
        relative = path.relative_to(REPO).as_posix()
        if relative.startswith(TF_MODULES):
            continue
        allowed = FAST_PATHS.get(relative)
        for name in _imports(path):
            if allowed and (name == allowed or name.startswith(allowed + ".")):
                continue
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN):
                offenders.append(f"{relative}: import {name}")
    assert not offenders, "backend-specific imports outside the TF modules:\n" + "\n".join(
        offenders
    )


@independent
def test_the_registry_imports_nothing_and_only_the_cli_imports_the_grammar():
    """Imports run down: grammar -> registry, package -> registry, never up to the grammar.

    The registry is read before Keras chooses its backend, so it imports the
    standard library only; the package reads the registry, and only
    `keras_seqattn/cli.py` (the grammar's worker) imports the grammar.
    """
    import sys as sys_module

    registry = set(_imports(REPO / "keras_seqattn_registry.py"))
    assert registry <= set(sys_module.stdlib_module_names) | {"importlib.metadata"}, registry
    upward = [
        path.relative_to(REPO).as_posix()
        for path in _python_files("keras_seqattn") + _python_files("applications")
        if "keras_seqattn_cli" in set(_imports(path))
    ]
    assert upward == ["keras_seqattn/cli.py"]
    # Entry points written when the registry lived in the grammar's module still work.
    import keras_seqattn_cli
    import keras_seqattn_registry

    assert keras_seqattn_cli.Application is keras_seqattn_registry.Application
    assert keras_seqattn_cli.Option is keras_seqattn_registry.Option


@independent
def test_ruff_finds_no_lint_errors():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", str(REPO)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _readme_quickstart():
    blocks = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    assert blocks, "README.md has no ```python quickstart block"
    return blocks[0]


@pytest.mark.slow
def test_readme_quickstart_runs_as_written(tmp_path):
    code = _readme_quickstart()
    # The quickstart chooses a backend in its first line; run it under this pass's.
    code = re.sub(
        r'os\.environ\["KERAS_BACKEND"\] = "\w+"',
        f'os.environ["KERAS_BACKEND"] = "{BACKEND}"',
        code,
    )
    script = tmp_path / "quickstart.py"
    script.write_text(code)
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=dict(os.environ),
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@independent
def test_a_checkout_on_pythonpath_imports_its_own_applications(tmp_path):
    """Beside an editable install of another checkout, not that checkout's folder."""
    import shutil

    scratch = tmp_path / "scratch"
    for name in ("keras_seqattn", "applications"):
        shutil.copytree(REPO / name, scratch / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "keras_seqattn_cli.py", "keras_seqattn_registry.py"):
        shutil.copy(REPO / name, scratch)
    with open(scratch / "applications" / "__init__.py", "a") as file:
        file.write("\nSCRATCH_CHECKOUT = True\n")
    code = (
        "import keras_seqattn.applications as a, keras_seqattn.applications.vit_pretrained as v\n"
        "print(a.__file__, v.__file__, getattr(a, 'SCRATCH_CHECKOUT', False))\n"
    )
    # A backend the package runs on (it refuses numpy at import since issue 34).
    env = dict(os.environ, PYTHONPATH=str(scratch), KERAS_BACKEND="jax")
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env
    )
    assert result.returncode == 0, result.stderr[-2000:]
    package, module, marked = result.stdout.split()
    assert package == str(scratch / "applications" / "__init__.py") and marked == "True"
    assert module == str(scratch / "applications" / "vit_pretrained.py")
