r"""Textbook Gaussian variational inference, one problem at a time: oracles for
:func:`blrkit.algorithms.variational_newton`.

Two oracles. :func:`variational_newton` is the Monte-Carlo natural-gradient VI loop written
out sample by sample, fed the standard-normal draws explicitly so that a test can give it the
draws a seeded generator gives the driver. :func:`gaussian_vi_glm_fixed_point` is the exact
Gaussian-VI posterior of L2-regularised logistic regression: for a generalised linear model
the expectations under q are one-dimensional integrals, done by Gauss–Hermite quadrature.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from blrkit._validation import check_binary_labels


def variational_newton(grad, hess, x0, S0, rho, eps, rule="blr"):
    r"""Monte-Carlo natural-gradient Gaussian VI with given draws ``eps`` ``(n_steps, K, D)``.

    Each step, with :math:`S = LL^\top` (Cholesky), draws :math:`\theta_k = x + L^{-\top}\varepsilon_k`
    (so :math:`\theta_k \sim \mathcal N(x, S^{-1})`), averages the gradient ḡ and Hessian H̄ over
    the K samples, then sets S ← (1 − ρ)S + ρH̄ and x ← x − ρ S⁻¹ḡ (with the new S).
    ``grad``/``hess`` are called on one sample ``(D,)`` at a time. With ``rule="improved"`` the
    precision step is the improved BLR's, S ← S + ρG + (ρ²/2) G S⁻¹ G with G = H̄ − S
    (Lin, Schmidt & Khan 2020), written in that form. Returns ``(xs, Ss)``:
    every iterate, ``(n_steps + 1, D)`` and ``(n_steps + 1, D, D)``.

    >>> xs, Ss = variational_newton(lambda t: t - 1.0, lambda t: np.eye(1), [0.0], np.eye(1), 1.0,
    ...                             np.zeros((1, 1, 1)))
    >>> xs[-1], Ss[-1]
    (array([1.]), array([[1.]]))
    """
    x = np.array(x0, dtype=float)
    S = np.array(S0, dtype=float)
    xs, Ss = [x.copy()], [S.copy()]
    for draws in np.asarray(eps, dtype=float):
        L = np.linalg.cholesky(S)
        thetas = [x + np.linalg.solve(L.T, e) for e in draws]
        g_bar = sum(np.asarray(grad(t)) for t in thetas) / len(thetas)
        H_bar = sum(np.asarray(hess(t)) for t in thetas) / len(thetas)
        if rule == "improved":  # Lin, Schmidt & Khan (2020): G = H̄ − S, S ← S + ρG + ρ²/2 G S⁻¹ G
            G = H_bar - S
            S = S + rho * G + rho**2 / 2 * G @ np.linalg.solve(S, G)
        else:
            S = (1 - rho) * S + rho * H_bar
        x = x - rho * np.linalg.solve(S, g_bar)
        xs.append(x.copy())
        Ss.append(S.copy())
    return np.array(xs), np.array(Ss)


def gaussian_vi_glm_fixed_point(X, y, delta, *, rho=0.5, n_nodes=64, tol=1e-12, max_steps=500):
    r"""The exact Gaussian-VI posterior N(m, S⁻¹) of L2-regularised logistic regression.

    The loss is :math:`\bar\ell(\theta) = \sum_i \phi_i(x_i^\top\theta) + \tfrac\delta2\|\theta\|^2`,
    :math:`\phi_i(f) = \log(1 + e^f) - y_i f`, labels :math:`y_i \in \{0, 1\}`. Under
    :math:`q = \mathcal N(m, S^{-1})`, :math:`f_i = x_i^\top\theta \sim \mathcal N(x_i^\top m, x_i^\top S^{-1} x_i)`, so

    .. math::

        \mathbb E_q[\nabla\bar\ell] = \sum_i x_i\, \mathbb E[\sigma(f_i) - y_i] + \delta m, \qquad
        \mathbb E_q[\nabla^2\bar\ell] = \sum_i x_i x_i^\top\, \mathbb E[\sigma(f_i)(1 - \sigma(f_i))] + \delta I,

    each 1-D expectation by ``n_nodes``-point Gauss–Hermite quadrature,
    :math:`\mathbb E[g(f)] \approx \pi^{-1/2}\sum_k w_k\, g(\mu + \sqrt{2v}\, z_k)`. The natural-gradient
    update S ← (1 − ρ)S + ρ E[∇²ℓ̄], m ← m − ρ S⁻¹ E[∇ℓ̄] is iterated from m = 0,
    S = δI + XᵀX/4 until both change by less than ``tol`` (relative). Its fixed point,
    E[∇ℓ̄] = 0 and S = E[∇²ℓ̄], is the stationary point of the evidence lower bound over Gaussians.

    Returns ``(m, S)``.

    >>> X = np.array([[1.0], [-1.0]]); y = np.array([1.0, 0.0])
    >>> m, S = gaussian_vi_glm_fixed_point(X, y, 1.0)
    >>> bool(0 < m[0] < 1), bool(S[0, 0] > 1)
    (True, True)
    """
    X = np.asarray(X, dtype=float)
    y = check_binary_labels(np.asarray(y, dtype=float))
    z, w = np.polynomial.hermite.hermgauss(n_nodes)
    w = w / np.sqrt(np.pi)
    D = X.shape[1]
    m = np.zeros(D)
    S = delta * np.eye(D) + X.T @ X / 4
    for _ in range(max_steps):
        mu = X @ m
        v = np.einsum("nd,nd->n", X, np.linalg.solve(S, X.T).T)
        f = mu[:, None] + np.sqrt(2 * v)[:, None] * z[None, :]  # (N, nodes)
        p = expit(f)
        E_dphi = (p @ w) - y  # E[σ(f_i)] − y_i
        E_d2phi = (p * (1 - p)) @ w  # E[σ(f_i)(1 − σ(f_i))]
        E_g = X.T @ E_dphi + delta * m
        E_H = X.T @ (E_d2phi[:, None] * X) + delta * np.eye(D)
        S_new = (1 - rho) * S + rho * E_H
        m_new = m - rho * np.linalg.solve(S_new, E_g)
        done = (np.max(np.abs(m_new - m)) <= tol * max(1.0, np.max(np.abs(m)))
                and np.max(np.abs(S_new - S)) <= tol * np.max(np.abs(S)))
        m, S = m_new, S_new
        if done:
            return m, S
    raise RuntimeError(f"Gaussian-VI fixed point not reached in {max_steps} steps")


def quartic_vi(X, y, x0, S0, rho, n_steps):
    r"""Exact-expectation Gaussian VI for a quartic loss, one problem: the iterates of the BLR.

    The loss is :math:`\bar\ell(\theta) = \sum_i (x_i^\top\theta)^4/12 - y^\top X\theta + \|\theta\|^2/2`.
    Under :math:`q = \mathcal N(x, S^{-1})`, :math:`u_i = x_i^\top\theta \sim \mathcal N(a_i, s_i^2)` with
    :math:`a = Xx` and :math:`s_i^2 = x_i^\top S^{-1} x_i`, so :math:`\mathbb E[u^3] = a^3 + 3as^2` and
    :math:`\mathbb E[u^2] = a^2 + s^2` give the expectations in closed form:

    .. math::

        \mathbb E_q[\nabla\bar\ell] = X^\top \tfrac{a^3 + 3as^2}{3} - X^\top y + x, \qquad
        \mathbb E_q[\nabla^2\bar\ell] = X^\top \mathrm{diag}(a^2 + s^2) X + I,

    then S ← (1 − ρ)S + ρ E[∇²ℓ̄] and x ← x − ρ S⁻¹ E[∇ℓ̄] (Khan & Rue 2023, Sec. 4.4).
    Returns ``(xs, Ss)``, ``(n_steps + 1, D)`` and ``(n_steps + 1, D, D)``.

    >>> xs, Ss = quartic_vi(np.zeros((1, 1)), np.zeros(1), [1.0], [[1.0]], 1.0, 1)
    >>> xs[-1], Ss[-1]
    (array([0.]), array([[1.]]))
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    x = np.array(x0, dtype=float)
    S = np.array(S0, dtype=float)
    D = x.size
    xs, Ss = [x.copy()], [S.copy()]
    for _ in range(n_steps):
        a = X @ x
        s2 = np.array([row @ np.linalg.solve(S, row) for row in X])
        E_g = X.T @ ((a ** 3 + 3 * a * s2) / 3) - X.T @ y + x
        E_H = X.T @ ((a ** 2 + s2)[:, None] * X) + np.eye(D)
        S = (1 - rho) * S + rho * E_H
        x = x - rho * np.linalg.solve(S, E_g)
        xs.append(x.copy())
        Ss.append(S.copy())
    return np.array(xs), np.array(Ss)
