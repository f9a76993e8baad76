"""Checks shared by the drivers (on top of :mod:`blrkit._validation`); NumPy only."""

from __future__ import annotations

import numpy as np

from blrkit._validation import as_float_array, check_learning_rate


def check_start(m0, name: str = "m0") -> np.ndarray:
    """A starting mean ``(*batch, D)`` with D ≥ 1, copied and finite."""
    m = as_float_array(m0, name, min_ndim=1)
    if m.shape[-1] == 0:
        raise ValueError(f"{name} must have at least one parameter (last axis), got shape {m.shape}")
    return m


def check_rho(rho, batch_shape: tuple[int, ...], name: str = "rho"):
    """ρ in (0, 1], a scalar (returned as a Python float) or an array of shape ``batch_shape``."""
    r = check_learning_rate(rho, name)
    if r.ndim == 0:
        return float(r)
    if r.shape != batch_shape:
        raise ValueError(f"{name} must be a scalar or have the batch shape {batch_shape}, got shape {r.shape}")
    return r


def check_minibatch(n_data, batch_size) -> None:
    """N ≥ 1 terms in the loss and a minibatch of 1 ≤ M ≤ N of them, both integers."""
    for name, v in (("n_data", n_data), ("batch_size", batch_size)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if batch_size > n_data:
        raise ValueError(f"batch_size must be at most n_data = {n_data}, got {batch_size}")


def checked(fn, name: str, *, matrix: bool):
    """Wrap a user callable so that its output is checked: use it for the first step only.

    ``grad(m)`` must return ``m.shape``; ``hess(m)`` must return ``m.shape + (D,)``; both finite.
    """
    if not callable(fn):
        raise TypeError(f"{name} must be callable, got {type(fn).__name__}")

    def wrapped(m):
        out = np.asarray(fn(m))
        shape = m.shape + m.shape[-1:] if matrix else m.shape
        if out.shape != shape:
            what = "a Hessian" if matrix else "a gradient"
            raise ValueError(f"{name} must return {what} of shape {shape} for an input of shape {m.shape}, "
                             f"got shape {out.shape}")
        if not np.isfinite(out).all():
            raise ValueError(f"{name} returned non-finite values (NaN or inf)")
        return out

    return wrapped


def check_positive_definite(S: np.ndarray, name: str, where: str) -> None:
    """Raise ``ValueError`` naming ``name`` if a stack of symmetric matrices is not positive definite."""
    try:
        np.linalg.cholesky(S)
    except np.linalg.LinAlgError:
        raise ValueError(f"{name} is not positive definite {where}") from None


def finite_or_raise(a: np.ndarray, name: str, step: int) -> None:
    """An iterate went non-finite: say where."""
    if not np.isfinite(a).all():
        raise ValueError(f"the iterates became non-finite at step {step}; check {name} and rho")


def broadcast_to_batch(a: np.ndarray, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """Broadcast ``a`` to ``shape`` (read-only view), or raise ``ValueError`` naming ``name``."""
    try:
        if np.broadcast_shapes(a.shape, shape) == shape:
            return np.broadcast_to(a, shape)
    except ValueError:
        pass
    raise ValueError(f"{name} must have shape {shape} (or broadcast to it), got {a.shape}")


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
    try:
        return np.random.default_rng(rng)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a numpy.random.Generator, an int seed or None, "
                        f"got {type(rng).__name__}") from None
