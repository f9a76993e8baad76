r"""Multimodal optimisation with a mixture of Gaussians, written by hand (Khan & Rue 2023, Sec. 3.2).

K damped Newton runs, one per component, and the log-weights :math:`v_k = \log(\pi_k/\pi_K)` moved towards
the Laplace evidence of each component's mode:

.. math::

    S_k \leftarrow (1-\rho)S_k + \rho\nabla^2\bar\ell(m_k), \quad
    m_k \leftarrow m_k - \rho S_k^{-1}\nabla\bar\ell(m_k), \quad
    v_k \leftarrow (1-\rho)v_k - \rho\big(\bar\ell(m_k) - \bar\ell(m_K) + \tfrac12\log\det S_k - \tfrac12\log\det S_K\big),

every right-hand side at the old iterate except the new :math:`S_k` in the mean step.  A plain loop
over the components of one problem, written without the derive layer: the oracle of
:func:`blrkit.algorithms.mixture_newton`.
"""

from __future__ import annotations

import numpy as np


def mixture_newton(loss, grad, hess, means0, precisions0, rho: float, n_steps: int):
    """Every iterate ``(means (T+1, K, D), precisions (T+1, K, D, D), weights (T+1, K))`` for one problem;
    ``loss``, ``grad``, ``hess`` take one point θ ``(D,)``."""
    m = [np.array(x, dtype=float) for x in means0]
    S = [np.array(x, dtype=float) for x in precisions0]
    K = len(m)
    v = np.zeros(K)
    ms, Ss, ws = [np.array(m)], [np.array(S)], [np.full(K, 1.0 / K)]
    for _ in range(n_steps):
        e = [loss(m[k]) + 0.5 * np.log(np.linalg.det(S[k])) for k in range(K)]
        v = np.array([(1 - rho) * v[k] - rho * (e[k] - e[-1]) for k in range(K)])
        for k in range(K):
            S[k] = (1 - rho) * S[k] + rho * hess(m[k])
            m[k] = m[k] - rho * np.linalg.solve(S[k], grad(m[k]))
        w = np.exp(v - v.max())
        ms.append(np.array(m))
        Ss.append(np.array(S))
        ws.append(w / w.sum())
    return np.array(ms), np.array(Ss), np.array(ws)
