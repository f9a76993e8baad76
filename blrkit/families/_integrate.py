r"""Expectations E_q[f(θ)] computed directly from the density, independently of A(λ).

These are the oracles for μ = ∇A(λ) = E_q[T(θ)] and F = ∇²A(λ) = Cov_q[T(θ)]
(Khan & Rue 2023, Sec. 1.2) used by the identity checks of ``blrkit families``
and by the tests:

- discrete components (``binary``, ``one-hot``, ``count``) are summed exactly
  (a ``count`` support is summed until the remaining mass is below 1e-16);
- at most one continuous scalar component is integrated by adaptive quadrature
  (:func:`scipy.integrate.quad_vec`) for each discrete configuration;
- otherwise θ is sampled with the family's ``sampler`` and the estimate comes with
  its standard error (Monte Carlo).

>>> import numpy as np
>>> from blrkit.families import Poisson
>>> q = Poisson()
>>> value, stderr, method = expectation(q, q.to_natural(rate=3.0), q.statistics_value)
>>> method, bool(abs(value[0] - 3.0) < 1e-12)
('sum', True)
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.integrate import quad_vec

__all__ = ["expectation", "moments"]

_LIMITS = {"real": (-np.inf, np.inf), "positive": (0.0, np.inf), "unit-interval": (0.0, 1.0),
           "circle": (-np.pi, np.pi)}
_QUAD_EPSABS = 1e-14  # absolute accuracy asked of quad_vec (integrands are O(1) densities)
_QUAD_EPSREL = 1e-12  # relative accuracy asked of quad_vec
_TAIL_MASS = 1e-16  # stop summing a count support when the remaining terms are this small
_N_MC = 200_000  # Monte-Carlo sample size


def _discrete_values(kind: str, size: int):
    if kind == "binary":
        return [np.array(v, float) for v in itertools.product((0.0, 1.0), repeat=size)]
    if kind == "one-hot":
        return [np.zeros(size)] + [np.eye(size)[i] for i in range(size)]
    raise ValueError(kind)


def _log_density(family, theta: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """log q(θ) for θ of shape (n, len(theta)), without support validation (quadrature nodes)."""
    cols = [theta[:, i] for i in range(theta.shape[1])] + [np.full(theta.shape[0], v) for v in lam]
    with np.errstate(all="ignore"):
        out = family._num["log_density"](*cols)[0]
    return np.broadcast_to(np.asarray(out, float), theta.shape[:1])


def expectation(family, lam, func, *, rng=None, n_mc: int = _N_MC):
    """E_q[func(θ)] for one λ of shape (K,); ``func`` maps θ ``(n, len(theta))`` to ``(n, m)``.

    Returns
    -------
    value : ndarray (m,)
    stderr : ndarray (m,)
        Monte-Carlo standard error; zeros for sums and quadrature.
    method : str
        ``"sum"``, ``"quadrature"`` or ``"monte-carlo"``.
    """
    lam = np.asarray(lam, dtype=float)
    blocks, start = [], 0
    for kind, size in family.support:
        blocks.append((kind, start, size))
        start += size
    n_theta = start
    continuous = [(k, i, s) for k, i, s in blocks if k in _LIMITS]
    multi = sum(s for _, _, s in continuous) > 1 or any(k == "simplex" for k, _, _ in blocks)
    if multi:
        return _monte_carlo(family, lam, func, rng, n_mc)
    if any(k == "count" for k, _, _ in blocks):
        if len(blocks) != 1:
            raise NotImplementedError("a count support is summed only when it is all of theta")
        value = _count_sum(family, lam, func)
        return value, np.zeros_like(value), "sum"
    discrete = [(k, i, s) for k, i, s in blocks if k not in _LIMITS]
    configs = list(itertools.product(*[_discrete_values(k, s) for k, _, s in discrete]))
    total = None
    for config in configs:
        base = np.zeros(n_theta)
        for (_, i, s), v in zip(discrete, config):
            base[i : i + s] = v
        if continuous:
            kind, i, _ = continuous[0]

            def integrand(x, base=base, i=i):
                th = base.copy()[None, :]
                th[0, i] = x
                return np.exp(_log_density(family, th, lam))[0] * np.asarray(func(th), float)[0]

            part, _ = quad_vec(integrand, *_LIMITS[kind], epsabs=_QUAD_EPSABS, epsrel=_QUAD_EPSREL, limit=2000)
        else:
            th = base[None, :]
            part = np.exp(_log_density(family, th, lam))[0] * np.asarray(func(th), float)[0]
        total = part if total is None else total + part
    value = np.asarray(total, float)
    return value, np.zeros_like(value), "quadrature" if continuous else "sum"


def _count_sum(family, lam, func):
    total, y0, chunk = 0.0, 0, 256
    while True:
        y = np.arange(y0, y0 + chunk, dtype=float)[:, None]
        p = np.exp(_log_density(family, y, lam))
        total = total + (p[:, None] * np.asarray(func(y), float)).sum(0)
        # the pmf is log-concave for the Poisson: past the mode, a negligible last term ends the tail
        if p[-1] < _TAIL_MASS and p[-1] <= p[0]:
            return np.asarray(total, float)
        y0, chunk = y0 + chunk, chunk * 2


def _monte_carlo(family, lam, func, rng, n):
    if family.sampler is None:
        raise NotImplementedError(f"{family.name}: several continuous components and no sampler")
    rng = np.random.default_rng(0) if rng is None else rng
    std = family.to_standard(lam)
    theta = np.asarray(family.sampler(std, rng, n), float)
    vals = np.asarray(func(theta), float)
    return vals.mean(0), vals.std(0, ddof=1) / np.sqrt(n), "monte-carlo"


def moments(family, lam, *, rng=None, n_mc: int = _N_MC):
    r"""E_q[T(θ)] and Cov_q[T(θ)] from the density, with Monte-Carlo standard errors.

    Returns ``(mean (K,), cov (K, K), mean_stderr (K,), cov_stderr (K, K), method)``;
    the standard errors are zero for sums and quadrature.  Under Monte Carlo the
    covariance error is that of the sample mean of (T_i − T̄_i)(T_j − T̄_j).
    """
    k = family.dim

    def first_and_second(theta):
        t = family._call("T", theta)
        return np.concatenate([t, (t[:, :, None] * t[:, None, :]).reshape(len(t), k * k)], axis=1)

    if family.support and (sum(s for kind, s in family.support if kind in _LIMITS) > 1
                           or any(kind == "simplex" for kind, _ in family.support)):
        rng = np.random.default_rng(0) if rng is None else rng
        theta = np.asarray(family.sampler(family.to_standard(lam), rng, n_mc), float)
        t = family._call("T", theta)
        mean = t.mean(0)
        centred = t - mean
        prod = centred[:, :, None] * centred[:, None, :]
        cov = prod.mean(0) * n_mc / (n_mc - 1)
        se_mean = t.std(0, ddof=1) / np.sqrt(n_mc)
        se_cov = prod.std(0, ddof=1) / np.sqrt(n_mc)
        return mean, cov, se_mean, se_cov, "monte-carlo"
    value, _, method = expectation(family, lam, first_and_second)
    mean = value[:k]
    cov = value[k:].reshape(k, k) - np.outer(mean, mean)
    return mean, cov, np.zeros(k), np.zeros((k, k)), method
