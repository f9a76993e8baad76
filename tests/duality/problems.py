"""Seeded GLM problems and their independent oracles (hand-written losses, SciPy), shared by tests/duality."""

import numpy as np
from scipy import stats
from scipy.special import expit

from blrkit.classical.problems import LogisticRegression


def glm_data(rng, name, N, D, *, scale=1.0):
    X = rng.standard_normal((N, D)) * (scale / np.sqrt(D))
    theta = rng.standard_normal(D)
    eta = X @ theta
    if name == "gaussian":
        y = eta + rng.standard_normal(N)
    elif name == "logistic":
        y = (rng.random(N) < expit(eta)).astype(float)
    elif name == "probit":
        y = (rng.random(N) < stats.norm.cdf(eta)).astype(float)
    else:
        y = rng.poisson(np.exp(eta)).astype(float)
    return X, y


def oracle(name, X, y, delta, s2=1.0):
    """(grad, hess) of ℓ̄ = Σ −log p(y_i | x_iᵀθ) + (δ/2)‖θ‖², written independently of blrkit.duality."""
    if name == "logistic":
        p = LogisticRegression(X, y, delta)
        return p.grad, p.hess

    def parts(theta):
        eta = X @ theta
        if name == "gaussian":
            return (eta - y) / s2, np.full_like(eta, 1 / s2)
        if name == "poisson":
            return np.exp(eta) - y, np.exp(eta)
        s = 2 * y - 1  # probit: −log Φ(sη)
        r = np.exp(stats.norm.logpdf(s * eta) - stats.norm.logcdf(s * eta))
        return -s * r, r * (s * eta + r)

    def grad(theta):
        return X.T @ parts(theta)[0] + delta * theta

    def hess(theta):
        w = parts(theta)[1]
        return X.T @ (w[:, None] * X) + delta * np.eye(X.shape[1])

    return grad, hess
