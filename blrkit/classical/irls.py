r"""Iteratively reweighted least squares (IRLS), the textbook fit of a penalised GLM.

Each iteration solves a weighted ridge problem on the working response
:math:`z = \eta + (t - \mu)/w`,

.. math::

    \theta_{t+1} = (X^\top W X + \alpha I)^{-1} X^\top W z, \qquad W = \mathrm{diag}(w),

with :math:`\mu = \sigma(\eta)`, :math:`w = \mu(1 - \mu)` for logistic regression (labels
:math:`t \in \{0, 1\}`) and :math:`\mu = w = e^{\eta}` for Poisson regression (McCullagh &
Nelder, *Generalized Linear Models*, Sec. 2.5).  It is the oracle of the BLR's GLM recipe
"delta method, ρ = 1" (Khan & Rue 2023, Sec. 1.3), written without any derivative of the
loss: only the mean and variance functions of the GLM.
"""

from __future__ import annotations

import numpy as np

from blrkit._validation import check_binary_labels


def _mean_and_weight(kind: str, eta: np.ndarray):
    if kind == "logistic":
        mu = 1.0 / (1.0 + np.exp(-eta))
        return mu, mu * (1.0 - mu)
    if kind == "poisson":
        mu = np.exp(eta)
        return mu, mu
    raise ValueError(f"kind must be 'logistic' or 'poisson', got {kind!r}")


def irls(X, t, alpha, kind: str, n_steps: int, theta0=None) -> np.ndarray:
    """Every IRLS iterate for one problem, ``(n_steps + 1, D)``.

    ``t`` are the responses: labels in {0, 1} (logistic) or counts (Poisson); ``alpha`` the L2
    penalty (prior precision).

    >>> X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> irls(X, np.array([1.0, 0.0, 1.0]), 1.0, "logistic", 25)[-1].round(6)  # = scipy.optimize.minimize
    array([ 0.692488, -0.112817])
    """
    X, t = np.asarray(X, dtype=float), np.asarray(t, dtype=float)
    if kind == "logistic":
        check_binary_labels(t, "t", "logistic regression")
    theta = np.zeros(X.shape[1]) if theta0 is None else np.array(theta0, dtype=float)
    path = [theta.copy()]
    for _ in range(n_steps):
        eta = X @ theta
        mu, w = _mean_and_weight(kind, eta)
        z = eta + (t - mu) / w
        A = X.T @ (w[:, None] * X) + alpha * np.eye(X.shape[1])
        theta = np.linalg.solve(A, X.T @ (w * z))
        path.append(theta.copy())
    return np.array(path)
