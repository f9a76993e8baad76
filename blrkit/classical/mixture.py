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


def mixture_vi(loss, grad, hess, means0, precisions0, weights0, rho: float, rho_weights: float, n_steps: int,
               n_samples: int, rng):
    r"""Non-conjugate VI with a mixture of Gaussians (Lin, Khan & Schmidt 2019), one problem, by hand.

    Per step, for every component k: draw :math:`\theta_{k,s} = m_k + L_k^{-\top}\epsilon_{k,s}`
    (``rng.standard_normal((n_samples, K, D))``), evaluate :math:`f = \bar\ell + \log q` and its derivatives
    at each draw (log q by scipy's multivariate normal, its gradient and Hessian from the responsibilities),
    average, then the improved-BLR precision :math:`S + \rho G + \tfrac{\rho^2}{2} G S^{-1} G`, the mean step
    with the new precision, and :math:`v_k \leftarrow v_k - \rho_\pi(\bar f_k - \bar f_K)`.  Loops over
    components and samples; ``loss``, ``grad``, ``hess`` take one point.
    """
    from scipy.stats import multivariate_normal

    m = [np.array(x, dtype=float) for x in means0]
    S = [np.array(x, dtype=float) for x in precisions0]
    K, D = len(m), len(m[0])
    v = np.log(np.asarray(weights0, dtype=float))
    v = v - v[-1]
    ms, Ss, ws = [np.array(m)], [np.array(S)], [np.exp(v) / np.exp(v).sum()]
    for _ in range(n_steps):
        eps = rng.standard_normal((n_samples, K, D))
        pi = np.exp(v) / np.exp(v).sum()
        covs = [np.linalg.inv(Sj) for Sj in S]
        f_mean, g_mean, H_mean = np.zeros(K), [np.zeros(D) for _ in range(K)], [np.zeros((D, D)) for _ in range(K)]
        for k in range(K):
            L = np.linalg.cholesky(S[k])
            for s in range(n_samples):
                th = m[k] + np.linalg.solve(L.T, eps[s, k])
                dens = np.array([pi[j] * multivariate_normal(m[j], covs[j]).pdf(th) for j in range(K)])
                q = dens.sum()
                r = dens / q
                gl = -sum(r[j] * S[j] @ (th - m[j]) for j in range(K))
                Hl = sum(r[j] * (np.outer(S[j] @ (th - m[j]), S[j] @ (th - m[j])) - S[j]) for j in range(K)) \
                    - np.outer(gl, gl)
                f_mean[k] += (loss(th) + np.log(q)) / n_samples
                g_mean[k] += (grad(th) + gl) / n_samples
                H_mean[k] += (hess(th) + Hl) / n_samples
        v = v - rho_weights * (f_mean - f_mean[-1])
        for k in range(K):
            G = H_mean[k]
            S_new = S[k] + rho * G + rho**2 / 2 * G @ np.linalg.solve(S[k], G)
            m[k] = m[k] - rho * np.linalg.solve(S_new, g_mean[k])
            S[k] = S_new
        ms.append(np.array(m))
        Ss.append(np.array(S))
        ws.append(np.exp(v) / np.exp(v).sum())
    return np.array(ms), np.array(Ss), np.array(ws)
