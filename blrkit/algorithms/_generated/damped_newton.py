# PROVISIONAL: replaced by python -m blrkit.derive.emit
"""The Gaussian BLR step with the delta method (Khan & Rue 2023, Sec. 1.3)."""

import numpy as np


def damped_newton_step(m, S, rho, grad, hess):
    rho = np.asarray(rho, dtype=float)
    g = grad(m)
    H = hess(m)
    # S_new = (1 - rho) S + rho H(m)
    S_new = (1.0 - rho)[..., None, None] * S + rho[..., None, None] * H
    # m_new = m - rho S_new^{-1} g(m)
    m_new = m - rho[..., None] * np.linalg.solve(S_new, g[..., None])[..., 0]
    return m_new, S_new
