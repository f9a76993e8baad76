r"""GLM posteriors for the duality layer: the Laplace (delta-method) and the variational Gaussian.

The objective is :math:`\bar\ell(\theta) = \sum_i f(x_i^\top\theta, y_i) + \tfrac12(\theta - m_0)^\top
P_0(\theta - m_0) + \mathcal R(\theta)`, with an optional extra penalty :math:`\mathcal R` (a
:class:`~blrkit.duality.KPrior` or a :class:`~blrkit.duality.QuadraticPenalty`: anything with
``grad`` and ``hess``). ``method="delta"`` runs :func:`blrkit.algorithms.laplace` (the BLR with the
delta method to its fixed point, Khan & Rue 2023, Sec. 4.4). ``method="variational"`` runs the full
Gaussian BLR with ρ = 1 and the expectations :math:`\mathbb E_q[f'], \mathbb E_q[f'']` taken exactly
(Gauss–Hermite over each 1-D predictive) instead of by Monte Carlo: each step is the emitted
Newton step of :mod:`blrkit.algorithms._generated.newton` with the expected gradient and Hessian
under the current q.
"""

from __future__ import annotations

import numpy as np

from blrkit._validation import check_choice, check_finite_result, check_scalar
from blrkit.algorithms import laplace
from blrkit.algorithms._generated.newton import newton_step
from blrkit.algorithms.results import LaplacePosterior
from blrkit.duality.likelihoods import check_nodes, gauss_hermite_expectation, get_likelihood
from blrkit.duality.sites import float_view, matvec, prior_matrix, check_prior_mean, rmatvec, predictive_variance

__all__ = ["fit_glm", "glm_objective"]


def glm_objective(X, y, *, likelihood, prior_precision, prior_mean=None, noise_variance=1.0, penalty=None):
    r"""``(grad, hess)`` of :math:`\bar\ell(\theta) = \sum_i f(x_i^\top\theta, y_i) + \tfrac12(\theta-m_0)^\top
    P_0(\theta-m_0) + \mathcal R(\theta)` at the delta method: θ ``(*batch, D)`` →
    :math:`X^\top f'(X\theta) + P_0(\theta - m_0) + \nabla\mathcal R` and
    :math:`X^\top \mathrm{diag}(f''(X\theta)) X + P_0 + \nabla^2\mathcal R`."""
    lik = get_likelihood(likelihood)
    X, y, s2 = _glm_data(X, y, lik, noise_variance)
    _check_penalty(penalty)
    D = X.shape[-1]
    if prior_precision is None:
        if penalty is None:
            raise ValueError("prior_precision is required unless a penalty (a K-prior) stands for the prior")
        P0 = np.zeros(X.shape[:-2] + (D, D))
    else:
        P0 = prior_matrix(prior_precision, D, X.shape[:-2])
    m0 = np.zeros(D) if prior_mean is None else check_prior_mean(prior_mean, D)

    def grad(theta):
        eta = matvec(X, _theta(theta, D))
        g = rmatvec(X, lik.d1(eta, y, s2)) + matvec(P0, theta - m0)
        # an overflow of finite data names the data and its scale, not the optimiser's `grad`
        g = check_finite_result(g, "the GLM objective's gradient", X=X, theta=theta)
        return g if penalty is None else g + penalty.grad(theta)

    def hess(theta):
        eta = matvec(X, _theta(theta, D))
        w = np.broadcast_to(lik.d2(eta, y, s2), eta.shape)
        H = check_finite_result(np.swapaxes(X, -1, -2) @ (w[..., None] * X) + P0, "the GLM objective's Hessian",
                                X=X, theta=theta)
        return H if penalty is None else H + penalty.hess(theta)

    return grad, hess


def _theta(theta, D):
    """θ ``(*batch, D)`` as floats, or ``ValueError`` naming ``theta`` (not NumPy's matmul)."""
    theta = float_view(theta, "theta")
    if theta.ndim < 1 or theta.shape[-1] != D:
        raise ValueError(f"theta must have shape (*batch, {D}) for X with D = {D} columns, got {theta.shape}")
    return theta


def _check_penalty(penalty):
    """``None`` or an object with callable ``grad`` and ``hess`` (a K-prior, a quadratic penalty)."""
    if penalty is not None and not (callable(getattr(penalty, "grad", None)) and callable(getattr(penalty, "hess", None))):
        raise TypeError(f"penalty must be None or have callable grad and hess (a KPrior, a QuadraticPenalty), got "
                        f"{type(penalty).__name__}")


def _glm_data(X, y, lik, noise_variance):
    """``(X, y, σ²)`` of a GLM checked before any step, so that an error names the user's argument (not the
    objective's ``grad`` or ``hess``): X ``(*batch, N, D)`` with D ≥ 1 (N = 0 allowed: a K-prior alone), y
    ``(*batch, N)``, both finite, y in the likelihood's support, σ² > 0."""
    s2 = check_scalar(noise_variance, "noise_variance", low=0.0)
    X, y = float_view(X, "X"), float_view(y, "y")
    if X.ndim < 2 or X.shape[-1] == 0:
        raise ValueError(f"X must be a (*batch, N, D) array with D >= 1, got shape {X.shape}")
    if y.ndim < 1 or y.shape[-1] != X.shape[-2]:
        raise ValueError(f"y must have shape (*batch, N) with N = {X.shape[-2]} rows of X, got shape {y.shape}")
    for a, name in ((X, "X"), (y, "y")):
        if not np.isfinite(a).all():
            raise ValueError(f"{name} must be finite (no NaN or inf)")
    lik.check_y(y, lik.name)
    return X, y, s2


def fit_glm(X, y, *, likelihood, prior_precision, prior_mean=None, noise_variance=1.0, penalty=None,
            method: str = "delta", tol: float = 1e-10, max_steps: int = 100, n_quadrature: int = 64,
            m0=None, rho=1.0) -> LaplacePosterior:
    r"""The Gaussian posterior of a GLM at a fixed point of the BLR.

    ``method="delta"``: the Laplace approximation :math:`\mathcal N(m_*, [\nabla^2\bar\ell(m_*)]^{-1})`
    by :func:`blrkit.algorithms.laplace` from ``m0`` (default zero) with learning rate ``rho`` (ρ = 1:
    Newton's iterates; a smaller ρ damps a Poisson fit whose first steps overshoot). ``method="variational"``:

    .. math::

        S_{t+1} = P_0 + \sum_i \mathbb E_{q_t}[f''(\eta_i)]\, x_i x_i^\top, \qquad
        m_{t+1} = m_t - S_{t+1}^{-1}\Big(\sum_i \mathbb E_{q_t}[f'(\eta_i)]\, x_i + P_0(m_t - m_0)\Big),

    with :math:`\eta_i \sim \mathcal N(x_i^\top m_t, x_i^\top S_t^{-1} x_i)` (Gauss–Hermite, ``n_quadrature``
    nodes, an integer in [1, 256]; the first step uses the Laplace precision), until the expected gradient's norm is at
    most ``tol``. Its fixed point is the Gaussian variational posterior (Khan & Rue 2023, Sec. 4.4);
    ``penalty`` is only supported with the delta method. With a penalty that carries the old prior
    (a K-prior), pass ``prior_precision=None``; ``X`` may then have no rows (removal, a new regulariser).

    >>> import numpy as np
    >>> X = np.array([[1.0], [-1.0], [2.0]]); y = np.array([1.0, 0.0, 0.0])
    >>> lap = fit_glm(X, y, likelihood="logistic", prior_precision=1.0)
    >>> vi = fit_glm(X, y, likelihood="logistic", prior_precision=1.0, method="variational")
    >>> bool(vi.precision[0, 0] < lap.precision[0, 0])  # E_q[σ'] < σ'(m) near the mode here
    True
    """
    lik = get_likelihood(likelihood)
    check_choice(method, "method", ("delta", "variational"))
    if method == "variational":
        if penalty is not None:
            raise ValueError("penalty is only supported with method='delta'")
        if prior_precision is None:
            raise ValueError("prior_precision is required with method='variational'")
        n_quadrature = check_nodes(n_quadrature, "n_quadrature")
    X, y, s2 = _glm_data(X, y, lik, noise_variance)
    D = X.shape[-1]
    start = np.zeros(X.shape[:-2] + (D,)) if m0 is None else float_view(m0, "m0")
    if start.ndim < 1 or start.shape[-1] != D:
        raise ValueError(f"m0 must have shape (*batch, {D}) for X with D = {D} columns, got {start.shape}")
    grad, hess = glm_objective(X, y, likelihood=lik, prior_precision=prior_precision, prior_mean=prior_mean,
                               noise_variance=s2, penalty=penalty)
    post = laplace(grad, hess, start, rho=rho, tol=tol, max_steps=max_steps)
    if method == "delta":
        return post
    P0 = prior_matrix(prior_precision, D, X.shape[:-2])
    mp = np.zeros(D) if prior_mean is None else check_prior_mean(prior_mean, D)
    m, S = post.mean, post.precision
    for t in range(max_steps):
        eta, v = matvec(X, m), predictive_variance(X, S)
        e1, e2 = gauss_hermite_expectation([lambda e, yy: lik.d1(e, yy, s2), lambda e, yy: lik.d2(e, yy, s2)],
                                           eta, v, y, n_nodes=n_quadrature)
        g = rmatvec(X, e1) + matvec(P0, m - mp)
        H = np.swapaxes(X, -1, -2) @ (e2[..., None] * X) + P0
        # a fixed point of both halves: the expected gradient vanishes and S reproduces itself
        if np.sqrt(np.max(np.sum(g ** 2, axis=-1))) <= tol and np.max(np.abs(H - S)) <= tol * np.max(np.abs(S)):
            return LaplacePosterior(mean=m, precision=S, n_steps=post.n_steps + t)
        # one BLR step with ρ = 1 and the expectations under q_t: the emitted Newton step
        m, S = newton_step(m, lambda _m: g, lambda _m: H)
    raise RuntimeError(f"fit_glm(method='variational') did not converge in max_steps={max_steps} steps")
