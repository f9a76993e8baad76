"""A driver run on another Array API library (the ``other_library`` fixture of tests/conftest.py): every array
field of its result must be that library's array and equal the result of the same call on NumPy arrays.

The NumPy result itself is checked against independent counterparts in each driver's own tests; here it
is the reference for the same computation in another library.
"""

import dataclasses

import numpy as np

from algorithms.tolerances import assert_close

#: array-api-strict computes with NumPy underneath: the same operations in the same order give the same
#: floats (bit for bit in practice); 1e-12, a few hundred ulps, is the bound of the Array API tests.
STRICT = 1e-12

#: PyTorch's kernels may sum (reductions, means over samples) in another order than NumPy's: last-bit
#: differences, carried through the few steps of each test; 1e-10 relative to the result's scale.
TORCH = 1e-10


def assert_same_result(lib, got, want, *, properties=()):
    """``got`` (the driver on ``lib``'s arrays) holds ``lib``'s arrays equal to ``want`` (on NumPy's), field by
    field, and so do the named derived ``properties``."""
    names = [f.name for f in dataclasses.fields(want) if isinstance(getattr(want, f.name), np.ndarray)]
    assert names, "the result has no array field to compare"
    rtol = STRICT if lib.name == "array_api_strict" else TORCH
    for name in [*names, *properties]:
        a = getattr(got, name)
        assert isinstance(a, lib.array_type), (lib.name, name, type(a))
        assert_close(lib.back(a), getattr(want, name), rtol)
