r"""Ridge regression derived from the Bayesian learning rule.

The model is Bayesian linear regression: prior :math:`\theta \sim \mathcal N(0, \alpha^{-1} I)`
and likelihood :math:`y \mid X, \theta \sim \mathcal N(X\theta, \sigma^2 I)`. The loss
:math:`\bar\ell(\theta) = \|y - X\theta\|^2 / (2\sigma^2) + \tfrac{\alpha}{2}\|\theta\|^2` is
quadratic, so with a full Gaussian candidate :math:`\mathbb E_q[\bar\ell]` is linear in the
expectation parameters, its natural gradient is a constant, and one BLR step with ρ = 1 lands
on the exact posterior from any start: conjugate Bayes (Khan & Rue 2023, Sec. 5.1). Its mean is
the ridge-regression estimate.

The numeric update is the emitted :func:`~blrkit.algorithms._generated.ridge.ridge_posterior`.
"""

from __future__ import annotations

import math

import numpy as np

from blrkit._array_api import array_namespace, on_device
from blrkit._validation import as_float_array, check_positive, reject_complex, reject_text
from blrkit.algorithms._common import named_failures
from blrkit.algorithms._generated.ridge import ridge_posterior
from blrkit.algorithms._namespace import floating_dtype
from blrkit.algorithms.results import GaussianPosterior

__all__ = ["ridge"]

_FLOAT64 = np.dtype(np.float64)
_sum = np.add.reduce


@named_failures
def ridge(X, y, alpha, *, noise_variance=1.0) -> GaussianPosterior:
    r"""The exact Gaussian posterior of Bayesian ridge regression, one BLR step with ρ = 1.

    .. math::

        S = \frac{X^\top X}{\sigma^2} + \alpha I, \qquad m = S^{-1} \frac{X^\top y}{\sigma^2}.

    Symbols: :math:`X` is ``X``, :math:`y` is ``y``, α (the prior precision) is ``alpha`` and
    :math:`\sigma^2` is ``noise_variance`` (Khan & Rue 2023, Sec. 5.1). The mean equals
    scikit-learn's ``Ridge(alpha=noise_variance * alpha, fit_intercept=False)``: its penalty is
    :math:`\sigma^2\alpha`, because it does not divide the squared error by :math:`\sigma^2`.

    Parameters
    ----------
    X : array_like or dask.array.Array, shape (*batch, N, D)
        Design matrices. An array of another Array API library (PyTorch, JAX, CuPy, …) makes the
        computation use that library, and the posterior holds its arrays. A Dask array (chunked
        along N, whole along D) is never loaded whole: :math:`X^\top X` and :math:`X^\top y` are
        chunked reductions and the posterior comes back as NumPy arrays (``docs/scale.md``).
    y : array_like or dask.array.Array, shape (*batch, N)
        Targets; a Dask array exactly when ``X`` is one.
    alpha : float or array_like of shape (*batch,)
        Prior precision, > 0.
    noise_variance : float or array_like of shape (*batch,), default 1.0
        Observation-noise variance :math:`\sigma^2`, > 0.

    Returns
    -------
    GaussianPosterior
        ``mean`` ``(*batch, D)``, ``precision`` ``(*batch, D, D)`` and ``covariance``.

    Raises
    ------
    ValueError
        Shape mismatches, non-positive ``alpha`` or ``noise_variance``, non-finite ``X`` or ``y``; a
        Dask ``X`` chunked along its columns.
    TypeError
        Complex data; ``X`` and ``y`` from different array libraries (Dask with NumPy, NumPy with JAX, …).

    References
    ----------
    Khan & Rue, "The Bayesian Learning Rule", JMLR 24 (2023), Sec. 5.1.

    Examples
    --------
    >>> import numpy as np
    >>> from blrkit.algorithms import ridge
    >>> X = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]]); y = np.array([1.0, 2.0, 0.0])
    >>> post = ridge(X, y, alpha=1.0)
    >>> post.precision
    array([[3., 1.],
           [1., 6.]])
    >>> np.allclose(post.precision @ post.mean, X.T @ y)
    True
    """
    if type(X) is np.ndarray and type(y) is np.ndarray:          # the common case: two type checks
        # α and σ² Python floats (the commonest case) cannot come from another library
        xp = np if type(alpha) is float and type(noise_variance) is float else \
            array_namespace(X=X, y=y, alpha=alpha, noise_variance=noise_variance)
        complex_data = X.dtype.kind == "c" or y.dtype.kind == "c"
    else:
        # one library for all four (TypeError naming the odd one otherwise); NumPy for lists and numbers
        xp = array_namespace(X=X, y=y, alpha=alpha, noise_variance=noise_variance)
        complex_data = True                                      # not known yet: let reject_complex look
    if complex_data:
        reject_complex(X, "X")
        reject_complex(y, "y")
        reject_text(X, "X")   # (a list of strings takes this path too: named, not NumPy's conversion error)
        reject_text(y, "y")
    # no copies of the (possibly large) data: it is only read, never written
    # float32 data stays float32 (integers, lists: float64), the posterior in that dtype
    if xp is np and type(X) is np.ndarray and type(y) is np.ndarray and X.dtype is _FLOAT64 and y.dtype is _FLOAT64:
        dtype = _FLOAT64  # the common case, two identity tests (floating_dtype's rule gives the same)
    else:
        dtype = floating_dtype(xp, X=X, y=y)
        X = xp.asarray(X, dtype=dtype)
        y = xp.asarray(y, dtype=dtype)
    batch = check_shapes(X, y)
    a = _positive_parameter(alpha, "alpha", batch)
    s2 = _positive_parameter(noise_variance, "noise_variance", batch)
    if xp is not np:
        # a list of α or σ² beside another library's X becomes that library's array, on X's device
        a, s2 = (v if type(v) is float else on_device(xp, v, X) for v in (a, s2))
    m, S = ridge_posterior(X, y, a, s2)
    # Non-finite data always shows up in XᵀX (its diagonal holds Σ x²) or in Xᵀy, so checking the
    # small outputs is a complete test; only then pay for a pass over the data to name the culprit.
    # NumPy: one sum of each (a NaN or inf makes the total non-finite; only if it is, the exact test, as a sum of
    # large finite entries may overflow), by the ufunc's reduce itself: ndarray.sum's Python layer cost 14 % of
    # the check's instructions. (Not a dot of each with itself, cheaper still: squares above 1e154 would
    # overflow, and NumPy would warn of it.)
    if xp is np:
        finite = math.isfinite(_sum(S, None) + _sum(m, None)) or bool(np.isfinite(S).all() and np.isfinite(m).all())
    else:
        finite = bool(xp.all(xp.isfinite(S))) and bool(xp.all(xp.isfinite(m)))
    if not finite:
        as_float_array(X, "X")
        as_float_array(y, "y")
        raise ValueError("X and y are finite but XᵀX/σ² or Xᵀy/σ² overflowed; rescale the data")
    if m.dtype != dtype:
        m, S = xp.astype(m, dtype), xp.astype(S, dtype)
    return GaussianPosterior(mean=m, precision=S)


def _positive_parameter(x, name: str, batch: tuple[int, ...]):
    """α or σ²: > 0 and finite; a Python float if scalar, else an array whose shape broadcasts to ``batch``
    without widening it."""
    if type(x) is float and 0.0 < x < math.inf:      # the common case, without building an array
        return x
    v = check_positive(x, name)
    if not v.ndim:
        return float(v)
    try:
        ok = np.broadcast_shapes(tuple(v.shape), batch) == batch
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{name} must be a scalar or have the batch shape {batch}, got shape {tuple(v.shape)}")
    return v


def check_shapes(X, y) -> tuple[int, ...]:
    """The batch shape of ``X (*batch, N, D)`` and ``y (*batch, N)`` (arrays of any library, Dask's too), or
    ``ValueError``."""
    if X.ndim < 2:
        raise ValueError(f"X must be a (*batch, N, D) array, got shape {tuple(X.shape)}")
    if y.ndim < 1 or y.shape[-1] != X.shape[-2]:
        raise ValueError(f"y must have shape (*batch, N) with N = {X.shape[-2]} rows of X, got shape {tuple(y.shape)}")
    if X.shape[-1] == 0:
        raise ValueError(f"X must have at least one column, got shape {tuple(X.shape)}")
    if X.ndim == 2 and y.ndim == 1:     # one problem: no batch shapes to reconcile
        return ()
    try:
        return np.broadcast_shapes(tuple(X.shape[:-2]), tuple(y.shape[:-1]))
    except ValueError:
        raise ValueError(f"X {tuple(X.shape)} and y {tuple(y.shape)} have incompatible batch shapes") from None
