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

from .conftest import NOTEBOOKS, NOTEBOOKS_DIR  # noqa: E402


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
def test_notebook_runs(path, executed_notebook):
    nb = executed_notebook(path)
    assert any(c.get("outputs") for c in nb.cells if c.cell_type == "code") or not nb.cells
