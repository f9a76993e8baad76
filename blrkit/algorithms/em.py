r"""Expectation–maximisation for a Gaussian mixture as the BLR (Khan & Rue 2023, Sec. 5.2).

The candidate :math:`q(z, \theta) = \prod_i \mathrm{Cat}(z_i\mid r_i)\,\mathcal N(\theta\mid m_\theta, S_\theta^{-1})`
with ρ = 1 for both blocks and the delta method for the parameters gives EM: the assignments' step is
the E-step, the parameters' step (Newton on :math:`Q(\theta) = \mathbb E_{q(z)}[\bar\ell]`, at its fixed
point) the M-step.  The recipe ``em`` derives it (:mod:`blrkit.derive.em`), emitted as
:func:`~blrkit.algorithms._generated.em.em_step`.
"""

from __future__ import annotations

import numpy as np

from blrkit._array_api import array_namespace, on_device
from blrkit._validation import as_float_array, check_simplex, check_spd
from blrkit.algorithms._common import check_n_steps, is_linalg_error, named_failures
from blrkit.algorithms._generated.em import em_step
from blrkit.algorithms._namespace import floating_dtype, namespace_and_reference
from blrkit.algorithms.results import EMResult

__all__ = ["em_gaussian_mixture", "second_moments"]


def second_moments(X) -> np.ndarray:
    r"""The statistics :math:`x_i x_i^\top` of every observation, flattened: ``(..., N, D*D)`` for ``X (..., N, D)``
    (the argument ``XX`` of the emitted :func:`~blrkit.algorithms._generated.em.em_step`), in the library of ``X``."""
    xp = array_namespace(X=X)
    X = np.asarray(X, dtype=float) if xp is np else xp.astype(X, xp.float64)
    return xp.reshape(X[..., :, :, None] * X[..., :, None, :], (*X.shape[:-1], X.shape[-1] ** 2))


@named_failures
def em_gaussian_mixture(X, *, weights0, means0, precisions0, n_steps: int) -> EMResult:
    r"""Run ``n_steps`` EM iterations for a full-covariance Gaussian mixture.

    .. math::

        r_{ik} \propto \pi_k\,\mathcal N(x_i\mid m_k, S_k^{-1}), \quad N_k = \sum_i r_{ik}, \quad
        \pi_k \leftarrow \frac{N_k}{N}, \quad m_k \leftarrow \frac{1}{N_k}\sum_i r_{ik} x_i, \quad
        S_k^{-1} \leftarrow \frac{1}{N_k}\sum_i r_{ik} x_i x_i^\top - m_k m_k^\top

    (the BLR with ρ = 1 and the delta method for the parameters; Khan & Rue 2023, Sec. 5.2), the same
    iteration as scikit-learn's ``GaussianMixture(covariance_type="full", reg_covar=0)``.  EM is
    equivariant under a shift of the data, so the iteration runs on data centred at their mean (the
    second-moment form of the covariance loses no digits there); the results are shifted back.

    Parameters
    ----------
    X : array_like, shape (*batch, N, D)
        Observations, finite; independent problems along the leading axes.  A Dask array chunked along its
        batch axes only runs each chunk of problems where Dask runs it (``pip install -e ".[dask]"``) and
        returns Dask arrays.  Arrays of another Array API library (PyTorch, CuPy, JAX, …; every argument
        from the same one) compute with it and give its arrays, on their device.
    weights0 : array_like, shape (*batch, K)
        Starting weights on the simplex (positive, summing to one); K ≤ N.
    means0 : array_like, shape (*batch, K, D)
        Starting means.
    precisions0 : array_like, shape (*batch, K, D, D)
        Starting precisions, symmetric positive definite.
    n_steps : int
        Iterations, ≥ 0.

    Returns
    -------
    EMResult
        ``weights`` ``(n_steps + 1, *batch, K)``, ``means`` ``(…, K, D)``, ``precisions`` ``(…, K, D, D)``
        and ``log_likelihood`` ``(n_steps + 1, *batch)``: :math:`\sum_i \log p(x_i\mid\theta_t)` at every
        iterate, never decreasing.

    Raises
    ------
    ValueError
        Bad shapes, K > N, weights off the simplex, a precision that is not symmetric positive definite,
        non-finite data, or a component that collapses (its covariance stops being positive definite:
        the likelihood is unbounded there), naming the step.

    Examples
    --------
    >>> import numpy as np
    >>> from blrkit.algorithms import em_gaussian_mixture
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(-2, 1, (150, 1)), rng.normal(3, 1, (100, 1))])
    >>> res = em_gaussian_mixture(X, weights0=[0.5, 0.5], means0=[[-1.0], [1.0]],
    ...                           precisions0=[[[1.0]], [[1.0]]], n_steps=50)
    >>> np.round(res.means[-1, :, 0], 2), np.round(res.weights[-1], 2)
    (array([-1.92,  2.92]), array([0.61, 0.39]))
    >>> bool(np.all(np.diff(res.log_likelihood) >= -1e-9))
    True
    """
    xp, like = namespace_and_reference(X=X, weights0=weights0, means0=means0, precisions0=precisions0)
    # float32 data: float32 results (the iteration itself runs in float64: its sums of x xᵀ need the range)
    dtype = floating_dtype(xp, X=X, weights0=weights0, means0=means0, precisions0=precisions0)
    X = on_device(xp, as_float_array(X, "X", min_ndim=2), like)
    N, D = X.shape[-2:]
    if N == 0 or D == 0:
        raise ValueError(f"X must hold at least one observation of at least one dimension, got shape {tuple(X.shape)}")
    w = on_device(xp, as_float_array(weights0, "weights0", min_ndim=1), like)
    K = w.shape[-1]
    if K == 0:
        raise ValueError("weights0 must hold at least one component (last axis), got K = 0")
    if K > N:
        raise ValueError(f"the number of components K = {K} (weights0) exceeds the number of observations N = {N} (X)")
    check_simplex(w, "weights0")
    m = on_device(xp, as_float_array(means0, "means0", min_ndim=2), like)
    if tuple(m.shape[-2:]) != (K, D):
        raise ValueError(f"means0 must be (..., K, D) = (..., {K}, {D}) to match weights0 and X, got {tuple(m.shape)}")
    P = on_device(xp, as_float_array(precisions0, "precisions0", min_ndim=3), like)
    if tuple(P.shape[-3:]) != (K, D, D):
        raise ValueError(f"precisions0 must be (..., K, D, D) = (..., {K}, {D}, {D}), got {tuple(P.shape)}")
    try:
        check_spd(P, "precisions0")
    except ValueError as e:
        raise ValueError(f"{e} (a singular or indefinite initial precision)") from None
    n_steps = check_n_steps(n_steps)
    try:
        batch = np.broadcast_shapes(*(tuple(a.shape[:a.ndim - k]) for a, k in ((X, 2), (w, 1), (m, 2), (P, 3))))
    except ValueError:
        raise ValueError(f"the batch axes of X {tuple(X.shape[:-2])}, weights0 {tuple(w.shape[:-1])}, means0 "
                         f"{tuple(m.shape[:-2])} and precisions0 {tuple(P.shape[:-3])} do not broadcast") from None
    shift = xp.mean(X, axis=-2, keepdims=True)  # (*batch, 1, D): EM commutes with the shift x -> x - shift
    Xc = X - shift
    scale = _scale(xp, Xc)
    if scale is not None:  # ... and with the scale x -> x / s, S -> s² S: x xᵀ and S then neither overflow nor underflow
        s4 = scale[..., None, None, None]  # S s² as (S s) s: s² alone may overflow where S s² does not
        Xc, m, P = Xc / scale[..., None, None], m / scale[..., None, None], P * s4 * s4
        shift = shift / scale[..., None, None]
    w, m, P = (xp.broadcast_to(a, batch + tuple(a.shape[a.ndim - k:])) for a, k in ((w, 1), (m - shift, 2), (P, 3)))
    XX = second_moments(Xc)  # T(x) = x xᵀ of every observation: the same at every iteration
    weights, means, precisions, loglik = [w], [m], [P], []
    for t in range(n_steps + 1):
        try:
            w_new, m_new, P_new, ll = em_step(Xc, XX, w, m, P)
        except Exception as error:
            if not is_linalg_error(error):
                raise
            raise ValueError(f"EM step {t}: a component's covariance is not positive definite (a component collapsed "
                             "onto too few points: the likelihood is unbounded there); use fewer components or "
                             "other starting values") from None
        loglik.append(ll)
        if t == n_steps:  # the last call only evaluates the log-likelihood of the final iterate
            break
        if not (bool(xp.all(xp.isfinite(m_new))) and bool(xp.all(xp.isfinite(P_new))) and bool(xp.all(w_new > 0))):
            raise ValueError(f"EM step {t + 1}: a component lost all its responsibility (N_k = 0) or collapsed; use "
                             "fewer components or other starting values")
        w, m, P = w_new, m_new, P_new
        weights.append(w)
        means.append(m)
        precisions.append(P)
    means, precisions, loglik = xp.stack(means) + shift, xp.stack(precisions), xp.stack(loglik)
    if scale is not None:
        # back to the data's units; log p(x) = log p(x / s) − D log s per observation
        means, precisions = means * scale[..., None, None], precisions / scale[..., None, None, None] / scale[..., None, None, None]
        loglik = loglik - N * D * xp.log(scale)
    weights = xp.stack(weights)
    if dtype != xp.float64:
        weights, means, precisions, loglik = (xp.astype(a, dtype) for a in (weights, means, precisions, loglik))
    return EMResult(weights=weights, means=means, precisions=precisions, log_likelihood=loglik)


#: Centred data beyond 2^±200 are rescaled by a power of two (exact): x xᵀ overflows float64 from |x| ≈ 2^511 and
#: the precisions, ~1/x², underflow there.
_SCALE_LIMIT = 2.0 ** 200


def _scale(xp, Xc):
    """A power of two ``(*batch,)`` near the largest |x| of each problem's centred data, or None when every problem is
    within 2^±200 (the iteration then runs on the data as given, bit for bit as before)."""
    top = xp.max(xp.abs(xp.reshape(Xc, tuple(Xc.shape[:-2]) + (-1,))), axis=-1)
    if not (bool(xp.any(top > _SCALE_LIMIT)) or bool(xp.any((top < 1 / _SCALE_LIMIT) & (top > 0)))):
        return None
    return 2.0 ** xp.round(xp.log2(xp.where(top > 0, top, xp.ones_like(top))))
