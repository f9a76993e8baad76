"""Textbook ridge regression by least squares on augmented data: the oracle for :func:`blrkit.algorithms.ridge`.

Ridge with penalty λ minimises ‖y − Xθ‖² + λ‖θ‖², which is ordinary least squares on
X̃ = [X; √λ I], ỹ = [y; 0]. Solved by ``lstsq`` (an SVD), this shares no arithmetic with the
normal equations the BLR step uses.
"""

from __future__ import annotations

import numpy as np


def ridge(X, y, penalty):
    """argmin ‖y − Xθ‖² + penalty ‖θ‖², for one problem ``X (N, D)``, ``y (N,)``.

    >>> ridge(np.array([[1.0], [1.0]]), np.array([1.0, 1.0]), 2.0)
    array([0.5])
    """
    X = np.asarray(X, dtype=float)
    D = X.shape[1]
    X_aug = np.vstack([X, np.sqrt(penalty) * np.eye(D)])
    y_aug = np.concatenate([np.asarray(y, dtype=float), np.zeros(D)])
    return np.linalg.lstsq(X_aug, y_aug, rcond=None)[0]


def ridge_gain_form(X, y, alpha, noise_variance):
    r"""The ridge posterior N(m, Σ) by conditioning the joint Gaussian of (θ, y), one problem.

    With the prior θ ~ N(0, α⁻¹I) and y = Xθ + ε, ε ~ N(0, σ²I), the joint Gaussian gives

    .. math::

        G = \alpha^{-1} X^\top (\alpha^{-1} X X^\top + \sigma^2 I)^{-1}, \qquad
        m = G y, \qquad \Sigma = \alpha^{-1} I - G X \alpha^{-1},

    an N × N solve: the gain (Kalman) form, not the D × D precision the BLR step forms
    (Khan & Rue 2023, Sec. 5.1). Returns ``(m, Σ)``: the mean ``(D,)`` and the covariance ``(D, D)``.

    >>> m, C = ridge_gain_form(np.array([[1.0], [1.0]]), np.array([1.0, 1.0]), 2.0, 1.0)
    >>> m, C
    (array([0.5]), array([[0.25]]))
    """
    X = np.asarray(X, dtype=float)
    N, D = X.shape
    prior_cov = np.eye(D) / alpha
    C_y = X @ prior_cov @ X.T + noise_variance * np.eye(N)
    G = np.linalg.solve(C_y, X @ prior_cov).T
    return G @ np.asarray(y, dtype=float), prior_cov - G @ X @ prior_cov
