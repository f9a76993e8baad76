"""Running an algorithm never imports SymPy: the NumPy layer stands alone."""

import subprocess
import sys


def test_algorithms_do_not_import_sympy():
    code = "import blrkit.algorithms, sys; assert 'sympy' not in sys.modules, 'blrkit.algorithms imported sympy'"
    subprocess.run([sys.executable, "-c", code], check=True)
