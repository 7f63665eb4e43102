"""Every list that names the applications covers every registered one.

The registry (`keras_seqattn_registry.APPLICATIONS`) is the one place that names
them; most lists derive from it. These still name them by hand, each for a
reason (its own sizes or data per application, or prose), so a new application
must be added to each; this test fails naming the list and what it misses.
"""

import importlib
import importlib.util
import pathlib

import pytest

import keras_seqattn_registry

REPO = pathlib.Path(__file__).resolve().parents[1]
REGISTERED = sorted(app.class_name for app in keras_seqattn_registry.APPLICATIONS.values())


def _benchmark(name):
    """A script of benchmarks/, imported by path (it is no package)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _readme_table(heading):
    """The first word of each row of the first table under `## heading` in the README."""
    section = (REPO / "README.md").read_text().split(f"\n## {heading}\n", 1)[1].split("\n## ")[0]
    lines = section.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return [row.split("|")[1].split()[0].strip("`") for row in rows[2:]]


def _parity(attribute):
    return list(getattr(_benchmark("backend_parity"), attribute))


def _tests(module, attribute):
    return list(getattr(importlib.import_module(module), attribute))


def _exported():
    """The applications the export tests export: their own and those of other files,
    each of which must build that application."""
    module = importlib.import_module("tests.export.test_every_application_export")
    for name, file in module.EXPORTED_ELSEWHERE.items():
        text = (REPO / "tests" / "export" / file).read_text()
        assert f"{name}(" in text or f"{name}.from_" in text, (
            f"tests/export/{file} builds no {name}"
        )
    return [*module.APPLICATIONS, *module.EXPORTED_ELSEWHERE]


LISTS = {
    "README.md, 'Every backend, every application'": lambda: _readme_table(
        "Every backend, every application"
    ),
    "benchmarks/backend_parity.py SIZES": lambda: _parity("SIZES"),
    "benchmarks/backend_parity.py SMOKE_SIZES": lambda: _parity("SMOKE_SIZES"),
    "tests/applications/test_bad_input.py SMALL": lambda: _tests(
        "tests.applications.test_bad_input", "SMALL"
    ),
    "tests/export/test_every_application_export.py APPLICATIONS and EXPORTED_ELSEWHERE": _exported,
    "tests/fixtures/make_fixtures.py TINY": lambda: _tests("tests.fixtures.make_fixtures", "TINY"),
}


@pytest.mark.backend_independent(reason="reads lists and the registry; builds no model")
@pytest.mark.parametrize("where", list(LISTS))
def test_the_list_names_every_registered_application(where):
    named = LISTS[where]()
    missing = sorted(set(REGISTERED) - set(named))
    unknown = sorted(set(named) - set(REGISTERED))
    assert not missing, f"{where} misses {missing}: add a line for each"
    assert not unknown, f"{where} names {unknown}, which are not registered applications"


@pytest.mark.backend_independent(reason="reads file names")
def test_every_application_has_its_own_test_file():
    """`tests/applications/test_<module>.py` for each, as the tests mirror the package."""
    modules = [app.target.partition(":")[0] for app in keras_seqattn_registry.APPLICATIONS.values()]
    missing = [
        module
        for module in modules
        if not (REPO / "tests" / "applications" / f"test_{module.rpartition('.')[2]}.py").exists()
    ]
    assert not missing, f"no tests/applications/test_<module>.py for {missing}"
