r"""Variational message passing for a Gaussian with unknown mean and precision, by hand (Bishop 2006, §10.1.3).

Model: :math:`y_i \sim \mathcal N(\mu, \tau^{-1})`, :math:`\mu \sim \mathcal N(m_0, S_0^{-1})`,
:math:`\tau \sim \mathrm{Gamma}(\alpha_0, \beta_0)` (rate), mean field :math:`q(\mu)q(\tau)`; coordinate ascent
updates :math:`q(\mu)` given :math:`\mathbb E[\tau]`, then :math:`q(\tau)` given :math:`\mathbb E[\mu]`,
:math:`\mathbb E[\mu^2]`.  Written from the textbook, without the derive layer.
"""

from __future__ import annotations

import numpy as np


def normal_gamma_cavi(y, m0, S0, a0, b0, alpha, beta, n_steps):
    """Every iterate ``(m, S, alpha, beta)``, each ``(n_steps + 1,)``, from q(τ) = Gamma(alpha, beta)."""
    y = np.asarray(y, dtype=float)
    N, sy, syy = len(y), y.sum(), (y**2).sum()
    m, S = np.nan, np.nan
    out = [(m, S, alpha, beta)]
    for _ in range(n_steps):
        e_tau = alpha / beta
        S = S0 + N * e_tau
        m = (S0 * m0 + e_tau * sy) / S
        e_mu, e_mu2 = m, m**2 + 1 / S
        alpha = a0 + N / 2
        beta = b0 + 0.5 * (syy - 2 * e_mu * sy + N * e_mu2)
        out.append((m, S, alpha, beta))
    return tuple(np.array(c) for c in zip(*out))

