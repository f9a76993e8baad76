r"""Non-conjugate variational message passing for Bayesian logistic regression, by hand (Knowles & Minka 2011).

Labels are :math:`y_i \in \{0, 1\}`, read here as the signs :math:`s_i = 2y_i - 1` of Knowles & Minka's factors.
A Gaussian node :math:`q(\theta) = \mathcal N(m, V)` receives from each factor
:math:`\sigma(s_i x_i^\top\theta)` the message of :math:`F_i(\mu_i, v_i) = \mathbb E[\log\sigma(s_i\eta)]`,
:math:`\eta \sim \mathcal N(\mu_i, v_i)`, :math:`\mu_i = x_i^\top m`, :math:`v_i = x_i^\top V x_i`, written in the
mean and variance: precision :math:`-2\,\partial F_i/\partial v_i\; x_i x_i^\top` and precision-times-mean
:math:`(\partial F_i/\partial\mu_i - 2\,\mu_i\,\partial F_i/\partial v_i)\,x_i`; the prior
:math:`\mathcal N(0, \alpha^{-1}I)` adds :math:`\alpha I`.  The two derivatives are one-dimensional integrals
(of :math:`\log\sigma` 's first and second derivative, by Bonnet's and Price's theorems), computed here with
SciPy's adaptive quadrature: no code shared with the derive layer.
"""

from __future__ import annotations

import numpy as np
from scipy import integrate, special, stats

from blrkit._validation import check_binary_labels


def dF(mu, v, y):
    """(∂F/∂μ, ∂F/∂v) for F(μ, v) = E[log σ(sη)], s = 2y − 1, η ~ N(μ, v), labels y in {0, 1}, for every
    example at once: ``(N, 2)``.

    One adaptive integral over the standard normal z (η = μ + √v z, z within ±12) of the 2N integrands
    (``scipy.integrate.quad_vec``, absolute tolerance 1e-14)."""
    y = check_binary_labels(np.asarray(y, float))
    mu, sd, s = np.asarray(mu, float), np.sqrt(np.asarray(v, float)), 2 * y - 1

    def integrand(z):
        e = mu + sd * z
        s_pos, s_neg = special.expit(s * e), special.expit(-s * e)
        return stats.norm.pdf(z) * np.concatenate([s * s_neg, -s_pos * s_neg / 2])

    out, _ = integrate.quad_vec(integrand, -12.0, 12.0, epsabs=1e-14, epsrel=1e-13)
    return out.reshape(2, -1).T


def knowles_minka(X, y, alpha, m0, V0, n_steps):
    """Every iterate ``(means (T+1, D), precisions (T+1, D, D))`` of NC-VMP (ρ = 1) for one problem, labels
    ``y`` in {0, 1}."""
    X, y = np.asarray(X, dtype=float), check_binary_labels(np.asarray(y, dtype=float))
    m, V = np.array(m0, dtype=float), np.array(V0, dtype=float)
    means, precisions = [m.copy()], [np.linalg.inv(V)]
    for _ in range(n_steps):
        P, h = alpha * np.eye(len(m)), np.zeros(len(m))
        mus, vs = X @ m, np.einsum("nd,de,ne->n", X, V, X)
        for x, mu_i, (dmu, dv) in zip(X, mus, dF(mus, vs, y)):  # one message per factor
            P += -2 * dv * np.outer(x, x)
            h += (dmu - 2 * mu_i * dv) * x
        V = np.linalg.inv(P)
        m = V @ h
        means.append(m.copy())
        precisions.append(P.copy())
    return np.array(means), np.array(precisions)
