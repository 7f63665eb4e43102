"""The Colab notebooks: in sync with their jupytext sources, and they run.

`colab/*.py` (jupytext percent format) are the sources; the `.ipynb` files are
generated from them (`jupytext --to ipynb colab/*.py`) and committed. Every
notebook is executed headlessly, in a kernel subprocess, with `SEQATTN_SMALL=1`
(a few dozen examples, one epoch, tiny sizes), on the embedded datasets. Their
public-data branches (`USE_PUBLIC_DATA = True`: TED talks, COCO, CIFAR-10) run
too, on random examples from `tfds.testing.mock_data`, as there is no network.
All of them share one kernel (see `executed`), each from a clean namespace.
"""

import pathlib

import jupytext
import nbclient
import nbformat
import pytest
from nbclient.exceptions import CellExecutionError

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
CAPTIONING = ("rnn_captioner", "show_attend_tell", "transformer_captioning")
PUBLIC_SWITCH = "USE_PUBLIC_DATA = False"
# The public datasets the notebooks offer, with their splits as the TFDS catalog
# lists them. Under `mock_data` TFDS knows a dataset's features from its code but
# not its split names; metadata written from this table makes the loader reject a
# split that the real dataset lacks, as it would with the real download.
PUBLIC_SPLITS = {
    "ted_hrlr_translate/pt_to_en": ("train", "validation", "test"),
    "coco_captions": ("train", "val", "test", "restval"),
    "cifar10": ("train", "test"),
}
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


SMALL_TEST = "test_notebook_runs_in_small_mode"
PUBLIC_TEST = "test_public_data_branches_run_on_mock_data"


@pytest.fixture(scope="module")
def executed(request, tmp_path_factory):
    """Runs the selected notebooks, then the public branches, in one kernel.

    One kernel, and so one import of TensorFlow and the package, for all of them:
    that import is most of a small notebook's time. Each notebook starts from an
    empty namespace (`%reset -f`), a fresh Keras session and a folder of its own,
    as in a kernel of its own. A failing notebook is recorded and the next one
    runs. Returns `{"small": {name: (notebook, error)}, "public": {name: error}}`.
    """
    selected = [item for item in request.session.items if item.module is request.module]
    names = [
        item.callspec.params["name"]
        for item in selected
        if item.originalname == SMALL_TEST and not item.get_closest_marker("skip")
    ]
    public = any(
        item.originalname == PUBLIC_TEST and not item.get_closest_marker("skip")
        for item in selected
    )
    root = tmp_path_factory.mktemp("notebooks")
    blocks = []  # (kind, name, cells)
    for name in names:
        notebook = nbformat.read(COLAB / f"{name}.ipynb", as_version=4)
        folder = root / name
        folder.mkdir()
        blocks.append(("small", name, [_fresh_start_cell(folder), *notebook.cells]))
    if public:
        data_dir = root / "tensorflow_datasets"
        _write_public_metadata(data_dir)
        public_names = [
            n for n in NOTEBOOKS if "USE_PUBLIC_DATA" in (COLAB / f"{n}.py").read_text()
        ]
        assert len(public_names) == len(NOTEBOOKS) - 1  # all but the quickstart
        for name in public_names:
            folder = root / f"public_{name}"
            folder.mkdir()
            cells = _public_branch_cells(name, data_dir)
            blocks.append(("public", name, [_fresh_start_cell(folder), *cells]))
    notebook = nbformat.v4.new_notebook(cells=[cell for *_, cells in blocks for cell in cells])
    notebook.metadata.kernelspec = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    results = {"small": {}, "public": {}}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SEQATTN_SMALL", "1")
        patch.setenv("KERAS_BACKEND", "tensorflow")
        if "vit" in names:  # Its fine-tuning branch, on a tiny local checkpoint for the Hub's.
            patch.setenv("SEQATTN_PRETRAINED", _tiny_vit_checkpoint(root / "vit_checkpoint"))
        # The kernel (this interpreter's python3 kernel, the installed package) inherits
        # this environment, TFDS_DATA_DIR of conftest.py included. Only the vit
        # notebook reads SEQATTN_PRETRAINED, in a cell after its public branch's end.
        client = nbclient.NotebookClient(
            notebook,
            timeout=300,
            kernel_name="python3",
            resources={"metadata": {"path": str(root)}},
        )
        client.reset_execution_trackers()
        index = 0
        with client.setup_kernel():
            for kind, name, cells in blocks:
                error = None
                for cell in cells:
                    try:
                        client.execute_cell(cell, index)
                    except CellExecutionError as raised:
                        error = raised
                        break
                    finally:
                        index += 1
                if error is not None and kind == "public":  # Leave mock data for the next.
                    client.execute_cell(cells[-1], index)
                    index += 1
                if kind == "small":
                    results[kind][name] = (nbformat.v4.new_notebook(cells=cells[1:]), error)
                else:
                    results[kind][name] = error
    return results


def _fresh_start_cell(folder):
    """A cell that leaves the kernel as a new one would be, working in `folder`."""
    return nbformat.v4.new_code_cell(
        "%reset -f\n"
        "import os as _os, sys as _sys\n"
        f"_os.chdir({str(folder)!r})\n"
        "if 'keras' in _sys.modules:\n"
        "    _sys.modules['keras'].backend.clear_session()\n"
        "del _os, _sys"
    )


@pytest.mark.slow
@pytest.mark.own_processes(
    reason="the notebooks run in a kernel of their own, on TensorFlow; one backend keeps CI short"
)
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_in_small_mode(name, executed):
    notebook, error = executed["small"][name]
    if error is not None:  # a failing cell
        pytest.fail(f"colab/{name}.ipynb, in small mode: {error}")
    images = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    assert images, f"colab/{name}.ipynb drew no plot"
    printed = "".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("name") == "stdout"
    )
    if name == "vit":
        assert "fine-tuned " in printed and "test accuracy" in printed
    if name in CAPTIONING:
        # Lines "  greedy  <caption>" and "  beam    <caption>": the label alone is empty.
        captions = [
            line.split() for line in printed.splitlines() if line.startswith(("  greedy", "  beam"))
        ]
        assert captions, f"colab/{name}.ipynb printed no captions"
        empty = [words[0] for words in captions if len(words) == 1]
        assert not empty, (
            f"colab/{name}.ipynb printed empty captions ({len(empty)} of {len(captions)})"
        )


def _tiny_vit_checkpoint(path):
    """A random Hugging Face `ViTModel` (no head) of 32 x 32 RGB images, saved at `path`."""
    transformers = pytest.importorskip("transformers")
    config = transformers.ViTConfig(
        image_size=32, patch_size=8, hidden_size=16, num_hidden_layers=1,
        num_attention_heads=2, intermediate_size=32,
    )  # fmt: skip
    transformers.ViTModel(config, add_pooling_layer=False).save_pretrained(path)
    return str(path)


def _write_public_metadata(data_dir):
    """Writes each public dataset's `dataset_info.json`, features and empty shards."""
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(policy=tfds.testing.MockPolicy.USE_CODE):
        for name, splits in PUBLIC_SPLITS.items():
            builder = tfds.builder(name)  # Its features, from the dataset's code.
            folder = data_dir / builder.info.full_name  # name/config/version
            folder.mkdir(parents=True)
            template = tfds.core.ShardedFileTemplate(
                data_dir=folder, dataset_name=builder.name, filetype_suffix="tfrecord"
            )
            builder.info.set_splits(
                tfds.core.SplitDict(
                    [
                        tfds.core.SplitInfo(
                            name=split,
                            # More than any slice the notebooks take
                            # (`train[:4096]`), which the loader checks.
                            shard_lengths=[100_000],
                            num_bytes=0,
                            filename_template=template.replace(split=split),
                        )
                        for split in splits
                    ]
                )
            )
            builder.info.write_to_directory(folder)
            for split in builder.info.splits.values():
                for path in split.filepaths:
                    path.touch()  # `datasets.prepare()` checks that the shards exist.


def _public_branch_cells(name, data_dir):
    """The notebook's data, training and first use of the model, on public data.

    The first use (generation or prediction) reads the dataset's own features too
    (COCO's reference captions, CIFAR-10's label names). What follows (plots,
    export) takes the model as it is, and the small-mode test runs it. Mock data is
    entered right after the install and backend cell.
    """
    source = (COLAB / f"{name}.py").read_text()
    assert source.count(PUBLIC_SWITCH) == 1, f"colab/{name}.py: one `{PUBLIC_SWITCH}` line"
    notebook = jupytext.reads(source.replace(PUBLIC_SWITCH, "USE_PUBLIC_DATA = True"), "py:percent")
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    trained = next(index for index, cell in enumerate(code) if ".fit(" in cell.source)
    cells = [nbformat.v4.new_code_cell("%reset -f")]  # The previous notebook's names go.
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("## Export"):
            break
        cells.append(cell)
        if cell is code[0]:
            cells.append(nbformat.v4.new_code_cell(MOCK_CELL.format(data_dir=str(data_dir))))
        if cell is code[min(trained + 1, len(code) - 1)]:
            break
    cells.append(nbformat.v4.new_code_cell("public_data_mock.__exit__(None, None, None)"))
    return cells


MOCK_CELL = """\
import tensorflow_datasets as tfds

public_data_mock = tfds.testing.mock_data(
    num_examples=2, policy=tfds.testing.MockPolicy.USE_FILES, data_dir={data_dir!r}
)
public_data_mock.__enter__()
"""


@pytest.mark.slow
@pytest.mark.own_processes(
    reason="the notebooks run in a kernel of their own, on TensorFlow; one backend keeps CI short"
)
def test_public_data_branches_run_on_mock_data(executed):
    failed = {name: error for name, error in executed["public"].items() if error is not None}
    assert executed["public"] and not failed, "\n".join(
        f"colab/{name}.py with USE_PUBLIC_DATA = True, on mock data: {error}"
        for name, error in failed.items()
    )
