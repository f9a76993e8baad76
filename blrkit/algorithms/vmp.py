r"""Variational message passing as the mean-field BLR with ρ = 1 for every block (Khan & Rue 2023, Sec. 5.3).

For :math:`y_i \sim \mathcal N(\mu, \tau^{-1})` with :math:`\mu \sim \mathcal N(m_0, S_0^{-1})` and
:math:`\tau \sim \mathrm{Gamma}(\alpha_0, \beta_0)`, the candidate :math:`q(\mu)q(\tau)` (Gaussian × Gamma)
and the BLR applied to one block at a time with ρ = 1 give coordinate-ascent VI: the recipe ``vmp``
derives the sweep (:mod:`blrkit.derive.meanfield`), emitted as
:func:`~blrkit.algorithms._generated.vmp.vmp_sweep`.
"""

from __future__ import annotations

import math

import numpy as np

from blrkit._array_api import device, digamma, gammaln, on_device, to_numpy
from blrkit._validation import as_float_array
from blrkit.algorithms._checks import check_square_sums
from blrkit.algorithms._generated.vmp import vmp_sweep
from blrkit.algorithms._generated.vmp_regression import vmp_regression_sweep
from blrkit.algorithms._namespace import as_dtype, floating_dtype, namespace_and_reference
from blrkit.algorithms._common import check_n_steps, failure_is_error, named_failures
from blrkit.algorithms.results import VMPResult

__all__ = ["vmp_linear_regression", "vmp_normal_gamma"]


@named_failures
def vmp_normal_gamma(y, *, mean_prior=(0.0, 1e-2), precision_prior=(1.0, 1.0), n_steps: int,
                     precision_init=(1.0, 1.0), mean_init=None) -> VMPResult:
    r"""Run ``n_steps`` sweeps of VMP for a Gaussian with unknown mean μ and precision τ.

    .. math::

        S = S_0 + N\,\mathbb E[\tau], \quad m = \frac{S_0 m_0 + \mathbb E[\tau]\sum_i y_i}{S}, \qquad
        \alpha = \alpha_0 + \tfrac N2, \quad
        \beta = \beta_0 + \tfrac12\Big(\sum_i y_i^2 - 2\,\mathbb E[\mu]\sum_i y_i + N\,\mathbb E[\mu^2]\Big),

    q(μ) first, then q(τ) given the new q(μ) (Winn & Bishop 2005; Khan & Rue 2023, Sec. 5.3).

    Parameters
    ----------
    y : array_like, shape (*batch, N)
        Observations, finite; N ≥ 1.  Arrays of another Array API library (PyTorch, CuPy, JAX, …; every
        array argument from the same one) compute with it and give its arrays, on their device.
    mean_prior : (m0, S0)
        Prior mean and precision of μ (S0 > 0).
    precision_prior : (alpha0, beta0)
        Prior shape and rate of τ, both > 0.
    n_steps : int
        Sweeps, ≥ 0.
    precision_init : (alpha, beta)
        The start of q(τ), both > 0 (the first sweep uses only E[τ] = alpha / beta).
    mean_init : (m, S), optional
        The start of q(μ), reported at index 0 (it does not enter the first sweep); default the prior.

    Returns
    -------
    VMPResult

    Examples
    --------
    >>> import numpy as np
    >>> from blrkit.algorithms import vmp_normal_gamma
    >>> y = np.random.default_rng(0).normal(1.0, 2.0, size=200)
    >>> res = vmp_normal_gamma(y, n_steps=20)
    >>> round(float(res.means[-1]), 3), round(float(res.alphas[-1] / res.betas[-1]), 3)  # E[μ], E[τ]
    (1.03, 0.271)
    >>> bool(np.all(np.diff(res.elbo[1:]) >= -1e-9))    # coordinate ascent never lowers the bound
    True
    """
    xp, like = namespace_and_reference(y=y, **_pair_entries(mean_prior=mean_prior, precision_prior=precision_prior,
                                                             precision_init=precision_init, mean_init=mean_init))
    dtype = floating_dtype(xp, y=y)  # float32 data: float32 results (the sweeps run in float64)
    y = on_device(xp, as_float_array(y, "y", min_ndim=1), like)
    if y.shape[-1] == 0:
        raise ValueError("y must hold at least one observation (last axis)")
    m0, S0 = _pair(xp, mean_prior, "mean_prior", y, 1, positive=(False, True))
    a0, b0 = _pair(xp, precision_prior, "precision_prior", y, 1, positive=(True, True))
    alpha, beta = _pair(xp, precision_init, "precision_init", y, 1, positive=(True, True))
    m, S = (m0, S0) if mean_init is None else _pair(xp, mean_init, "mean_init", y, 1, positive=(False, True))
    n_steps = check_n_steps(n_steps)
    # shift-equivariance (as conjugate.normal_gamma): the sweep for y and m₀ is the sweep for y − c and m₀ − c
    # with E[μ] moved by c and q(τ) unchanged, and so is the bound; with c the midpoint of each series' range
    # the sums Σ(y − c), Σ(y − c)² stay as small as the data's spread, whatever their offset
    c = 0.5 * xp.min(y, axis=-1) + 0.5 * xp.max(y, axis=-1)
    y, m0, m = y - c[..., None], m0 - c, m - c
    check_square_sums(y, "y", y.shape[-1], what=" about its centre")
    path = [(m, S, alpha, beta)]
    for t in range(1, n_steps + 1):
        m, S, alpha, beta = vmp_sweep(m, S, alpha, beta, m0, S0, y, a0, b0)
        _check_sweep(xp, t, "mean_prior, precision_prior", m, S, alpha, beta)
        path.append((m, S, alpha, beta))
    means, precisions, alphas, betas = (xp.stack(c) for c in zip(*path))
    elbo = _elbo(xp, y, m0, S0, a0, b0, means, precisions, alphas, betas)
    _check_sweep(xp, "bound", "mean_prior, precision_prior", elbo)
    return VMPResult(*(as_dtype(xp, dtype, a) for a in (means + c, precisions, alphas, betas, elbo)))


def _check_sweep(xp, t: int, priors: str, *parts) -> None:
    """Every part of q after sweep ``t`` (or the bound, ``t = "bound"``) finite, or ``ValueError`` naming it (the
    data's scale is checked up front, so what overflows here is the prior's)."""
    if not all(bool(xp.all(xp.isfinite(p))) for p in parts):
        where = "the evidence lower bound" if t == "bound" else f"VMP sweep {t}"
        raise ValueError(f"{where} overflowed (a value is not finite): the prior parameters "
                         f"({priors}) are too large in magnitude for these data; rescale them")


def _pair_entries(**pairs) -> dict:
    """The entries of the pair arguments, named ``name[0]``, ``name[1]``, for :func:`array_namespace` (a value
    that is not a pair is passed whole: :func:`_pair` names it)."""
    out = {}
    for name, value in pairs.items():
        if isinstance(value, (tuple, list)) and len(value) == 2:
            out[f"{name}[0]"], out[f"{name}[1]"] = value
        else:
            out[name] = value
    return out


def _pair(xp, value, name, like, core: int, positive):
    """The two entries of ``value``, each broadcast to the batch shape of ``like`` (its shape less the last
    ``core`` axes) as an array of ``xp`` on ``like``'s device."""
    batch = tuple(like.shape[:like.ndim - core])
    try:
        a, b = value
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair, got {value!r}") from None
    out = []
    for x, pos, which in zip((a, b), positive, ("first", "second")):
        x = on_device(xp, as_float_array(x, f"{name}[{0 if which == 'first' else 1}]"), like)  # NumPy for a number
        if pos and bool(xp.any(x <= 0)):
            raise ValueError(f"the {which} entry of {name} must be positive, got {to_numpy(x)}")
        out.append(_broadcast(xp, x, name, batch))
    return tuple(out)


def _broadcast(xp, x, name, batch):
    """``x`` broadcast to ``batch`` (a copy for NumPy), or ``ValueError`` naming ``name``."""
    try:
        return np.broadcast_to(x, batch).copy() if xp is np else xp.broadcast_to(x, batch)
    except (ValueError, RuntimeError):  # RuntimeError: PyTorch's
        raise ValueError(f"{name} must broadcast to the batch shape {batch}, got shape {tuple(x.shape)}") from None


#: log 2π
_LOG_2PI = math.log(2 * math.pi)


def _elbo(xp, y, m0, S0, a0, b0, m, S, alpha, beta):
    r"""The evidence lower bound :math:`\mathbb E_q[\log p(y, \mu, \tau)] + \mathcal H(q)` of every iterate."""
    N = y.shape[-1]
    e_tau, e_logtau = alpha / beta, digamma(alpha) - xp.log(beta)
    e_sq = xp.sum((y - m[..., None]) ** 2, axis=-1) + N / S
    loglik = N / 2 * (e_logtau - _LOG_2PI) - e_tau / 2 * e_sq
    logp_mu = 0.5 * (xp.log(S0) - _LOG_2PI) - S0 / 2 * ((m - m0) ** 2 + 1 / S)
    logp_tau = a0 * xp.log(b0) - gammaln(a0) + (a0 - 1) * e_logtau - b0 * e_tau
    entropy = 0.5 * (1 + _LOG_2PI - xp.log(S)) + alpha - xp.log(beta) + gammaln(alpha) \
        + (1 - alpha) * digamma(alpha)
    return loglik + logp_mu + logp_tau + entropy


@named_failures
def vmp_linear_regression(X, y, *, alpha, noise_prior=(1.0, 1.0), n_steps: int, noise_init=None) -> VMPResult:
    r"""Run ``n_steps`` sweeps of VMP for Bayesian linear regression with an unknown noise precision.

    Model :math:`y \mid w, \tau \sim \mathcal N(Xw, \tau^{-1}I)`, :math:`w \sim \mathcal N(0, \alpha^{-1}I)`,
    :math:`\tau \sim \mathrm{Gamma}(\alpha_0, \beta_0)`; candidate :math:`q(w)q(\tau)` (a full-covariance
    Gaussian × Gamma), each block updated by the BLR with ρ = 1 given the other's expectations, q(w) first:

    .. math::

        S = \alpha I + \mathbb E[\tau]\,X^\top X, \quad m = \mathbb E[\tau]\,S^{-1}X^\top y, \qquad
        \alpha_\tau = \alpha_0 + \tfrac N2, \quad
        \beta_\tau = \beta_0 + \tfrac12\big(\lVert y - Xm\rVert^2 + \operatorname{tr}(X^\top X S^{-1})\big)

    (the recipe ``vmp_regression``, derived by :mod:`blrkit.derive.meanfield_gaussian`; Khan & Rue 2023,
    Sec. 5.3).

    Parameters
    ----------
    X : array_like, shape (*batch, N, D)
        Inputs, finite.  Arrays of another Array API library (PyTorch, CuPy, JAX, …; every array argument
        from the same one) compute with it and give its arrays, on their device.
    y : array_like, shape (*batch, N)
        Targets, finite.
    alpha : float or array_like, shape (*batch,)
        Prior precision α > 0 of every weight.
    noise_prior : (alpha0, beta0)
        Shape and rate of the Gamma prior on τ, both > 0.
    n_steps : int
        Sweeps, ≥ 0.
    noise_init : (alpha, beta), optional
        The start of q(τ) (the first sweep uses E[τ] = alpha / beta); default the prior.

    Returns
    -------
    VMPResult
        ``means`` ``(n_steps + 1, *batch, D)``, ``precisions`` ``(…, D, D)`` (index 0: the prior
        N(0, α⁻¹I)), ``alphas``, ``betas`` ``(n_steps + 1, *batch)`` of q(τ), and ``elbo``, the evidence lower
        bound with every constant, never decreasing.

    Examples
    --------
    >>> import numpy as np
    >>> from blrkit.algorithms import vmp_linear_regression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> y = X @ np.array([1.0, -2.0, 0.5]) + rng.normal(scale=0.5, size=200)
    >>> res = vmp_linear_regression(X, y, alpha=1e-2, n_steps=10)
    >>> np.round(res.means[-1], 2), round(float(res.alphas[-1] / res.betas[-1]), 2)   # E[w]; E[τ], the truth 4
    (array([ 0.96, -2.05,  0.53]), 3.82)
    """
    xp, like = namespace_and_reference(X=X, y=y, alpha=alpha,
                                       **_pair_entries(noise_prior=noise_prior, noise_init=noise_init))
    dtype = floating_dtype(xp, X=X, y=y)  # float32 data: float32 results (the sweeps run in float64)
    X = on_device(xp, as_float_array(X, "X", min_ndim=2), like)
    y = on_device(xp, as_float_array(y, "y", min_ndim=1), like)
    if tuple(X.shape[:-1]) != tuple(y.shape):
        raise ValueError(f"X (..., N, D) and y (..., N) must agree in their batch and data axes, got "
                         f"{tuple(X.shape)} and {tuple(y.shape)}")
    if X.shape[-2] == 0 or X.shape[-1] == 0:
        raise ValueError(f"X must hold at least one observation of at least one input, got shape {tuple(X.shape)}")
    batch = tuple(X.shape[:-2])
    alpha = on_device(xp, as_float_array(alpha, "alpha"), X)  # NumPy for a Python number
    if bool(xp.any(alpha <= 0)):
        raise ValueError(f"alpha (the prior precision of w) must be positive, got {to_numpy(alpha)}")
    alpha = _broadcast(xp, alpha, "alpha", batch)
    a0, b0 = _pair(xp, noise_prior, "noise_prior", X, 2, positive=(True, True))
    a, b = (a0, b0) if noise_init is None else _pair(xp, noise_init, "noise_init", X, 2, positive=(True, True))
    n_steps = check_n_steps(n_steps)
    D = X.shape[-1]
    N = X.shape[-2]
    check_square_sums(X, "X", N)  # XᵀX
    check_square_sums(y, "y", N)  # yᵀy
    m = xp.zeros(batch + (D,), dtype=xp.float64, device=device(X))
    S = alpha[..., None, None] * xp.eye(D, dtype=xp.float64, device=device(X))
    path = [(m, S, a, b)]
    for t in range(1, n_steps + 1):
        m, S, a, b = vmp_regression_sweep(a, b, X, y, alpha, a0, b0)
        _check_sweep(xp, t, "alpha, noise_prior", m, S, a, b)
        if not bool(xp.all((a > 0) & (b > 0))):  # from positive (a, b) a sweep keeps them positive: its own fault
            raise ValueError(f"VMP sweep {t} (vmp_regression_sweep) gave q(τ) a shape or rate that is not positive "
                             f"(down to {float(xp.min(a)):.3g}, {float(xp.min(b)):.3g})")
        path.append((m, S, a, b))
    means, precisions, alphas, betas = (xp.stack(c) for c in zip(*path))
    with failure_is_error("the evidence lower bound (every precision of q(w) must be positive definite)"):
        elbo = _regression_elbo(xp, X, y, alpha, a0, b0, means, precisions, alphas, betas)
    _check_sweep(xp, "bound", "alpha, noise_prior", elbo)
    return VMPResult(*(as_dtype(xp, dtype, a) for a in (means, precisions, alphas, betas, elbo)))


def _regression_elbo(xp, X, y, alpha, a0, b0, m, S, a, b):
    r"""The lower bound :math:`\mathbb E_q[\log p(y\mid w,\tau)] - \mathrm{KL}(q(w)\Vert p(w)) -
    \mathrm{KL}(q(\tau)\Vert p(\tau))` of every iterate (leading axis of ``m`` … ``b``)."""
    N, D = X.shape[-2:]
    L = xp.linalg.cholesky(S)
    logdet_S = 2 * xp.sum(xp.log(xp.linalg.diagonal(L)), axis=-1)
    if xp is np:  # NumPy: one einsum, ~9x faster than NumPy's broadcast matmul below (N = 100,000, D = 10, T = 4)
        Xm = np.einsum("...nd,t...d->t...n", X, m)
    else:  # X (*batch, N, D) @ m (T, *batch, D, 1): the same products, the iterates broadcast
        Xm = (X @ m[..., None])[..., 0]
    resid = y - Xm
    XtX = X.mT @ X
    e_sq = xp.sum(resid**2, axis=-1) + xp.linalg.trace(xp.linalg.solve(S, xp.broadcast_to(XtX, S.shape)))
    e_tau, e_logtau = a / b, digamma(a) - xp.log(b)
    loglik = N / 2 * (e_logtau - _LOG_2PI) - e_tau / 2 * e_sq
    eye = xp.eye(D, dtype=xp.float64, device=device(X))
    tr_cov = xp.linalg.trace(xp.linalg.solve(S, xp.broadcast_to(eye, S.shape)))
    kl_w = 0.5 * (alpha * tr_cov + alpha * xp.sum(m**2, axis=-1) - D - D * xp.log(alpha) + logdet_S)
    kl_tau = (a - a0) * digamma(a) - gammaln(a) + gammaln(a0) + a0 * (xp.log(b) - xp.log(b0)) + a * (b0 - b) / b
    return loglik - kl_w - kl_tau
