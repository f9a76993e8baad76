"""Textbook Laplace approximation: MAP by a library optimiser, then the Hessian there.

The oracle for :func:`blrkit.algorithms.laplace`: N(θ_MAP, H(θ_MAP)⁻¹), with θ_MAP from
``scipy.optimize.minimize`` (trust-region, exact Hessian) and the precision the analytic Hessian.
"""

from __future__ import annotations

import numpy as np
import scipy.optimize


def laplace(loss, grad, hess, x0, gtol=1e-6):
    """Return (θ_MAP, H(θ_MAP)) for one problem.

    >>> mode, prec = laplace(lambda x: (x[0] - 1) ** 2, lambda x: 2 * (x - 1),
    ...                      lambda x: np.array([[2.0]]), np.zeros(1))
    >>> mode.round(8), prec
    (array([1.]), array([[2.]]))
    """
    res = scipy.optimize.minimize(loss, np.asarray(x0, dtype=float), jac=grad, hess=hess,
                                  method="trust-exact", options={"gtol": gtol})
    # near the optimum trust-exact may stop with "a bad approximation caused failure to predict
    # improvement" (the loss no longer changes in float64): accept that if the gradient is small
    if not res.success and not np.linalg.norm(grad(res.x)) <= gtol:
        raise RuntimeError(f"scipy.optimize.minimize failed: {res.message}")
    return res.x, hess(res.x)
