r"""Variational message passing as the mean-field BLR with ρ = 1 for every block (Khan & Rue 2023, Sec. 5.3).

For :math:`y_i \sim \mathcal N(\mu, \tau^{-1})` with :math:`\mu \sim \mathcal N(m_0, S_0^{-1})` and
:math:`\tau \sim \mathrm{Gamma}(\alpha_0, \beta_0)`, the candidate :math:`q(\mu)q(\tau)` (Gaussian × Gamma)
and the BLR applied to one block at a time with ρ = 1 give coordinate-ascent VI: the recipe ``vmp``
derives the sweep (:mod:`blrkit.derive.meanfield`), emitted as
:func:`~blrkit.algorithms._generated.vmp.vmp_sweep`.
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, gammaln

from blrkit._validation import as_float_array
from blrkit.algorithms._generated.vmp import vmp_sweep
from blrkit.algorithms.gradient_descent import _check_n_steps
from blrkit.algorithms.results import VMPResult

__all__ = ["vmp_normal_gamma"]


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
        Observations, finite; N ≥ 1.
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
    y = as_float_array(y, "y", min_ndim=1)
    if y.shape[-1] == 0:
        raise ValueError("y must hold at least one observation (last axis)")
    batch = y.shape[:-1]
    m0, S0 = _pair(mean_prior, "mean_prior", batch, positive=(False, True))
    a0, b0 = _pair(precision_prior, "precision_prior", batch, positive=(True, True))
    alpha, beta = _pair(precision_init, "precision_init", batch, positive=(True, True))
    m, S = (m0, S0) if mean_init is None else _pair(mean_init, "mean_init", batch, positive=(False, True))
    n_steps = _check_n_steps(n_steps)
    path = [(m, S, alpha, beta)]
    for _ in range(n_steps):
        m, S, alpha, beta = vmp_sweep(m, S, alpha, beta, m0, S0, y, a0, b0)
        path.append((m, S, alpha, beta))
    means, precisions, alphas, betas = (np.stack(c) for c in zip(*path))
    elbo = _elbo(y, m0, S0, a0, b0, means, precisions, alphas, betas)
    return VMPResult(means=means, precisions=precisions, alphas=alphas, betas=betas, elbo=elbo)


def _pair(value, name, batch, positive):
    try:
        a, b = value
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair, got {value!r}") from None
    out = []
    for x, pos, which in zip((a, b), positive, ("first", "second")):
        x = as_float_array(x, f"{name}[{0 if which == 'first' else 1}]")
        if pos and np.any(x <= 0):
            raise ValueError(f"the {which} entry of {name} must be positive, got {x}")
        try:
            out.append(np.broadcast_to(x, batch).copy())
        except ValueError:
            raise ValueError(f"{name} must broadcast to the batch shape {batch}, got shape {x.shape}") from None
    return tuple(out)


def _elbo(y, m0, S0, a0, b0, m, S, alpha, beta):
    r"""The evidence lower bound :math:`\mathbb E_q[\log p(y, \mu, \tau)] + \mathcal H(q)` of every iterate."""
    N = y.shape[-1]
    e_tau, e_logtau = alpha / beta, digamma(alpha) - np.log(beta)
    e_sq = np.sum((y - m[..., None]) ** 2, axis=-1) + N / S
    loglik = N / 2 * (e_logtau - np.log(2 * np.pi)) - e_tau / 2 * e_sq
    logp_mu = 0.5 * (np.log(S0) - np.log(2 * np.pi)) - S0 / 2 * ((m - m0) ** 2 + 1 / S)
    logp_tau = a0 * np.log(b0) - gammaln(a0) + (a0 - 1) * e_logtau - b0 * e_tau
    entropy = 0.5 * (1 + np.log(2 * np.pi) - np.log(S)) + alpha - np.log(beta) + gammaln(alpha) \
        + (1 - alpha) * digamma(alpha)
    return loglik + logp_mu + logp_tau + entropy
