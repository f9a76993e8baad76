r"""Variational message passing (mean-field coordinate ascent) for conjugate Gaussian models, by hand.

Two models, each with an unknown noise precision τ ~ Gamma (rate parametrisation) and a Gaussian block, and
the mean field q(Gaussian block) q(τ); each sweep sets one factor to its optimum given the other's
expectations (VMP: every block with ρ = 1, Khan & Rue 2023, Sec. 5.3):

- :func:`normal_gamma_cavi`, a Gaussian with unknown mean and precision (Bishop 2006, §10.1.3).
  Model: :math:`y_i \sim \mathcal N(\mu, \tau^{-1})`, :math:`\mu \sim \mathcal N(m_0, S_0^{-1})`,
  :math:`\tau \sim \mathrm{Gamma}(\alpha_0, \beta_0)`; coordinate ascent updates :math:`q(\mu)` given
  :math:`\mathbb E[\tau]`, then :math:`q(\tau)` given :math:`\mathbb E[\mu]`, :math:`\mathbb E[\mu^2]`.
- :func:`linear_regression_cavi`, Bayesian linear regression with unknown noise precision (Bishop 2006,
  §10.3, with the prior precision α fixed and a Gamma prior on the noise precision instead).

Written from the textbook, without the derive layer.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.linalg
from scipy.special import digamma, gammaln

from blrkit._validation import as_float_array, check_count, check_positive, check_spd


def normal_gamma_cavi(y, m0, S0, a0, b0, alpha, beta, n_steps):
    """Every iterate ``(m, S, alpha, beta)``, each ``(n_steps + 1,)``, from q(τ) = Gamma(alpha, beta)."""
    y = np.asarray(y, dtype=float)
    N, sy, syy = len(y), y.sum(), (y**2).sum()
    m, S = np.nan, np.nan
    out = [(m, S, alpha, beta)]
    for _ in range(n_steps):
        e_tau = alpha / beta
        S = S0 + N * e_tau
        m = (S0 * m0 + e_tau * sy) / S
        e_mu, e_mu2 = m, m**2 + 1 / S
        alpha = a0 + N / 2
        beta = b0 + 0.5 * (syy - 2 * e_mu * sy + N * e_mu2)
        out.append((m, S, alpha, beta))
    return tuple(np.array(c) for c in zip(*out))



class LinearRegressionCAVI(NamedTuple):
    """Every iterate of mean-field VI for Bayesian linear regression, q(w) = N(m, S⁻¹), q(τ) = Gamma(a, b)."""

    #: m, (n_steps + 1, D)
    means: np.ndarray
    #: S, (n_steps + 1, D, D)
    precisions: np.ndarray
    #: a, (n_steps + 1,)
    shapes: np.ndarray
    #: b, (n_steps + 1,)
    rates: np.ndarray
    #: the evidence lower bound at each iterate, every constant included, (n_steps + 1,)
    elbo: np.ndarray


def linear_regression_cavi(X, y, *, alpha, a0, b0, n_steps, order=("w", "tau"), tau_init=None, w_init=None):
    r"""Mean-field coordinate ascent for Bayesian linear regression with unknown noise precision.

    Model :math:`y_i \mid w, \tau \sim \mathcal N(x_i^\top w, \tau^{-1})`, :math:`w \sim \mathcal N(0,
    \alpha^{-1}I)` (α fixed), :math:`\tau \sim \mathrm{Gamma}(a_0, b_0)` (rate); mean field
    :math:`q(w)q(\tau) = \mathcal N(w \mid m, S^{-1})\,\mathrm{Gamma}(\tau \mid a, b)`.  Each factor's optimum
    given the other's expectations (Bishop 2006, Eqs. (10.90)–(10.96) with the roles of the precisions
    adapted):

    .. math::

        S = \alpha I + \mathbb E[\tau]\,X^\top X, \quad m = \mathbb E[\tau]\,S^{-1}X^\top y; \qquad
        a = a_0 + \tfrac N2, \quad
        b = b_0 + \tfrac12\big(\lVert y - Xm\rVert^2 + \operatorname{tr}(X^\top X S^{-1})\big),

    with :math:`\mathbb E[\tau] = a/b`.  One sweep updates the two factors in ``order``; an iterate is the
    state after a sweep.  The lower bound, with every constant,

    .. math::

        \mathcal L = \tfrac N2\big(\mathbb E[\log\tau] - \log 2\pi\big)
        - \tfrac{\mathbb E[\tau]}2\mathbb E\lVert y - Xw\rVert^2
        - \mathrm{KL}\big(q(w)\,\Vert\,p(w)\big) - \mathrm{KL}\big(q(\tau)\,\Vert\,p(\tau)\big),
        \quad \mathbb E[\log\tau] = \psi(a) - \log b,

    is reported at every iterate and never decreases.

    Parameters
    ----------
    X : array_like, (N, D)
        Inputs, one row per observation.
    y : array_like, (N,)
        Targets.
    alpha : float
        Prior precision α of every weight (> 0).
    a0, b0 : float
        Shape and rate of the Gamma prior on τ (> 0).
    n_steps : int
        Number of sweeps (≥ 0).
    order : ("w", "tau") or ("tau", "w")
        Which factor each sweep updates first.
    tau_init : (a, b), optional
        Initial q(τ); the prior (a0, b0) by default.  Only read when ``order`` starts with ``"w"``.
    w_init : (m, S), optional
        Initial q(w), mean (D,) and precision (D, D); the prior (0, αI) by default.  Only read when ``order``
        starts with ``"tau"``.  (BayesPy's nodes start from their priors too.)

    Returns
    -------
    LinearRegressionCAVI
        ``means`` (n_steps + 1, D), ``precisions`` (n_steps + 1, D, D), ``shapes`` and ``rates`` (n_steps + 1,),
        ``elbo`` (n_steps + 1,); index 0 is the initial q.

    References
    ----------
    C. M. Bishop, *Pattern Recognition and Machine Learning*, Springer 2006, §10.1.1 and §10.3.

    Examples
    --------
    >>> X = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0], [1.0, 3.0]])
    >>> out = linear_regression_cavi(X, np.array([0.1, 1.1, 1.9, 3.0]), alpha=0.01, a0=1.0, b0=1.0, n_steps=20)
    >>> out.means[-1].round(2)
    array([0.1 , 0.95])
    >>> bool(np.all(np.diff(out.elbo) >= -1e-12 * np.abs(out.elbo[1:])))
    True
    """
    X = as_float_array(X, "X")
    y = as_float_array(y, "y")
    if X.ndim != 2:
        raise ValueError(f"X must be an (N, D) array, got shape {X.shape}")
    N, D = X.shape
    if y.shape != (N,):
        raise ValueError(f"y must be ({N},) to match X, got shape {y.shape}")
    alpha, a0, b0 = (float(check_positive(v, name)) for v, name in ((alpha, "alpha"), (a0, "a0"), (b0, "b0")))
    n_steps = check_count(n_steps, "n_steps", minimum=0)
    if tuple(order) not in (("w", "tau"), ("tau", "w")):
        raise ValueError(f"order must be ('w', 'tau') or ('tau', 'w'), got {order!r}")
    a, b = (a0, b0) if tau_init is None else (float(v) for v in check_positive(tau_init, "tau_init"))
    if w_init is None:
        m, S = np.zeros(D), alpha * np.eye(D)
    else:
        m = as_float_array(w_init[0], "w_init")
        S = check_spd(w_init[1], "w_init")
        if m.shape != (D,) or S.shape != (D, D):
            raise ValueError(f"w_init must be (m (D,), S (D, D)) with D = {D}, got shapes {m.shape}, {S.shape}")

    XtX, Xty = X.T @ X, X.T @ y
    history = [(m, S, a, b)]
    for _ in range(n_steps):
        for block in order:
            if block == "w":
                # S = αI + E[τ] XᵀX,  m = E[τ] S⁻¹ Xᵀy
                S = alpha * np.eye(D) + a / b * XtX
                m = a / b * scipy.linalg.cho_solve(scipy.linalg.cho_factor(S), Xty)
            else:
                # a = a₀ + N/2,  b = b₀ + ½ E‖y − Xw‖²
                a = a0 + N / 2
                b = b0 + 0.5 * _expected_squared_residual(X, y, XtX, m, S)
        history.append((m, S, a, b))
    elbo = [_elbo(X, y, XtX, alpha, a0, b0, *state) for state in history]
    means, precisions, shapes, rates = (np.array(c) for c in zip(*history))
    return LinearRegressionCAVI(means, precisions, shapes, rates, np.array(elbo))


def _expected_squared_residual(X, y, XtX, m, S):
    """E_q‖y − Xw‖² = ‖y − Xm‖² + tr(XᵀX S⁻¹)."""
    S_inv = scipy.linalg.cho_solve(scipy.linalg.cho_factor(S), np.eye(len(m)))
    return float(np.sum((y - X @ m) ** 2) + np.trace(XtX @ S_inv))


def _elbo(X, y, XtX, alpha, a0, b0, m, S, a, b):
    """The evidence lower bound of q(w)q(τ) = N(m, S⁻¹) Gamma(a, b), every constant included."""
    N, D = X.shape
    e_tau, e_log_tau = a / b, digamma(a) - np.log(b)
    # E[log p(y | w, τ)] = N/2 (E[log τ] − log 2π) − E[τ]/2 E‖y − Xw‖²
    expected_loglik = 0.5 * N * (e_log_tau - np.log(2 * np.pi)) - 0.5 * e_tau * _expected_squared_residual(
        X, y, XtX, m, S)
    # KL(N(m, S⁻¹) ‖ N(0, α⁻¹I)) = ½ (α tr S⁻¹ + α mᵀm − D − D log α + log det S)
    L = scipy.linalg.cholesky(S, lower=True)
    S_inv = scipy.linalg.cho_solve((L, True), np.eye(D))
    kl_w = 0.5 * (alpha * np.trace(S_inv) + alpha * m @ m - D - D * np.log(alpha) + 2 * np.log(np.diag(L)).sum())
    # KL(Gamma(a, b) ‖ Gamma(a₀, b₀)) = (a − a₀)ψ(a) − log Γ(a) + log Γ(a₀) + a₀(log b − log b₀) + a(b₀ − b)/b
    kl_tau = ((a - a0) * digamma(a) - gammaln(a) + gammaln(a0) + a0 * (np.log(b) - np.log(b0))
              + a * (b0 - b) / b)
    return float(expected_loglik - kl_w - kl_tau)


def bayespy_linear_regression_iterates(X, y, *, alpha, a0, b0, n_steps, order=("w", "tau"), tau_init=None):
    r"""BayesPy's variational Bayes on the same model, order and start: moments after every sweep.

    Nodes ``w = GaussianARD(0, alpha, shape=(D,))`` (one D-dimensional Gaussian, so q(w) has a full
    covariance), ``tau = Gamma(a0, b0)``, ``y = GaussianARD(SumMultiply("i,i", w, X), tau)`` observed; every node
    starts from its prior, ``tau`` from ``initialize_from_parameters(*tau_init)`` if given; each sweep is
    ``VB.update(<nodes in order>, repeat=1)``.

    Returns ``(e_w (n_steps, D), e_wwT (n_steps, D, D), e_tau (n_steps,), e_log_tau (n_steps,), lower_bound
    (n_steps,))``, after sweeps 1 … n_steps (BayesPy's lower bound, ``VB.L``, includes every constant).
    BayesPy is a test dependency of blrkit, not a runtime one: it is imported here, on call, and its own
    deprecation warnings are silenced.
    """
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from bayespy.inference import VB
        from bayespy.nodes import Gamma, GaussianARD, SumMultiply

        X, y = np.array(X, dtype=float), np.array(y, dtype=float)
        w = GaussianARD(0.0, alpha, shape=(X.shape[1],), name="w")
        tau = Gamma(a0, b0, name="tau")
        obs = GaussianARD(SumMultiply("i,i", w, X), tau, name="y")
        obs.observe(y)
        Q = VB(obs, w, tau)
        if tau_init is not None:
            tau.initialize_from_parameters(*tau_init)
        nodes = {"w": w, "tau": tau}
        out = []
        for _ in range(n_steps):
            Q.update(*(nodes[k] for k in order), repeat=1, verbose=False)
            (e_w, e_wwT), (e_tau, e_log_tau) = w.get_moments(), tau.get_moments()
            out.append((e_w.copy(), e_wwT.copy(), float(e_tau), float(e_log_tau), Q.L[Q.iter - 1]))
    return tuple(np.array(c) for c in zip(*out))
