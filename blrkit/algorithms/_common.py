"""Checks shared by the drivers (on top of :mod:`blrkit._validation`), for the arrays of any Array API library."""

from __future__ import annotations

import functools
from contextlib import contextmanager

import numpy as np

from blrkit._array_api import array_namespace, to_numpy
from blrkit._validation import as_float_array, check_count, check_learning_rate, cholesky_succeeds
from blrkit.algorithms._checks import check_output, require_callable


def check_start(m0, name: str = "m0") -> np.ndarray:
    """A starting mean ``(*batch, D)`` with D ≥ 1, copied and finite."""
    m = as_float_array(m0, name, min_ndim=1)
    if m.shape[-1] == 0:
        raise ValueError(f"{name} must have at least one parameter (last axis), got shape {tuple(m.shape)}")
    return m


def check_rho(rho, batch_shape: tuple[int, ...], name: str = "rho"):
    """ρ in (0, 1], a scalar (returned as a Python float) or an array of shape ``batch_shape``."""
    r = check_learning_rate(rho, name)
    if r.ndim == 0:
        return float(r)
    if tuple(r.shape) != tuple(batch_shape):
        raise ValueError(f"{name} must be a scalar or have the batch shape {tuple(batch_shape)}, "
                         f"got shape {tuple(r.shape)}")
    return r


def per_problem(a, name: str, batch_shape: tuple[int, ...]):
    """A checked hyperparameter that is one number or one value per problem: ``a`` itself, or ``ValueError``
    naming ``name`` if its shape is neither ``()`` nor ``batch_shape``.

    >>> per_problem(np.ones(3), "lr", (2,))
    Traceback (most recent call last):
    ...
    ValueError: lr must be a scalar or have the batch shape (2,) (one value per problem), got shape (3,)
    """
    if getattr(a, "ndim", 0) and tuple(a.shape) != tuple(batch_shape):
        raise ValueError(f"{name} must be a scalar or have the batch shape {tuple(batch_shape)} (one value per "
                         f"problem), got shape {tuple(a.shape)}")
    return a


def check_minibatch(n_data, batch_size) -> None:
    """N ≥ 1 terms in the loss and a minibatch of 1 ≤ M ≤ N of them, both integers (N within int64: the
    indices are NumPy's)."""
    for name, v in (("n_data", n_data), ("batch_size", batch_size)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
        check_count(v, name)
    if batch_size > n_data:
        raise ValueError(f"batch_size must be at most n_data = {n_data}, got {batch_size}")


def checked(fn, name: str, *, matrix: bool, squared: bool = False):
    """Wrap a user callable so that its output is checked (:func:`blrkit.algorithms._checks.check_output`);
    a message names the call (step 1 is the first).

    ``grad(m)`` must return ``m.shape``; ``hess(m)`` must return ``m.shape + (D,)``; both real and finite
    (``squared``: each |g| below √(largest float), for a step that squares it).
    """
    require_callable(fn, name)
    what = "a Hessian" if matrix else "a gradient"
    calls = [0]

    def wrapped(m):
        calls[0] += 1
        shape = tuple(m.shape) + tuple(m.shape[-1:]) if matrix else tuple(m.shape)
        return check_output(fn(m), name, m, shape=shape, what=what, arg_name="m", squared=squared, step=calls[0])

    return wrapped


#: Symmetry of a precision, relative to its largest entry: the average of symmetric Hessians is
#: symmetric to rounding (~1e-16); a user's non-symmetric Hessian is off by far more.
SYMMETRY_RTOL = 1e-10


def check_positive_definite(S: np.ndarray, name: str, where: str) -> None:
    """Raise ``ValueError`` naming ``name`` if a stack of matrices is not symmetric positive definite.

    Symmetry is checked first (a Cholesky factorisation reads one triangle only, so it would
    accept a non-symmetric matrix whose symmetric part is indefinite).

    >>> check_positive_definite(np.array([[1.0, 2.0], [0.0, 1.0]]), "hess", "at step 0")
    Traceback (most recent call last):
    ...
    ValueError: hess is not symmetric at step 0 (largest |S - Sᵀ| = 2, relative 1)
    """
    xp = array_namespace(S=S)
    scale = float(xp.max(xp.abs(S))) if S.size else 0.0
    asym = float(xp.max(xp.abs(S - S.mT))) if S.size else 0.0
    if asym > SYMMETRY_RTOL * scale:
        raise ValueError(f"{name} is not symmetric {where} (largest |S - Sᵀ| = {asym:.3g}, "
                         f"relative {asym / scale:.3g})")
    if not cholesky_succeeds(S):
        raise ValueError(f"{name} is not positive definite {where}")


def check_step(t: int, m: np.ndarray, S: np.ndarray | None = None, *, grad: str = "grad",
               hess: str = "hess") -> None:
    """After step ``t``, name the callable whose output made an iterate non-finite.

    The precision comes from ``hess`` alone, so a non-finite precision blames it; a non-finite
    mean with a finite precision blames ``grad`` (or a diverging iteration).

    >>> check_step(1, np.zeros(1), np.array([[np.nan]]))
    Traceback (most recent call last):
    ...
    ValueError: the precision became non-finite at step 1: hess returned NaN or inf (or its values overflowed)
    """
    xp = array_namespace(m=m)
    if S is not None and _is_complex(S, xp):
        raise TypeError(f"the precision became complex at step {t}: {hess} returned complex values")
    if _is_complex(m, xp):
        raise TypeError(f"the mean became complex at step {t}: {grad} returned complex values")
    if S is not None and not bool(xp.all(xp.isfinite(S))):
        raise ValueError(f"the precision became non-finite at step {t}: {hess} returned NaN or inf "
                         "(or its values overflowed)")
    if not bool(xp.all(xp.isfinite(m))):
        if S is not None and S.ndim >= 2 and S.shape[-1] == S.shape[-2] and not cholesky_succeeds(S):
            # JAX's solve returns NaN for a singular precision where NumPy and PyTorch raise: the same message
            raise ValueError(f"{hess} returned a singular matrix at step {t}: the precision must be "
                             "positive definite")
        raise ValueError(f"the mean became non-finite at step {t}: {grad} returned NaN or inf, or the "
                         "iterates diverged (try a smaller rho)")


def _is_complex(a, xp) -> bool:
    return np.iscomplexobj(a) if xp is np else xp.isdtype(a.dtype, "complex floating")


def is_linalg_error(error: Exception) -> bool:
    """A failed factorisation or solve: NumPy's (and array-api-strict's) ``LinAlgError``, PyTorch's
    ``torch.linalg.LinAlgError``. (JAX returns NaN instead; :func:`check_step` then names it.)"""
    return isinstance(error, np.linalg.LinAlgError) or type(error).__name__ in ("LinAlgError", "_LinAlgError")


@contextmanager
def singular_is_error(name: str, t: int):
    """Turn a ``LinAlgError`` (a singular precision in a solve) into a ``ValueError`` naming ``name``."""
    try:
        yield
    except Exception as error:
        if not is_linalg_error(error):
            raise
        raise ValueError(f"{name} returned a singular matrix at step {t}: the precision must be "
                         "positive definite") from None


def step_failure(error: Exception, what: str) -> ValueError | None:
    """The ``ValueError`` saying ``what`` failed, when ``error`` is a failure of a step's arithmetic: a
    factorisation or solve of a matrix that lost its positive definiteness (:func:`is_linalg_error`), a Python
    float that left its range (``OverflowError``), a division by zero; None for any other error. A driver's
    inputs are checked before its loop, so such a failure is the step's: the message names it and its iterate,
    never NumPy's internals.

    >>> step_failure(OverflowError(34, "Numerical result out of range"), "the update at step 3")
    ValueError("the update at step 3 failed: an iterate left float64's range or lost its positive definiteness (OverflowError: (34, 'Numerical result out of range'))")
    """
    if not (is_linalg_error(error) or isinstance(error, ArithmeticError)):
        return None
    return ValueError(f"{what} failed: an iterate left float64's range or lost its positive definiteness "
                      f"({type(error).__name__}: {error})")


@contextmanager
def failure_is_error(what: str):
    """Within the block, a failure of a step's arithmetic (:func:`step_failure`) is a ``ValueError`` naming
    ``what``."""
    try:
        yield
    except Exception as error:
        failure = step_failure(error, what)
        if failure is None:
            raise
        raise failure from error


def named_failures(driver):
    """``driver`` with a failure of its update's arithmetic (:func:`step_failure`: a factorisation of a matrix that
    lost its definiteness, a float overflow) raised as a ``ValueError`` naming the driver's update, never as NumPy's
    or Python's error: its inputs are checked before its loop, so such a failure is the update step's."""

    @functools.wraps(driver)
    def checked_driver(*args, **kwargs):
        try:
            return driver(*args, **kwargs)
        except Exception as error:
            failure = step_failure(error, f"the update of {driver.__name__}")
            if failure is None:
                raise
            raise failure from error

    return checked_driver


def broadcast_to_batch(a: np.ndarray, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """Broadcast ``a`` to ``shape`` (read-only view), or raise ``ValueError`` naming ``name``."""
    try:
        if np.broadcast_shapes(tuple(a.shape), tuple(shape)) == tuple(shape):
            return array_namespace(a=a).broadcast_to(a, tuple(shape))
    except ValueError:
        pass
    raise ValueError(f"{name} must have shape {tuple(shape)} (or broadcast to it), got {tuple(a.shape)}")


def check_rng(rng, name: str = "rng") -> np.random.Generator:
    """A ``numpy.random.Generator``, or a seed for one (int, SeedSequence or None).

    >>> check_rng(0).standard_normal() == np.random.default_rng(0).standard_normal()
    True
    >>> check_rng("seed")
    Traceback (most recent call last):
    ...
    TypeError: rng must be a numpy.random.Generator, an int seed or None, got str
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool) and rng < 0:
        raise ValueError(f"{name} must be a numpy.random.Generator, a non-negative int seed or None: an int seed "
                         f"must be non-negative, got {rng}")
    try:
        return np.random.default_rng(rng)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a numpy.random.Generator, an int seed or None, "
                        f"got {type(rng).__name__}") from None


def check_interval(value, name: str, low: float, high: float, *, closed_low: bool = False):
    """``value`` (scalar or array) in the interval (low, high), or [low, high) with ``closed_low``; named if not.

    >>> check_interval(0.5, "beta1", 0.0, 1.0, closed_low=True).item()
    0.5
    """
    x = as_float_array(value, name)
    ok = (x >= low if closed_low else x > low) & (x < high)
    if not bool(array_namespace(x=x).all(ok)):
        shown = float(x) if x.ndim == 0 else to_numpy(x)
        raise ValueError(f"{name} must lie in {'[' if closed_low else '('}{low}, {high}), got {shown}")
    return x


def check_n_steps(n_steps) -> int:
    """The number of steps of a driver: an integer ≥ 0 (within int64, as every count), or ``ValueError``.

    >>> check_n_steps(2.5)
    Traceback (most recent call last):
    ...
    ValueError: n_steps must be a non-negative integer, got 2.5
    """
    if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 0:
        raise ValueError(f"n_steps must be a non-negative integer, got {n_steps!r}")
    return check_count(n_steps, "n_steps", 0)
