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


def ridge_svd(X, y, alpha, noise_variance):
    r"""The ridge posterior N(m, Σ) from the SVD of the whitened, augmented design, one problem.

    With the prior θ ~ N(0, α⁻¹I) and y = Xθ + ε, ε ~ N(0, σ²I), the posterior is the least-squares
    problem of :math:`\tilde X = [X/\sigma;\ \sqrt\alpha I]`, :math:`\tilde y = [y/\sigma;\ 0]`.
    With the thin SVD :math:`\tilde X = U \operatorname{diag}(s) V^\top`,

    .. math::

        m = V \operatorname{diag}(1/s)\, U^\top \tilde y, \qquad \Sigma = V \operatorname{diag}(1/s^2)\, V^\top,

    which never forms :math:`X^\top X` (the normal equations the BLR step solves; Khan & Rue 2023,
    Sec. 5.1). Returns ``(m, Σ)``: the mean ``(D,)`` and the covariance ``(D, D)``.

    >>> m, C = ridge_svd(np.array([[1.0], [1.0]]), np.array([1.0, 1.0]), 2.0, 1.0)
    >>> m.round(12), C.round(12)
    (array([0.5]), array([[0.25]]))
    """
    X = np.asarray(X, dtype=float)
    D = X.shape[1]
    sigma = np.sqrt(noise_variance)
    X_aug = np.vstack([X / sigma, np.sqrt(alpha) * np.eye(D)])
    y_aug = np.concatenate([np.asarray(y, dtype=float) / sigma, np.zeros(D)])
    U, s, Vt = np.linalg.svd(X_aug, full_matrices=False)
    return Vt.T @ ((U.T @ y_aug) / s), (Vt.T / s**2) @ Vt
