# PROVISIONAL: replaced by python -m blrkit.derive.emit
"""The Gaussian BLR step without the delta method: Monte Carlo E_q[g], E_q[H] (Khan & Rue 2023, Sec. 4.4)."""

import numpy as np


def variational_newton_step(m, S, rho, grad, hess, n_samples, rng):
    rho = np.asarray(rho, dtype=float)
    # S = L L^T
    L = np.linalg.cholesky(S)
    eps = rng.standard_normal((n_samples,) + np.shape(m))
    # theta_k = m + L^{-T} eps_k
    theta = m + np.linalg.solve(np.swapaxes(L, -1, -2), eps[..., None])[..., 0]
    # E_q[g], E_q[H] by Monte Carlo
    g = grad(theta).mean(axis=0)
    H = hess(theta).mean(axis=0)
    # S_new = (1 - rho) S + rho E_q[H]
    S_new = (1.0 - rho)[..., None, None] * S + rho[..., None, None] * H
    # m_new = m - rho S_new^{-1} E_q[g]
    m_new = m - rho[..., None] * np.linalg.solve(S_new, g[..., None])[..., 0]
    return m_new, S_new
