"""Running an algorithm never imports SymPy, nor an optional backend: the NumPy layer stands alone."""

import subprocess
import sys


def test_algorithms_do_not_import_sympy():
    code = "import blrkit.algorithms, sys; assert 'sympy' not in sys.modules, 'blrkit.algorithms imported sympy'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_algorithms_do_not_import_optional_backends():
    """Dask (the ``dask`` extra) is imported only when a Dask array is passed."""
    code = ("import blrkit.algorithms, sys; loaded = [m for m in sys.modules if m.split('.')[0] in "
            "('dask', 'distributed', 'array_api_compat', 'array_api_strict', 'jax', 'torch', 'cupy')]; "
            "assert not loaded, f'blrkit.algorithms imported {loaded}'")
    subprocess.run([sys.executable, "-c", code], check=True)
