# PROVISIONAL: replaced by python -m blrkit.derive.emit
"""The diagonal-Gaussian BLR step with the delta method (Khan & Rue 2023, Sec. 4.2)."""

import numpy as np


def diagonal_newton_step(m, s, rho, grad, hess_diag):
    rho = np.asarray(rho, dtype=float)[..., None]
    g = grad(m)
    # s_new = (1 - rho) s + rho h(m)
    s_new = (1.0 - rho) * s + rho * hess_diag(m)
    # m_new = m - rho g(m) / s_new
    m_new = m - rho * g / s_new
    return m_new, s_new
