"""One execution of each lecture notebook per test session, shared by every check that reads it.

``executed_notebook(path)`` returns the notebook executed top to bottom (outputs included) and
caches it for the session, so the notebook checks (tests/notebooks) and the documentation build
(tests/docs) need not execute a notebook twice.  The kernel's environment is ``KERNEL_ENV``.
"""

from __future__ import annotations

import os
import pathlib

import pytest

NOTEBOOKS_DIR = pathlib.Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))

#: Per-cell limit: every notebook is meant to finish in well under a minute in total.
CELL_TIMEOUT = 120
KERNEL = "python3"
#: the kernel inherits this process's environment plus these variables; figures show inline, and
#: blrkit.lecture_backend reports each one a projector cannot show (test_notebooks.py reads it)
KERNEL_ENV = {"MPLBACKEND": "module://blrkit.lecture_backend"}


class NotebookFailed(Exception):
    """A cell raised; the message holds the cell and its traceback."""


def execute(path: pathlib.Path):
    """Execute one notebook (skipping, with a reason, one whose optional peers are missing)."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(path, as_version=4)
    # a notebook on an optional peer (Dask, …) lists the modules it needs in its metadata
    for module in nb.metadata.get("blrkit", {}).get("requires", []):
        pytest.importorskip(module, reason=f"{path.name} needs {module} (an optional extra)")
    saved = {k: os.environ.get(k) for k in KERNEL_ENV}
    os.environ.update(KERNEL_ENV)
    try:
        client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name=KERNEL,
                                         resources={"metadata": {"path": str(path.parent)}})
        client.execute()
    except nbclient.exceptions.CellExecutionError as err:
        raise NotebookFailed(f"{path.name} failed:\n{err}") from None
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb


_CACHE: dict = {}


@pytest.fixture(scope="session")
def executed_notebook():
    """``executed_notebook(path)`` -> the executed ``nbformat`` notebook, executed once a session."""

    def run(path):
        path = pathlib.Path(path)
        if path not in _CACHE:
            try:
                _CACHE[path] = execute(path)
            except NotebookFailed as err:
                _CACHE[path] = err
        result = _CACHE[path]
        if isinstance(result, NotebookFailed):
            pytest.fail(str(result), pytrace=False)
        return result

    return run
