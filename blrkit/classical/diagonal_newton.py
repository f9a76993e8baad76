"""Textbook diagonal Newton, one problem at a time: the oracle for :func:`blrkit.algorithms.diagonal_newton`.

Newton's method with the Hessian replaced by its diagonal, kept as an exponential moving
average with weight ρ; each coordinate takes its own Newton step, scaled by ρ.
"""

from __future__ import annotations

import numpy as np


def diagonal_newton(grad, hess_diag, x0, s0, rho, n_steps):
    """Iterate s ← (1 − ρ)s + ρ·diag H(x), x ← x − ρ g(x)/s, coordinate by coordinate.

    Returns ``(xs, ss)``, every iterate and every averaged curvature, both ``(n_steps + 1, D)``.

    >>> xs, ss = diagonal_newton(lambda x: 2 * x - 2, lambda x: np.array([2.0]), [3.0], [1.0], 1.0, 1)
    >>> xs[-1], ss[-1]
    (array([1.]), array([2.]))
    """
    x = np.array(x0, dtype=float)
    s = np.array(s0, dtype=float)
    xs, ss = [x.copy()], [s.copy()]
    for _ in range(n_steps):
        g, h = np.asarray(grad(x)), np.asarray(hess_diag(x))
        for j in range(x.size):
            s[j] = (1 - rho) * s[j] + rho * h[j]
            x[j] = x[j] - rho * g[j] / s[j]
        xs.append(x.copy())
        ss.append(s.copy())
    return np.array(xs), np.array(ss)
