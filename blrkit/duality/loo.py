r"""Leave-one-out for free: every cavity of a GLM posterior in one pass, O(N D²) after the fit.

Removing example i subtracts its site (:meth:`~blrkit.duality.LocalParameters.remove`). For a
single site the Sherman–Morrison formula gives the cavity's predictive of :math:`\eta_i = x_i^\top\theta`
without any refit (derivations §3; Nickl et al. 2023's memory-perturbation equation):

.. math::

    v_{\setminus i} = \frac{v_i}{1 - \beta_i v_i}, \qquad
    \eta_{\setminus i} = x_i^\top m - \alpha_i\, v_{\setminus i}, \qquad
    m_{\setminus i} = m - \frac{\alpha_i}{1 - \beta_i v_i}\, S^{-1}x_i,

with :math:`v_i = x_i^\top S^{-1} x_i`. For a Gaussian likelihood the site is the example's own
likelihood and this is exact: the posterior refitted without example i. For the others it is the
standard one-site approximation (one Newton step from the full-data solution, Laplace-LOO).
The LOO predictive :math:`\log p(y_i \mid y_{\setminus i}) \approx \log\int p(y_i\mid\eta)\,
\mathcal N(\eta; \eta_{\setminus i}, v_{\setminus i})\,d\eta` is closed form for the Gaussian
and probit likelihoods and a Gauss–Hermite sum otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import log_ndtr, logsumexp

from blrkit.duality.likelihoods import check_nodes
from blrkit.duality.sites import LocalParameters

__all__ = ["LeaveOneOut", "leave_one_out"]


@dataclass(frozen=True)
class LeaveOneOut:
    r"""Every example's cavity predictive: ``eta`` :math:`\eta_{\setminus i}`, ``variance``
    :math:`v_{\setminus i}` and ``log_predictive`` :math:`\log p(y_i \mid y_{\setminus i})`, each ``(*batch, N)``."""

    eta: np.ndarray
    variance: np.ndarray
    log_predictive: np.ndarray
    sites: LocalParameters

    def means(self) -> np.ndarray:
        r"""The N cavity means :math:`m_{\setminus i}`, ``(*batch, N, D)`` (O(N D²) time, O(N·D) memory)."""
        s = self.sites
        Z = np.linalg.solve(s.precision, np.swapaxes(s.X, -1, -2))           # S⁻¹ Xᵀ, (*batch, D, N)
        w = s.alpha / (1.0 - s.beta * s.variance)
        return s.mean[..., None, :] - w[..., None] * np.swapaxes(Z, -1, -2)


def _log_predictive(lik, y, eta, v, s2, n_nodes):
    if lik.name == "gaussian":
        # N(y; η, v + σ²)
        var = v + s2
        return -0.5 * (y - eta) ** 2 / var - 0.5 * np.log(2 * np.pi * var)
    if lik.name == "probit":
        # ∫ Φ(sη) N(η; a, v) dη = Φ(s a / √(1 + v))
        return log_ndtr((2.0 * y - 1.0) * eta / np.sqrt(1.0 + v))
    t, w = np.polynomial.hermite.hermgauss(n_nodes)
    out = np.empty(eta.shape)
    flat = [a.reshape(-1) for a in np.broadcast_arrays(eta, v, y)]
    o = out.reshape(-1)
    for start in range(0, o.size, 1 << 15):
        sl = slice(start, start + (1 << 15))
        e, vv, yy = (a[sl, None] for a in flat)
        nodes = e + np.sqrt(2.0 * vv) * t
        # log Σ_k (w_k/√π) p(y | η_k), in log space
        o[sl] = logsumexp(lik.log_density(nodes, yy, s2) + np.log(w) - 0.5 * np.log(np.pi), axis=-1)
    return out


def leave_one_out(sites: LocalParameters, *, n_quadrature: int = 64) -> LeaveOneOut:
    r"""The leave-one-out predictive of all N examples from one posterior and its sites (``n_quadrature``
    Gauss–Hermite nodes, an integer in [1, 256], where the predictive is not closed form).

    .. math::

        \eta_{\setminus i} = x_i^\top m - \alpha_i \frac{v_i}{1 - \beta_i v_i}, \qquad
        v_{\setminus i} = \frac{v_i}{1 - \beta_i v_i}, \qquad
        \log p(y_i \mid y_{\setminus i})
            = \log \mathbb E_{\mathcal N(\eta_{\setminus i}, v_{\setminus i})}[p(y_i\mid\eta)].

    O(N D²) for the :math:`v_i` (one Cholesky, triangular solves in chunks), O(N·D) memory.
    Exact for ``likelihood="gaussian"`` (equals refitting without example i); the one-site
    approximation for the others (error against refits: ``tests/duality/test_loo.py`` and
    notebook 12).

    >>> import numpy as np
    >>> from blrkit.algorithms import ridge
    >>> from blrkit.duality import local_parameters
    >>> X = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]]); y = np.array([1.0, 2.0, 0.0])
    >>> loo = leave_one_out(local_parameters(X, y, ridge(X, y, 1.0), likelihood="gaussian", prior_precision=1.0))
    >>> refit = ridge(X[1:], y[1:], 1.0)
    >>> bool(np.isclose(loo.eta[0], X[0] @ refit.mean))
    True
    """
    if not isinstance(sites, LocalParameters):
        raise TypeError(f"sites must be the LocalParameters of local_parameters(...), got {type(sites).__name__}")
    n_quadrature = check_nodes(n_quadrature, "n_quadrature")
    v = sites.variance
    denom = 1.0 - sites.beta * v
    if np.any(denom <= 0):
        raise ValueError("a site carries all the precision along its x_i (β_i v_i >= 1): its cavity is improper")
    v_cav = v / denom
    eta_cav = sites.eta - sites.alpha * v_cav
    lp = _log_predictive(sites.likelihood, sites.y, eta_cav, v_cav, sites.noise_variance, n_quadrature)
    return LeaveOneOut(eta=eta_cav, variance=v_cav, log_predictive=lp, sites=sites)
