# PROVISIONAL: replaced by python -m blrkit.derive.emit
"""Gradient descent as a BLR step: q = N(m, I), delta method (Khan & Rue 2023, Sec. 1.3)."""

import numpy as np


def gradient_descent_step(m, rho, grad):
    rho = np.asarray(rho, dtype=float)[..., None]
    # m_new = m - rho * grad(m)
    return m - rho * grad(m)
