# PROVISIONAL: replaced by python -m blrkit.derive.emit
"""Newton's method as a BLR step: full Gaussian, delta method, rho = 1 (Khan & Rue 2023, Sec. 1.3)."""

import numpy as np


def newton_step(m, grad, hess):
    g = grad(m)
    # S_new = H(m)
    S_new = hess(m)
    # m_new = m - S_new^{-1} g(m)
    m_new = m - np.linalg.solve(S_new, g[..., None])[..., 0]
    return m_new, S_new
