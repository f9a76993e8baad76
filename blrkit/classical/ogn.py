r"""Textbook online Gauss–Newton and VOGN, one problem at a time: the oracles for
:func:`blrkit.algorithms.online_gauss_newton` and :func:`blrkit.algorithms.vogn`.

Written from the VOGN slide (Khan et al. 2018; Osawa et al. 2019): per-example gradients
:math:`g_i`, a running average :math:`s \leftarrow (1-\rho)s + \rho\,\hat h` of the Gauss–Newton
curvature :math:`\hat h = \frac NM \sum_{i\in\mathcal B} g_i^2`, and a Newton-like step
:math:`m \leftarrow m - \rho\,\hat g / s` — coordinate by coordinate and example by example, with
the same random draws as the drivers: each step ``sorted(rng.choice(N, M, replace=False))``, then
(VOGN) ``rng.standard_normal((K, D))``.
"""

from __future__ import annotations

import numpy as np


def online_gauss_newton(grad_terms, x0, s0, rho, n_steps, n_data, batch_size, rng):
    """Iterate s_j ← (1 − ρ)s_j + ρ(N/M)Σ_{i∈B} g_ij², x_j ← x_j − ρ(N/M)Σ_{i∈B} g_ij / s_j.

    ``grad_terms(x, B)`` returns the per-example gradients ``(M, D)`` at ``x`` ``(D,)``. Returns
    ``(xs, ss)``, every iterate and every precision, both ``(n_steps + 1, D)``.

    >>> xs, ss = online_gauss_newton(lambda x, b: (x - 1.0)[None, :], [3.0], [1.0], 1.0, 1, 1, 1,
    ...                              np.random.default_rng(0))
    >>> xs[-1], ss[-1]
    (array([2.5]), array([4.]))
    """
    return _run(grad_terms, x0, s0, rho, n_steps, n_data, batch_size, rng, n_samples=None)


def vogn(grad_terms, x0, s0, rho, n_steps, n_data, batch_size, n_samples, rng, rule="blr"):
    r"""OGN with the gradients taken at samples θ_k = x + ε_k/√s, ε_k ~ N(0, I), k = 1..K, averaged.

    Each step draws the minibatch B, then ``eps = rng.standard_normal((K, D))``; ``grad_terms(θ_k, B)``
    is called on one sample ``(D,)`` at a time and returns ``(M, D)``. Then
    s_j ← (1 − ρ)s_j + ρ(N/M)(1/K)Σ_k Σ_{i∈B} g_ij(θ_k)² and x_j ← x_j − ρ(N/M)(1/K)Σ_k Σ_{i∈B} g_ij(θ_k) / s_j.
    With ``rule="improved"`` (Lin, Schmidt & Khan 2020) the precision step is
    s_j ← s_j + ρ G_j + (ρ²/2) G_j² / s_j with G_j = (N/M) h̄_j − s_j, written in that form.
    Returns ``(xs, ss)``, both ``(n_steps + 1, D)``.

    >>> xs, ss = vogn(lambda x, b: (x - 1.0)[None, :], [3.0], [1.0], 1.0, 1, 1, 1, 1, np.random.default_rng(0))
    >>> xs.shape, bool(ss[-1, 0] > 0)
    ((2, 1), True)
    """
    return _run(grad_terms, x0, s0, rho, n_steps, n_data, batch_size, rng, n_samples=n_samples, rule=rule)


def _run(grad_terms, x0, s0, rho, n_steps, n_data, batch_size, rng, n_samples, rule="blr"):
    """The loop of both: gradients at x (``n_samples=None``, OGN) or at K samples θ_k (VOGN)."""
    x = np.array(x0, dtype=float)
    s = np.array(s0, dtype=float)
    xs, ss = [x.copy()], [s.copy()]
    scale = n_data / batch_size
    for _ in range(n_steps):
        batch = np.sort(rng.choice(n_data, batch_size, replace=False))
        if n_samples is None:
            thetas = [x.copy()]
        else:
            eps = rng.standard_normal((n_samples, x.size))
            thetas = [x + eps[k] / np.sqrt(s) for k in range(n_samples)]  # before x and s change
        _update(x, s, [np.asarray(grad_terms(theta, batch)) for theta in thetas], rho, scale, rule)
        xs.append(x.copy())
        ss.append(s.copy())
    return np.array(xs), np.array(ss)


def _update(x, s, Gs, rho, scale, rule="blr"):
    """In place, coordinate by coordinate: ḡ_j, h̄_j = averages over the K arrays ``Gs`` (each (M, D)) of
    Σ_i G_ij and Σ_i G_ij²; then s_j ← (1 − ρ)s_j + ρ·scale·h̄_j and x_j ← x_j − ρ·scale·ḡ_j / s_j."""
    for j in range(x.size):
        g_j = sum(G[i, j] for G in Gs for i in range(G.shape[0])) / len(Gs)
        h_j = sum(G[i, j] ** 2 for G in Gs for i in range(G.shape[0])) / len(Gs)
        if rule == "improved":
            G_j = scale * h_j - s[j]
            s[j] = s[j] + rho * G_j + rho**2 / 2 * G_j**2 / s[j]
        else:
            s[j] = (1 - rho) * s[j] + rho * scale * h_j
        x[j] = x[j] - rho * scale * g_j / s[j]
