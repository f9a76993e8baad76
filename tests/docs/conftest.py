"""The notebook fixtures of tests/notebooks, shared: the docs build reads the notebooks they executed.

``tests/notebooks/conftest.py`` is imported under the name pytest gives it (``notebooks.conftest``,
``tests/`` on the path), so both folders use one module, hence one execution per notebook
per session and one jupyter-cache.
"""

import pathlib
import sys

TESTS = str(pathlib.Path(__file__).resolve().parents[1])
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

from notebooks.conftest import executed_notebook, notebook_cache  # noqa: E402,F401
