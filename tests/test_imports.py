"""Running an algorithm never imports SymPy, nor an optional backend: the NumPy layer stands alone."""

import json
import subprocess
import sys

import pytest

#: the top-level packages a fresh interpreter holds after ``import blrkit.algorithms``
IMPORT_ALGORITHMS = ("import blrkit.algorithms, json, sys; "
                     "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")


@pytest.fixture(scope="module")
def loaded_by_algorithms() -> set:
    """The packages loaded by ``import blrkit.algorithms`` in a new interpreter: one interpreter for both checks
    (0.6 s of CPU each)."""
    out = subprocess.run([sys.executable, "-c", IMPORT_ALGORITHMS], check=True, capture_output=True, text=True)
    return set(json.loads(out.stdout))


def test_algorithms_do_not_import_sympy(loaded_by_algorithms):
    assert "sympy" not in loaded_by_algorithms, "blrkit.algorithms imported sympy"


def test_algorithms_do_not_import_optional_backends(loaded_by_algorithms):
    """Dask (the ``dask`` extra) is imported only when a Dask array is passed."""
    loaded = loaded_by_algorithms & {"dask", "distributed", "array_api_compat", "array_api_strict", "jax", "torch",
                                     "cupy"}
    assert not loaded, f"blrkit.algorithms imported {sorted(loaded)}"
