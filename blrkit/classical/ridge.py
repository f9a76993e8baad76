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
