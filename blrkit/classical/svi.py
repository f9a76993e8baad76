r"""Stochastic variational inference for a Gaussian mean with known noise variance, by hand (Hoffman et al. 2013).

The global natural parameters :math:`\eta = (Sm, -S/2)` of :math:`q(\theta) = \mathcal N(m, S^{-1})` follow
:math:`\eta \leftarrow (1-\rho_t)\eta + \rho_t\big(\eta_0 + \tfrac NM\sum_{i\in\mathcal B_t} t(y_i)\big)` with
:math:`t(y) = (y/\sigma^2, -1/(2\sigma^2))`: the intermediate global parameter of a minibatch replicated N/M
times.  Written from the paper, without the derive layer.
"""

from __future__ import annotations

import numpy as np


def svi_gaussian_mean(y, m0, S0, noise_variance, m, S, batches, rhos):
    """Every iterate ``(means, precisions)`` for one data set, given the minibatches (index arrays) and ρ_t."""
    y = np.asarray(y, dtype=float)
    N = len(y)
    eta = np.array([S * m, -S / 2])
    eta0 = np.array([S0 * m0, -S0 / 2])
    means, precisions = [m], [S]
    for idx, rho in zip(batches, rhos):
        stats = np.array([y[idx].sum() / noise_variance, -len(idx) / (2 * noise_variance)])
        eta = (1 - rho) * eta + rho * (eta0 + N / len(idx) * stats)
        precisions.append(-2 * eta[1])
        means.append(eta[0] / precisions[-1])
    return np.array(means), np.array(precisions)
