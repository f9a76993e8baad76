"""Execute every lecture notebook top to bottom, and check that none is stored with outputs.

The notebooks import blrkit and assert that each BLR result equals its classical counterpart,
so running them is a test of the library as much as of the notebooks (house style: "Notebooks
import the library and are executed by the tests"). Parametrised over ``notebooks/*.ipynb``:
a new notebook is tested the moment it is added.
"""

from __future__ import annotations

import pathlib

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS_DIR = pathlib.Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))

#: Per-cell limit: every notebook is meant to finish in well under a minute in total.
CELL_TIMEOUT = 120
KERNEL = "python3"


def _ids(paths):
    return [p.stem for p in paths]


def test_there_are_notebooks():
    assert NOTEBOOKS, f"no notebooks found in {NOTEBOOKS_DIR}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None)]
    assert not dirty, (f"{path.name}: cells {dirty} carry outputs or execution counts; clear them "
                       "(e.g. jupyter nbconvert --clear-output --inplace)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_runs(path, monkeypatch):
    # a non-interactive backend for the kernel, which inherits this environment
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    # a notebook on an optional peer (Dask, …) lists the modules it needs in its metadata
    for module in nb.metadata.get("blrkit", {}).get("requires", []):
        pytest.importorskip(module, reason=f"{path.name} needs {module} (an optional extra)")
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name=KERNEL,
                                     resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as err:  # the message holds the cell and traceback
        pytest.fail(f"{path.name} failed:\n{err}", pytrace=False)
