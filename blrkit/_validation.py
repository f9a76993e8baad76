"""Input checks shared by every layer: NumPy only, each error names the argument."""

from __future__ import annotations

import numpy as np


def as_float_array(x, name: str, *, min_ndim: int = 0, allow_nan: bool = False) -> np.ndarray:
    """Return ``x`` as a new float array; raise ``ValueError`` naming ``name`` if invalid.

    The result is always a copy, so callers may never mutate the user's data. ``None``, complex
    numbers (NumPy would silently keep their real part) and non-numbers raise ``TypeError``.

    >>> as_float_array([1, 2], "m")
    array([1., 2.])
    >>> as_float_array([1, float("nan")], "m")
    Traceback (most recent call last):
    ...
    ValueError: m must be finite (no NaN or inf)
    """
    if x is None:
        raise TypeError(f"{name} is required: got None, expected an array of real numbers")
    reject_complex(x, name)
    try:
        a = np.array(x, dtype=float, copy=True)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of real numbers, got {type(x).__name__}") from None
    if a.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimension(s), got shape {a.shape}")
    bad = np.isinf(a) if allow_nan else ~np.isfinite(a)
    if bad.any():
        raise ValueError(f"{name} must be finite (no NaN or inf)" if not allow_nan else f"{name} must not contain inf")
    return a


def reject_complex(x, name: str) -> None:
    """Raise ``TypeError`` naming ``name`` if ``x`` holds complex numbers (NumPy would silently drop
    their imaginary part when converting to float). Reads only the dtype: no copy of ``x``.

    >>> reject_complex(np.array([1 + 0j]), "y")
    Traceback (most recent call last):
    ...
    TypeError: y must be an array of real numbers, got complex values (dtype complex128)
    """
    if np.iscomplexobj(x):
        dtype = getattr(x, "dtype", np.asarray(x).dtype)
        raise TypeError(f"{name} must be an array of real numbers, got complex values (dtype {dtype})")


def check_count(value, name: str, minimum: int = 1) -> int:
    """An integer size (a dimension, a number of classes) of at least ``minimum``.

    >>> check_count(-1, "D")
    Traceback (most recent call last):
    ...
    ValueError: D must be an integer >= 1, got -1
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_learning_rate(rho, name: str = "rho") -> np.ndarray:
    """ρ must lie in (0, 1]; scalar or one value per problem.

    >>> check_learning_rate(0.5)
    array(0.5)
    >>> check_learning_rate(1.5)
    Traceback (most recent call last):
    ...
    ValueError: rho must lie in (0, 1], got 1.5
    """
    r = as_float_array(rho, name)
    if np.any(r <= 0) or np.any(r > 1):
        shown = r.item() if r.ndim == 0 else r
        raise ValueError(f"{name} must lie in (0, 1], got {shown}")
    return r


def check_positive(x, name: str) -> np.ndarray:
    """Every entry strictly positive.

    >>> check_positive([0.0], "alpha")
    Traceback (most recent call last):
    ...
    ValueError: alpha must be > 0
    """
    # the common case, a finite Python float or int (not bool: its type is not int), without array passes;
    # NaN and inf fail the comparison and take the general path below
    if (type(x) is float or type(x) is int) and abs(x) < 1e308:
        if x <= 0:
            raise ValueError(f"{name} must be > 0")
        return np.array(float(x))
    a = as_float_array(x, name)
    if np.any(a <= 0):
        raise ValueError(f"{name} must be > 0")
    return a


def check_probability(x, name: str) -> np.ndarray:
    """Every entry in the open interval (0, 1).

    >>> check_probability([1.0], "p")
    Traceback (most recent call last):
    ...
    ValueError: p must lie in the open interval (0, 1)
    """
    a = as_float_array(x, name)
    if np.any(a <= 0) or np.any(a >= 1):
        raise ValueError(f"{name} must lie in the open interval (0, 1)")
    return a


def check_simplex(w: np.ndarray, name: str, *, atol: float = 1e-12) -> np.ndarray:
    """Every vector along the last axis on the probability simplex: positive, summing to one (to ``atol``).

    >>> check_simplex(np.array([0.5, 0.6]), "weights0")
    Traceback (most recent call last):
    ...
    ValueError: weights0 must lie on the simplex: positive, summing to one over the last axis (sums [1.1])
    """
    if np.any(w <= 0) or not np.allclose(w.sum(-1), 1.0, rtol=0, atol=atol):
        sums = np.unique(np.round(np.sum(w, axis=-1), 12))[:3].tolist()
        raise ValueError(f"{name} must lie on the simplex: positive, summing to one over the last axis (sums {sums})")
    return w


def check_square(a: np.ndarray, name: str, size: int | None = None) -> np.ndarray:
    """Trailing two axes square (and of ``size`` if given)."""
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"{name} must be a (..., D, D) array of square matrices, got shape {a.shape}")
    if size is not None and a.shape[-1] != size:
        raise ValueError(f"{name} must be ({size}, {size}) in its last two axes, got shape {a.shape}")
    return a


def check_spd(x, name: str, size: int | None = None, *, rtol: float = 1e-10) -> np.ndarray:
    """Symmetric positive definite matrices in the trailing two axes.

    Symmetry is checked to ``rtol`` relative to the largest entry; positive
    definiteness by a Cholesky factorisation.

    >>> check_spd([[1.0, 2.0], [2.0, 1.0]], "P0")
    Traceback (most recent call last):
    ...
    ValueError: P0 must be symmetric positive definite
    """
    a = check_square(as_float_array(x, name), name, size)
    scale = np.max(np.abs(a), initial=0.0)
    if not np.allclose(a, np.swapaxes(a, -1, -2), rtol=0.0, atol=rtol * max(scale, 1.0)):
        raise ValueError(f"{name} must be symmetric")
    try:
        np.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        raise ValueError(f"{name} must be symmetric positive definite") from None
    return a


def array_library(x) -> str | None:
    """The library an array argument comes from (``"numpy"``, ``"dask"``, ``"jax"``, …), or None for
    Python numbers, lists and other plain values. Reads the type only: nothing is imported.

    >>> array_library(np.ones(2)), array_library([1.0, 2.0]), array_library(2.0)
    ('numpy', None, None)
    """
    t = type(x)
    if isinstance(x, (np.ndarray, np.generic)):
        return "numpy"
    if hasattr(t, "__array_namespace__") or hasattr(t, "__dask_graph__"):
        return t.__module__.partition(".")[0]
    return None


def check_one_array_library(named: dict, *, allowed: dict[str, set[str]] | None = None) -> str:
    """Every array argument in ``named`` (name → value) from one library; return it (``"numpy"`` if none).

    ``allowed`` lists, per library, the others it may be mixed with (e.g. ``{"dask": {"numpy"}}``:
    Dask data with NumPy parameters). Otherwise a mix raises ``TypeError`` naming both arguments.

    >>> class Array:                       # stands for any Array API array other than NumPy's
    ...     __module__ = "otherlib"
    ...     def __array_namespace__(self): ...
    >>> check_one_array_library({"y": np.ones(2), "F": Array()})
    Traceback (most recent call last):
    ...
    TypeError: F comes from otherlib (Array) but y from NumPy: pass every array argument from one library (np.asarray(F) converts to NumPy)
    """
    libs = {name: lib for name, v in named.items() if (lib := array_library(v)) is not None}
    found = set(libs.values())
    if len(found) <= 1:
        return next(iter(found), "numpy")
    allowed = allowed or {}
    for main in found:
        if found - {main} <= allowed.get(main, set()):
            return main
    first = next(iter(libs))
    other = next(n for n, lib in libs.items() if lib != libs[first])
    if libs[first] != "numpy" and libs[other] == "numpy":
        first, other = other, first
    kind = {"numpy": "NumPy", "dask": "Dask"}
    raise TypeError(f"{other} comes from {kind.get(libs[other], libs[other])} ({type(named[other]).__name__}) but "
                    f"{first} from {kind.get(libs[first], libs[first])}: pass every array argument from one "
                    f"library (np.asarray({other}) converts to NumPy)")
