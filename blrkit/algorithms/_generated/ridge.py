# PROVISIONAL: replaced by python -m blrkit.derive.emit
"""Ridge regression as conjugate Bayes, one BLR step with rho = 1 (Khan & Rue 2023, Sec. 5.1)."""

import numpy as np


def ridge_posterior(X, y, alpha, noise_variance):
    alpha = np.asarray(alpha, dtype=float)[..., None, None]
    noise_variance = np.asarray(noise_variance, dtype=float)
    D = X.shape[-1]
    Xt = np.swapaxes(X, -1, -2)
    # S = X^T X / sigma^2 + alpha I
    S = (Xt @ X) / noise_variance[..., None, None] + alpha * np.eye(D)
    # m = S^{-1} X^T y / sigma^2
    m = np.linalg.solve(S, (Xt @ y[..., None]) / noise_variance[..., None, None])[..., 0]
    return m, S
