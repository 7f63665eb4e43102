"""A source checkout imports its own `applications/` as `keras_seqattn.applications`.

The wheel installs the top-level `applications/` folder as
`keras_seqattn.applications` (`package-dir` in pyproject.toml). In a checkout the
folder sits beside `keras_seqattn/`, not in it, so Python's path search cannot
find it there; an editable install finds it through setuptools' own finder,
which maps the name to the folder of the checkout that was installed. A second
checkout on `PYTHONPATH` (a scratch clone, a CI worktree) beside an editable
install would then run its own `keras_seqattn` with the other checkout's
applications, silently. `install()` puts a finder first that maps the name to
this checkout's folder; in an installed wheel there is no checkout, and it does
nothing.
"""

import importlib.util
import pathlib
import sys

NAME = "keras_seqattn.applications"


class _ApplicationsFinder:
    """Finds `keras_seqattn.applications` in one folder; declines every other name."""

    def __init__(self, folder):
        self.folder = folder

    def find_spec(self, fullname, path=None, target=None):
        if fullname != NAME:
            return None
        return importlib.util.spec_from_file_location(
            NAME, self.folder / "__init__.py", submodule_search_locations=[str(self.folder)]
        )


def install(package_file):
    """Maps `keras_seqattn.applications` to the checkout of `package_file`, if any."""
    root = pathlib.Path(package_file).resolve().parent.parent
    folder = root / "applications"
    if not ((root / "pyproject.toml").is_file() and (folder / "__init__.py").is_file()):
        return  # an installed wheel: the folder is inside the package already
    if any(isinstance(finder, _ApplicationsFinder) for finder in sys.meta_path):
        return
    sys.meta_path.insert(0, _ApplicationsFinder(folder))
