"""The Colab notebooks: in sync with their jupytext sources, and they run.

`colab/*.py` (jupytext percent format) are the sources; the `.ipynb` files are
generated from them (`jupytext --to ipynb colab/*.py`) and committed. Every
notebook is executed headlessly, in a kernel subprocess, with `SEQATTN_SMALL=1`
(a few dozen examples, one epoch, tiny sizes), on the embedded datasets only.
"""

import pathlib

import jupytext
import nbclient
import nbformat
import pytest

COLAB = pathlib.Path(__file__).resolve().parents[1] / "colab"
NOTEBOOKS = [
    "quickstart",
    "seq2seq_rnn",
    "attention_seq2seq",
    "rnn_captioner",
    "show_attend_tell",
    "transformer_translation",
    "transformer_captioning",
    "vit",
    "export",
]
BADGE = "https://colab.research.google.com/github/keras-seqattn/keras-seqattn/blob/main/colab/"


def _cells(notebook):
    return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells]


@pytest.mark.backend_independent(reason="compares files; runs no model")
def test_every_source_has_its_notebook_and_no_other():
    sources = sorted(path.stem for path in COLAB.glob("*.py"))
    notebooks = sorted(path.stem for path in COLAB.glob("*.ipynb"))
    assert sources == notebooks == sorted(NOTEBOOKS)


@pytest.mark.backend_independent(reason="compares files; runs no model")
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_matches_its_jupytext_source(name):
    expected = jupytext.read(COLAB / f"{name}.py")
    committed = nbformat.read(COLAB / f"{name}.ipynb", as_version=4)
    assert _cells(committed) == _cells(expected), (
        f"colab/{name}.ipynb drifted from colab/{name}.py; regenerate it with "
        f"`jupytext --to ipynb colab/{name}.py`"
    )
    assert not any(cell.get("outputs") for cell in committed.cells), "commit it without outputs"
    first_code = next(cell.source for cell in committed.cells if cell.cell_type == "code")
    assert "KERAS_BACKEND" in first_code and "pip" in first_code
    assert f"{BADGE}{name}.ipynb" in committed.cells[0].source


@pytest.mark.slow
@pytest.mark.own_processes(
    reason="each notebook runs in its own kernel, on TensorFlow; one backend keeps CI short"
)
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_in_small_mode(name, tmp_path, monkeypatch):
    monkeypatch.setenv("SEQATTN_SMALL", "1")
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    # The kernel (this interpreter's python3 kernel, the installed package) inherits
    # this environment, TFDS_DATA_DIR of conftest.py included.
    notebook = nbformat.read(COLAB / f"{name}.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # a failing cell raises CellExecutionError
    images = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    assert images, f"colab/{name}.ipynb drew no plot"
