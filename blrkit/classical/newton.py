"""Textbook Newton's method, one problem at a time: the oracle for :func:`blrkit.algorithms.newton`."""

from __future__ import annotations

import numpy as np


def newton(grad, hess, x0, n_steps):
    """Iterate x ← x − H(x)⁻¹ g(x) (a linear solve); return every iterate, ``(n_steps + 1, D)``.

    >>> newton(lambda x: 4 * x - 2, lambda x: np.array([[4.0]]), np.array([3.0]), 1)
    array([[3. ],
           [0.5]])
    """
    x = np.array(x0, dtype=float)
    path = [x.copy()]
    for _ in range(n_steps):
        x = x - np.linalg.solve(hess(x), grad(x))
        path.append(x.copy())
    return np.array(path)


def newton_minimize(grad, hess, x0, tol=1e-10, max_steps=100):
    """Newton until ‖g(x)‖₂ ≤ tol; return (x, number of steps). A hand-written loop.

    >>> newton_minimize(lambda x: 4 * x - 2, lambda x: np.array([[4.0]]), np.array([3.0]))
    (array([0.5]), 1)
    """
    x = np.array(x0, dtype=float)
    for k in range(max_steps + 1):
        g = grad(x)
        if np.linalg.norm(g) <= tol:
            return x, k
        x = x - np.linalg.solve(hess(x), g)
    raise RuntimeError(f"Newton did not converge in {max_steps} steps")


def blr_newton(grad, hess, x0, S0, rho, n_steps):
    r"""The BLR's damped Newton, written out: S ← (1 − ρ)S + ρ H(x), then x ← x − ρ S⁻¹ g(x).

    The precision is an exponential moving average of the Hessians met so far (Khan & Rue 2023,
    Sec. 1.3); the mean step uses the *new* precision. Both g and H are taken at the old x.
    Returns ``(xs, Ss)``: every iterate, ``(n_steps + 1, D)`` and ``(n_steps + 1, D, D)``.

    >>> xs, Ss = blr_newton(lambda x: 4 * x - 2, lambda x: np.array([[4.0]]), [1.0], [[2.0]], 0.5, 1)
    >>> xs[-1], Ss[-1]
    (array([0.66666667]), array([[3.]]))
    """
    x = np.array(x0, dtype=float)
    S = np.array(S0, dtype=float)
    xs, Ss = [x.copy()], [S.copy()]
    for _ in range(n_steps):
        g, H = np.asarray(grad(x)), np.asarray(hess(x))
        S = (1 - rho) * S + rho * H
        x = x - rho * np.linalg.solve(S, g)
        xs.append(x.copy())
        Ss.append(S.copy())
    return np.array(xs), np.array(Ss)
