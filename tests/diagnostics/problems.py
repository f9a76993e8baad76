"""Problems of the diagnostics tests, each with its closed forms written independently of blrkit."""

import numpy as np
from scipy.special import gammaln

from blrkit.diagnostics import Problem, glm_problem


def gaussian_target(A, a, name="Gaussian target"):
    """ℓ̄(θ) = ½(θ − a)ᵀA(θ − a): the posterior is N(a, A⁻¹), Z = (2π)^{D/2} det(A)^{-1/2}."""
    A, a = np.asarray(A, float), np.asarray(a, float)
    D = len(a)
    return Problem(lambda t: 0.5 * np.einsum("...i,ij,...j->...", t - a, A, t - a),
                   lambda t: (t - a) @ A,
                   lambda t: np.broadcast_to(A, t.shape[:-1] + (D, D)).copy(), D,
                   grad_terms=lambda t: ((t - a) @ A)[..., None, :], predict=lambda t: t.copy(), name=name)


#: a small Poisson GLM: few counts, a skewed posterior (Poisson regression on a log link)
POISSON_X1 = np.ones((4, 1))
POISSON_Y1 = np.array([0.0, 0.0, 1.0, 2.0])
POISSON_X2 = np.array([[1.0, -1.0], [1.0, -0.3], [1.0, 0.2], [1.0, 0.9], [1.0, 1.4]])
POISSON_Y2 = np.array([0.0, 0.0, 1.0, 0.0, 3.0])
ALPHA = 1.0


def poisson(X, y, X_test=None):
    return glm_problem(X, y, likelihood="poisson", alpha=ALPHA, X_test=X_test)


def poisson_loss(theta, X, y):
    """Σ_i [e^{x_iᵀθ} − y_i x_iᵀθ + log y_i!] + α/2‖θ‖², written out."""
    eta = X @ theta
    return np.sum(np.exp(eta) - y * eta + gammaln(y + 1)) + 0.5 * ALPHA * theta @ theta


def poisson_expected(m, Sigma, X, y):
    """E_q[ℓ̄], E_q[∇ℓ̄], E_q[∇²ℓ̄] under q = N(m, Σ) in closed form: E[e^{xᵀθ}] = exp(xᵀm + ½xᵀΣx)."""
    eta = X @ m
    r = np.exp(eta + 0.5 * np.einsum("ni,ij,nj->n", X, Sigma, X))
    loss = np.sum(r - y * eta + gammaln(y + 1)) + 0.5 * ALPHA * (m @ m + np.trace(Sigma))
    grad = X.T @ (r - y) + ALPHA * m
    hess = (X.T * r) @ X + ALPHA * np.eye(len(m))
    return loss, grad, hess


def gaussian_kl(m1, C1, m2, C2):
    """KL(N(m1, C1) ‖ N(m2, C2)) in closed form."""
    D = len(m1)
    d = m2 - m1
    return 0.5 * (np.trace(np.linalg.solve(C2, C1)) + d @ np.linalg.solve(C2, d) - D
                  + np.linalg.slogdet(C2)[1] - np.linalg.slogdet(C1)[1])
