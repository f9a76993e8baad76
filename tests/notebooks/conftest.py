"""One execution of each lecture notebook per test session, shared by every check that reads it.

``executed_notebook(path)`` returns the notebook executed top to bottom (outputs included).  The
executed notebook is kept in a jupyter-cache made for the run (``notebook_cache``, shared by the
xdist workers, so the notebooks execute in parallel and each once), the
same kind of cache the documentation build reads (myst-nb, ``nb_execution_mode = "cache"``):
the docs-build test (tests/docs) asks this fixture for every notebook and builds with
``-D nb_execution_cache_path=<notebook_cache>``, so the build finds every notebook executed
and executes none, and the notebook checks (tests/notebooks) read the same executions.  A
cache made for the session, not one kept between runs: the notebooks run blrkit, so a change
of blrkit must be executed again even when the notebook is unchanged.  The kernel's
environment is ``KERNEL_ENV``.
"""

from __future__ import annotations

import os
import pathlib
import time

import pytest
from run_cache import locked, run_folder

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


def requirements(path: pathlib.Path) -> list[str]:
    """The modules a notebook on an optional peer (Dask, ...) lists in ``metadata.blrkit.requires``."""
    nbformat = pytest.importorskip("nbformat")
    return list(nbformat.read(path, as_version=4).metadata.get("blrkit", {}).get("requires", []))


def execute(path: pathlib.Path):
    """Execute one notebook (skipping, with a reason, one whose optional peers are missing)."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(path, as_version=4)
    for module in requirements(path):
        pytest.importorskip(module, reason=f"{path.name} needs {module} (an optional extra)")
    saved = {k: os.environ.get(k) for k in KERNEL_ENV}
    os.environ.update(KERNEL_ENV)
    try:
        # record_timing=False: no timestamps in the cells' metadata, which jupyter-cache hashes (as
        # myst-nb's own executions, through jupyter-cache, leave none)
        # shutdown_kernel="immediate": the outputs are in hand when the last cell ends, so the kernel is stopped
        # without the graceful request and wait (0.4 s a notebook, measured)
        client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name=KERNEL, record_timing=False,
                                         shutdown_kernel="immediate", resources={"metadata": {"path": str(path.parent)}})
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


# The state lives in this module, not in a fixture's value: tests/docs/conftest.py re-exports
# these fixtures, and pytest keeps one value per conftest that defines a fixture.

#: what this process did with or read of each notebook: path -> executed notebook or NotebookFailed
_RESULTS: dict = {}
#: path -> seconds its one execution took (in whichever process executed it)
EXECUTION_SECONDS: dict = {}


@pytest.fixture(scope="session")
def notebook_cache(tmp_path_factory) -> pathlib.Path:
    """The run's jupyter-cache folder, holding every notebook ``executed_notebook`` ran (one folder for the
    whole run, shared by the xdist workers: ``run_cache.run_folder``)."""
    return run_folder(tmp_path_factory, "jupyter_cache")


@pytest.fixture(scope="session")
def executed_notebook(notebook_cache):
    """``executed_notebook(path)`` -> the executed ``nbformat`` notebook, executed once a run.

    The xdist workers share the run's cache: a notebook is executed by the first worker that asks for
    it, under a lock of its own, and read from the cache by every other (a failure is shared as a file
    beside the cache, so a failing notebook is not executed twice either).
    """
    jupyter_cache = pytest.importorskip("jupyter_cache")
    nbformat = pytest.importorskip("nbformat")
    from jupyter_cache.base import CacheBundleIn

    cache = jupyter_cache.get_cache(str(notebook_cache))
    database = notebook_cache / "database.lock"  # jupyter-cache's SQLite file, one writer at a time

    def stored(committed):
        """The committed notebook with the outputs of its cached execution (the cache keeps code cells only)."""
        with locked(database):
            try:
                pk, merged = cache.merge_match_into_notebook(committed)
            except KeyError:
                return None
            return merged, cache.get_cache_record(pk).data or {}

    def run(path, wait=True):
        """The executed notebook; with ``wait=False``, None while another worker is executing it."""
        path = pathlib.Path(path).resolve()
        if path not in _RESULTS:
            failed = notebook_cache / f"{path.stem}.failed"
            with locked(notebook_cache / f"{path.stem}.lock", wait=wait) as taken:
                if not taken:
                    return None
                committed = nbformat.read(path, as_version=4)
                found = stored(committed)
                if found is not None:  # another worker executed it
                    _RESULTS[path], data = found
                    EXECUTION_SECONDS[path] = data.get("execution_seconds", float("nan"))
                elif failed.exists():
                    _RESULTS[path] = NotebookFailed(failed.read_text(encoding="utf-8"))
                else:
                    _RESULTS[path] = _execute_and_store(path, committed)
        result = _RESULTS[path]
        if isinstance(result, NotebookFailed):
            pytest.fail(str(result), pytrace=False)
        return result

    def _execute_and_store(path, committed):
        start = time.perf_counter()
        try:
            nb = execute(path)
        except NotebookFailed as err:
            (notebook_cache / f"{path.stem}.failed").write_text(str(err), encoding="utf-8")
            return err
        EXECUTION_SECONDS[path] = time.perf_counter() - start
        # stored as myst-nb stores what it executes: matched later by the hash of the code cells
        # (their sources and metadata), which must be those of the notebook as committed
        with locked(database):
            record = cache.cache_notebook_bundle(CacheBundleIn(nb, str(path), data={
                "execution_seconds": EXECUTION_SECONDS[path]}), check_validity=False, overwrite=True)
            try:
                found = cache.match_cache_notebook(committed).pk
            except KeyError:
                found = None
        if found != record.pk:
            raise RuntimeError(f"{path.name}: the executed notebook is cached under another hash than "
                               "the committed one; the docs build would execute it again")
        return nb

    return run
