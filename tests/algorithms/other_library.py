"""A driver on another array library (the ``other_library`` fixture) against the same driver on NumPy.

The NumPy path is checked against independent counterparts in each driver's own tests; these
checks ask only that the other library's run computes in that library (every array field of the
result is its array type) and gives the NumPy run's numbers.
"""

import numpy as np

from algorithms.tolerances import assert_close

#: array-api-strict runs NumPy underneath: the same operations on the same floats give the same
#: floats, so the results agree to rounding at most (1e-12, SAME_ARITHMETIC's bound). Off NumPy,
#: blrkit's own expit, digamma and log Γ replace SciPy's (within 2e-14 relative, tests/test_array_api.py),
#: which moves ncvmp, svi_lda and the VMP lower bounds by ~2e-15 relative: inside the bound.
STRICT = 1e-12

#: PyTorch and JAX call their own BLAS/LAPACK (and XLA), which may sum products and factor matrices
#: in another order; over a few steps of well-conditioned problems that stays far below 1e-10
#: relative to the result's scale.
OWN_BLAS = 1e-10


def tolerance(lib) -> float:
    return STRICT if lib.name == "array_api_strict" else OWN_BLAS


def assert_same_result(got, want, lib, fields):
    """Each named field of ``got`` is an array of ``lib`` equal to that of the NumPy result ``want``."""
    for name in fields:
        value = getattr(got, name)
        assert isinstance(value, lib.array_type), (lib.name, name, type(value))
        assert_close(lib.back(value), np.asarray(getattr(want, name)), tolerance(lib))


def convert_all(lib, kwargs: dict) -> dict:
    """Every NumPy array of ``kwargs`` as ``lib``'s array, every callable wrapped to take and return them."""
    return {k: lib.convert(v) for k, v in kwargs.items()}
