"""Input checks shared by every layer, each error naming the argument.

Each check works on the arrays of any Array API library (:mod:`blrkit._array_api`) and returns the
same library's arrays: NumPy arrays, Python numbers and lists give NumPy arrays, as before.
"""

from __future__ import annotations

import numpy as np

from blrkit._array_api import array_library, array_namespace, check_one_array_library, to_numpy

__all__ = ["BINARY_LABELS", "array_library", "as_float_array", "check_binary_labels",
           "check_choice", "check_count", "check_finite_result", "check_flag",
           "check_instance", "check_learning_rate", "check_one_array_library", "check_positive", "check_probability",
           "check_scalar", "check_simplex", "check_spd", "cholesky_succeeds", "check_square", "reject_complex",
           "reject_text"]


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
    reject_text(x, name)
    xp = array_namespace(**{name: x})
    try:
        a = np.array(x, dtype=float, copy=True) if xp is np else xp.asarray(x, dtype=xp.float64, copy=True)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of real numbers, got {type(x).__name__}") from None
    if a.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimension(s), got shape {tuple(a.shape)}")
    bad = xp.isinf(a) if allow_nan else ~xp.isfinite(a)
    if bool(xp.any(bad)):
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
    dtype = getattr(x, "dtype", None)
    if dtype is not None and array_library(x) not in (None, "numpy"):
        complex_ = array_namespace(x=x).isdtype(dtype, "complex floating")
    else:
        complex_ = np.iscomplexobj(x)
    if complex_:
        dtype = dtype if dtype is not None else np.asarray(x).dtype
        raise TypeError(f"{name} must be an array of real numbers, got complex values (dtype {dtype})")


def reject_text(x, name: str) -> None:
    """Raise ``TypeError`` naming ``name`` if ``x`` is text (a string, bytes, or a list or array of them):
    NumPy would parse ``"0.1"`` as a number, hiding a caller's mistake. Reads the type (and, for a list, the
    dtype NumPy infers).

    >>> reject_text("0.1", "lr")
    Traceback (most recent call last):
    ...
    TypeError: lr must be a number or an array of real numbers, got str '0.1'
    """
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be a number or an array of real numbers, got {type(x).__name__} {x!r}")
    dtype = getattr(x, "dtype", None)
    if dtype is None and isinstance(x, (list, tuple)):
        try:
            dtype = np.asarray(x).dtype
        except (TypeError, ValueError):  # ragged: the conversion to float names it
            return
    if getattr(dtype, "kind", "") in ("U", "S"):
        raise TypeError(f"{name} must be a number or an array of real numbers, got text (dtype {dtype})")


#: The largest count a driver accepts: NumPy's random generators and index arrays are int64.
MAX_COUNT = int(np.iinfo(np.int64).max)


def check_count(value, name: str, minimum: int = 1, maximum: int = MAX_COUNT, *, reason: str = "") -> int:
    """An integer size (a dimension, a number of classes, a number of nodes) in [``minimum``, ``maximum``].

    >>> check_count(-1, "D")
    Traceback (most recent call last):
    ...
    ValueError: D must be an integer >= 1, got -1
    >>> check_count(2**70, "n_data")
    Traceback (most recent call last):
    ...
    ValueError: n_data must be an integer <= 9223372036854775807 (int64), got 1180591620717411303424

    ``reason`` says why a maximum below int64's is there.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value > maximum:
        what = " (int64)" if maximum == MAX_COUNT else ""
        raise ValueError(f"{name} must be an integer <= {maximum}{what}, got {value!r}" + (f" ({reason})" if reason else ""))
    return int(value)


def check_scalar(x, name: str, *, low: float = -np.inf, high: float = np.inf, closed_low: bool = False,
                 closed_high: bool = False) -> float:
    """One real number in the interval from ``low`` to ``high`` (open ends unless ``closed_low``/``closed_high``),
    as a Python float: the validator of every hyperparameter documented as a scalar (a positive step, a
    probability, a temperature). Text, booleans, complex numbers and arrays of more than one value raise
    ``TypeError``; NaN, inf and values outside the interval raise ``ValueError``; each names ``name``.

    >>> check_scalar(0.5, "keep_prob", low=0.0, high=1.0, closed_high=True)
    0.5
    >>> check_scalar([0.5, 0.4], "keep_prob", low=0.0, high=1.0)
    Traceback (most recent call last):
    ...
    TypeError: keep_prob must be a single number, got an array of shape (2,)
    >>> check_scalar(0.0, "temperature", low=0.0)
    Traceback (most recent call last):
    ...
    ValueError: temperature must be > 0, got 0.0
    """
    if type(x) is not float:  # the common case, a Python float, skips the conversions
        if isinstance(x, (bool, np.bool_)) or x is None:
            raise TypeError(f"{name} must be a real number, got {type(x).__name__} {x!r}")
        reject_text(x, name)
        reject_complex(x, name)
        try:
            a = np.asarray(to_numpy(x) if array_library(x) not in (None, "numpy") else x, dtype=float)
        except (TypeError, ValueError, OverflowError):
            raise TypeError(f"{name} must be a real number, got {type(x).__name__}") from None
        if a.ndim:
            raise TypeError(f"{name} must be a single number, got an array of shape {a.shape}")
        x = float(a)
    if not np.isfinite(x):
        raise ValueError(f"{name} must be finite, got {x!r}")
    if not ((x >= low if closed_low else x > low) and (x <= high if closed_high else x < high)):
        if high == np.inf:
            where = f"{'>=' if closed_low else '>'} {low:g}"
        else:
            where = f"in {'[' if closed_low else '('}{low:g}, {high:g}{']' if closed_high else ')'}"
        raise ValueError(f"{name} must be {where}, got {x!r}")
    return x


def check_instance(value, name: str, types, what: str):
    """``value`` if it is an instance of ``types``, else ``TypeError`` naming ``name`` and ``what`` it must be: the
    check of every argument that must be one of blrkit's objects (a network, a problem, a result, settings), so that a
    wrong object is named instead of failing on a missing attribute deep inside.

    >>> check_instance(2.0, "net", dict, "a blrkit.models.MLP")
    Traceback (most recent call last):
    ...
    TypeError: net must be a blrkit.models.MLP, got float
    """
    if not isinstance(value, types):
        raise TypeError(f"{name} must be {what}, got {type(value).__name__}")
    return value


def check_flag(value, name: str) -> bool:
    """A boolean switch: ``True``/``False`` (NumPy's too), else ``TypeError`` naming ``name`` (an array's truth
    value would be NumPy's error, a number's silently anything).

    >>> check_flag(np.ones(2), "diagonal")
    Traceback (most recent call last):
    ...
    TypeError: diagonal must be True or False, got ndarray
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__}")
    return bool(value)


def check_choice(value, name: str, choices):
    """One of the strings ``choices``, else ``ValueError`` (an unknown string) or ``TypeError`` (not a string)
    naming ``name`` and listing them (an array compared with ``in`` would be NumPy's error).

    >>> check_choice("exact", "method", ("delta", "variational"))
    Traceback (most recent call last):
    ...
    ValueError: method must be one of ('delta', 'variational'), got 'exact'
    """
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {tuple(choices)}, got {type(value).__name__}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def check_finite_result(out, what: str, **scales):
    """``out`` if every entry is finite; else ``ValueError`` saying that ``what`` overflowed and the largest
    magnitude of each input named in ``scales`` (name → array), so that an overflow of finite inputs names the
    arguments and their scale instead of returning inf or NaN. One pass over ``out``; the inputs are read only on
    failure.

    >>> check_finite_result(np.array([np.inf]), "the K-prior's loss", memory=np.array([1e200]))
    Traceback (most recent call last):
    ...
    ValueError: the K-prior's loss overflowed: |memory| up to 1e+200; rescale it
    """
    if bool(np.all(np.isfinite(out))):
        return out
    sizes = ", ".join(f"|{k}| up to {np.max(np.abs(np.asarray(v, dtype=float)), initial=0.0):.3g}"
                      for k, v in scales.items())
    raise ValueError(f"{what} overflowed: {sizes}; rescale {'it' if len(scales) == 1 else 'them'}")


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
    xp = array_namespace(r=r)
    if bool(xp.any(r <= 0)) or bool(xp.any(r > 1)):
        shown = float(r) if r.ndim == 0 else to_numpy(r)
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
    if bool(array_namespace(a=a).any(a <= 0)):
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
    xp = array_namespace(a=a)
    if bool(xp.any(a <= 0)) or bool(xp.any(a >= 1)):
        raise ValueError(f"{name} must lie in the open interval (0, 1)")
    return a


def check_simplex(w: np.ndarray, name: str, *, atol: float = 1e-12) -> np.ndarray:
    """Every vector along the last axis on the probability simplex: positive, summing to one (to ``atol``).

    >>> check_simplex(np.array([0.5, 0.6]), "weights0")
    Traceback (most recent call last):
    ...
    ValueError: weights0 must lie on the simplex: positive, summing to one over the last axis (sums [1.1])
    """
    xp = array_namespace(w=w)
    if bool(xp.any(w <= 0)) or not bool(xp.all(xp.abs(xp.sum(w, axis=-1) - 1.0) <= atol)):
        sums = np.unique(np.round(np.sum(to_numpy(w), axis=-1), 12))[:3].tolist()
        raise ValueError(f"{name} must lie on the simplex: positive, summing to one over the last axis (sums {sums})")
    return w


def check_square(a: np.ndarray, name: str, size: int | None = None) -> np.ndarray:
    """Trailing two axes square (and of ``size`` if given)."""
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"{name} must be a (..., D, D) array of square matrices, got shape {tuple(a.shape)}")
    if size is not None and a.shape[-1] != size:
        raise ValueError(f"{name} must be ({size}, {size}) in its last two axes, got shape {tuple(a.shape)}")
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
    xp = array_namespace(a=a)
    scale = float(xp.max(xp.abs(a))) if a.size else 0.0
    if bool(xp.any(xp.abs(a - a.mT) > rtol * max(scale, 1.0))):
        raise ValueError(f"{name} must be symmetric")
    if not cholesky_succeeds(a):
        raise ValueError(f"{name} must be symmetric positive definite")
    return a


def cholesky_succeeds(a) -> bool:
    """Whether every matrix in the stack ``a`` has a Cholesky factor: NumPy and array-api-strict raise
    ``LinAlgError``, PyTorch a ``RuntimeError`` subclass, JAX returns NaN; all three mean no."""
    xp = array_namespace(a=a)
    try:
        L = xp.linalg.cholesky(a)
    except (np.linalg.LinAlgError, RuntimeError):
        return False
    return xp is np or bool(xp.all(xp.isfinite(L)))


#: What every entry point taking binary labels says when given another value: the one convention of blrkit
#: (scikit-learn's), and the conversion from the other common one.
BINARY_LABELS = "labels are {0, 1}; for ±1 labels pass (y + 1) / 2"


def check_binary_labels(y, name: str = "y", what: str = ""):
    """``y`` if every entry is 0 or 1, else ``ValueError`` naming ``name`` (and ``what`` the labels are for):
    blrkit's binary labels are {0, 1} everywhere (derive, algorithms, duality). Any Array API array; NaN is refused.

    >>> check_binary_labels(np.array([1.0, -1.0]), what="the logistic loss")
    Traceback (most recent call last):
    ...
    ValueError: y must hold labels 0 or 1 for the logistic loss (labels are {0, 1}; for ±1 labels pass (y + 1) / 2)
    """
    xp = array_namespace(y=y)
    a = np.asarray(y) if xp is np else y
    if not bool(xp.all((a == 0) | (a == 1))):
        raise ValueError(f"{name} must hold labels 0 or 1{' for ' + what if what else ''} ({BINARY_LABELS})")
    return y
