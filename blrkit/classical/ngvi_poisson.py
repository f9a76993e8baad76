r"""Natural-gradient variational inference for Poisson regression, written out from the textbook.

Counts :math:`y_i \sim \mathrm{Poisson}(e^{x_i^\top\theta})` with the prior
:math:`\theta \sim \mathcal N(0, \alpha^{-1} I)`; the Gaussian posterior approximation
:math:`q = \mathcal N(m, S^{-1})` is fitted by natural-gradient steps (Khan & Lin 2017, "Conjugate-computation
variational inference", the Gaussian case; Khan & Rue 2023, Sec. 4.4, "variational Newton"), the expectations
of the loss's gradient and Hessian estimated by K reparameterised samples:

.. math::

    \theta_k = m_t + L_t^{-\top}\varepsilon_k,\quad S_t = L_tL_t^\top, \qquad
    S_{t+1} = (1-\rho)S_t + \rho\Big(\alpha I + \tfrac1K\sum_k\sum_i e^{x_i^\top\theta_k} x_ix_i^\top\Big),

    m_{t+1} = m_t - \rho\, S_{t+1}^{-1}\Big(\alpha m_t + \tfrac1K\sum_k\sum_i (e^{x_i^\top\theta_k} - y_i)\,x_i\Big).

The Poisson negative log-likelihood :math:`\sum_i e^{x_i^\top\theta} - y_i x_i^\top\theta` is differentiated by
hand here, example by example and sample by sample; the draws ε are given, so that a check can feed it the
draws a seeded generator gives the emitted step.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

__all__ = ["ngvi_poisson"]


def ngvi_poisson(m, S, rho, alpha, X, y, eps):
    r"""Every iterate of Monte-Carlo natural-gradient VI for Poisson regression, with the draws ``eps``.

    Parameters
    ----------
    m : array_like, shape (D,)
        Starting mean m₀.
    S : array_like, shape (D, D)
        Starting precision S₀ (symmetric positive definite).
    rho : float
        Learning rate ρ in (0, 1].
    alpha : float
        Prior precision α of N(0, α⁻¹I).
    X : array_like, shape (N, D)
        Design matrix, rows xᵢ.
    y : array_like, shape (N,)
        Counts yᵢ ≥ 0.
    eps : array_like, shape (n_steps, K, D)
        The standard-normal draws of each step.

    Returns
    -------
    means : ndarray, shape (n_steps + 1, D)
    precisions : ndarray, shape (n_steps + 1, D, D)

    Examples
    --------
    With one example x = 1, no count, and the draw ε = 0 (θ = m): from m = 0, S = 1, α = 1, ρ = 1/2,
    the gradient is e⁰ = 1 and the Hessian 1, so S₁ = ½ + ½(1 + 1) = 3/2 and m₁ = −½ · (2/3) · 1 = −1/3.

    >>> ms, Ss = ngvi_poisson([0.0], [[1.0]], 0.5, 1.0, [[1.0]], [0.0], np.zeros((1, 1, 1)))
    >>> ms[1], Ss[1]
    (array([-0.33333333]), array([[1.5]]))
    """
    m = np.array(m, dtype=float)
    S = np.array(S, dtype=float)
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    D = m.shape[0]
    means, precisions = [m.copy()], [S.copy()]
    for draws in np.asarray(eps, dtype=float):
        L = scipy.linalg.cholesky(S, lower=True)
        grad, hess = np.zeros(D), np.zeros((D, D))
        for e in draws:
            theta = m + scipy.linalg.solve_triangular(L, e, lower=True, trans="T")
            for x_i, y_i in zip(X, y):
                rate = np.exp(x_i @ theta)
                grad += (rate - y_i) * x_i
                hess += rate * np.outer(x_i, x_i)
        grad /= len(draws)
        hess /= len(draws)
        S_new = (1.0 - rho) * S + rho * (alpha * np.eye(D) + hess)
        m = m - rho * scipy.linalg.solve(S_new, alpha * m + grad, assume_a="pos")
        S = S_new
        means.append(m.copy())
        precisions.append(S.copy())
    return np.array(means), np.array(precisions)
