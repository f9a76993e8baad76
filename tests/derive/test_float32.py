"""Every emitted step computes in the floating dtype of its arrays (issue #29, the emitted side): float32 in,
float32 out, and the same numbers as the float64 step to a float32 rounding (``FLOAT32`` in tolerances.py).

Each recipe's case from ``test_numeric`` is run twice: as given (float64), and with every float64 array
rounded to float32 and the user's callables returning float32 (a float32 user's code does). The float64 run
on the same rounded inputs is the reference, so only the step's own arithmetic differs.
"""

import numpy as np
import pytest

from blrkit._array_api import float_dtype
from blrkit.derive import RECIPES

from .test_numeric import CASES, generated, run
from .tolerances import FLOAT32, assert_close


def _rounded(value, dtype):
    """A float array rounded to float32 and given as ``dtype``; a callable whose float outputs are ``dtype``."""
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return value.astype(np.float32).astype(dtype)
    if callable(value) and not isinstance(value, np.random.Generator):
        def wrapped(*args):
            out = value(*(np.asarray(a, dtype=np.float64) if isinstance(a, np.ndarray) and a.dtype.kind == "f"
                          else a for a in args))
            cast = lambda o: np.asarray(o, dtype=dtype) if np.asarray(o).dtype.kind == "f" else o  # noqa: E731
            return tuple(cast(o) for o in out) if isinstance(out, tuple) else cast(out)
        return wrapped
    return value


@pytest.mark.parametrize("name", list(RECIPES))
def test_emitted_step_keeps_float32(name, rng):
    make_kwargs, _ = CASES[name](rng)
    recipe = RECIPES[name]
    step = generated(recipe)
    want = run(step, recipe, lambda: {k: _rounded(v, np.float64) for k, v in make_kwargs().items()})
    got = run(step, recipe, lambda: {k: _rounded(v, np.float32) for k, v in make_kwargs().items()})
    for key, value in want.items():
        assert np.asarray(got[key]).dtype == np.float32, (name, key, np.asarray(got[key]).dtype)
        assert_close(got[key], value, FLOAT32, err_msg=f"{name} float32 {key}")


def test_float64_anywhere_wins_and_integers_do_not_choose():
    f32, f64 = np.ones(2, dtype=np.float32), np.ones(2)
    assert float_dtype(np, m=f32, S=f64) is np.float64
    assert float_dtype(np, m=f32, y=np.array([0, 1]), mask=np.array([True]), rho=0.5, X=None) is np.float32
    assert float_dtype(np, m=[1.0, 2.0], y=np.array([0, 1])) is np.float64


@pytest.mark.parametrize("dtype", [np.float16, np.complex128, np.longdouble])
def test_float16_and_complex_are_refused_naming_the_argument(dtype):
    step = generated(RECIPES["ridge"])
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((5, 2)), rng.standard_normal(5)
    if np.dtype(dtype) == np.float64:  # a platform whose long double is a double
        pytest.skip("long double is float64 here")
    with pytest.raises(ValueError, match=r"^X has dtype .*: blrkit computes in float32 or float64; convert X"):
        step(X=X.astype(dtype), y=y, alpha=1.0, noise_variance=1.0)
