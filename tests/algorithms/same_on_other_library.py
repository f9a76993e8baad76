"""A driver run on another array library against the same driver on NumPy (issue #15), with the tolerances.

The NumPy result is the reference here: the NumPy path is itself checked against independent counterparts in
each driver's other tests, so these checks only have to show that the other library computes the same thing.
"""

import dataclasses

import numpy as np

from algorithms.tolerances import assert_close

#: array-api-strict computes with NumPy underneath, so the same operations give the same floats; the one
#: difference is that off NumPy blrkit's own expit/digamma/log Γ replace SciPy's (series accurate to a few ulps,
#: measured ≤ 2e-15 relative on these problems): 1e-12 leaves room and would catch any wrong term.
STRICT = 1e-12

#: PyTorch's BLAS, LAPACK and reductions may sum in another order than NumPy's (measured ≤ 2e-14 relative on
#: these problems, through a few iterations): 1e-10 relative to the result's scale, the issue's bound.
TORCH = 1e-10


def fields(result) -> dict:
    """The arrays of a driver's result by name: a dataclass's array fields, or a dict or tuple as given."""
    if dataclasses.is_dataclass(result):
        return {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}
    if isinstance(result, tuple):
        return dict(enumerate(result))
    return dict(result)


def assert_same_result(lib, got, want):
    """Every array of ``got`` (a result of the driver on ``lib``'s arrays) is ``lib``'s and equals ``want``'s (the
    driver on NumPy arrays), to ``STRICT`` or ``TORCH`` relative to each array's scale."""
    rtol = STRICT if lib.name == "array_api_strict" else TORCH
    got, want = fields(got), fields(want)
    assert got.keys() == want.keys()
    for key, w in want.items():
        if not isinstance(w, np.ndarray):  # a number (n_steps, ess): the same value
            assert got[key] == w, key
            continue
        assert isinstance(got[key], lib.array_type), (key, type(got[key]))
        assert_close(lib.back(got[key]), w, rtol)
