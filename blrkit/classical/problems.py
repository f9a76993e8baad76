"""Textbook test problems shared by the tests, the benchmarks and the notebooks.

L2-regularised logistic regression (a convex, non-quadratic ℓ̄) and linear-Gaussian
state-space models. Batched where that is natural: leading axes are independent problems.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, log_expit

from blrkit._validation import check_binary_labels


@dataclass(frozen=True)
class LogisticRegression:
    r"""ℓ̄(θ) = Σ_i [log(1 + e^{x_iᵀθ}) − y_i x_iᵀθ] + (α/2)‖θ‖², labels y ∈ {0, 1}.

    ``X`` is ``(*batch, N, D)``, ``y`` ``(*batch, N)``; methods take θ ``(*batch, D)``.
    The MAP equals ``LogisticRegression(C=1/alpha, fit_intercept=False)`` in scikit-learn,
    whose objective is C·Σ log-loss + ½‖θ‖².

    >>> p = LogisticRegression(np.array([[1.0], [-1.0]]), np.array([1.0, 0.0]), 1.0)
    >>> float(p.grad(np.zeros(1))[0])
    -1.0
    """

    X: np.ndarray
    y: np.ndarray
    alpha: float

    def __post_init__(self):
        check_binary_labels(self.y, "y", "logistic regression")

    def loss(self, theta):
        f = (self.X @ theta[..., None])[..., 0]
        return -np.sum(log_expit(f) * self.y + log_expit(-f) * (1 - self.y), axis=-1) \
            + 0.5 * self.alpha * np.sum(theta ** 2, axis=-1)

    def grad(self, theta):
        f = (self.X @ theta[..., None])[..., 0]
        r = expit(f) - self.y
        return (np.swapaxes(self.X, -1, -2) @ r[..., None])[..., 0] + self.alpha * theta

    def hess(self, theta):
        f = (self.X @ theta[..., None])[..., 0]
        p = expit(f)
        w = p * (1 - p)
        return np.swapaxes(self.X, -1, -2) @ (w[..., None] * self.X) + self.alpha * np.eye(theta.shape[-1])


def logistic_problem(rng, N, D, *, alpha=1.0, batch=()):
    """A random logistic-regression problem: x ~ N(0, I/D·4), y ~ Bernoulli(σ(xᵀθ_true)), θ_true ~ N(0, I)."""
    X = rng.standard_normal(batch + (N, D)) * (2.0 / np.sqrt(D))
    theta = rng.standard_normal(batch + (D,))
    y = (rng.random(batch + (N,)) < expit((X @ theta[..., None])[..., 0])).astype(float)
    return LogisticRegression(X, y, alpha)


def random_spd(rng, D, *, batch=(), scale=1.0, jitter=0.1):
    """A random symmetric positive-definite matrix A Aᵀ/D + jitter·I, times ``scale``."""
    A = rng.standard_normal(batch + (D, D))
    return scale * (A @ np.swapaxes(A, -1, -2) / D + jitter * np.eye(D))


@dataclass(frozen=True)
class StateSpaceModel:
    """x₀ ~ N(m0, P0); x_t = F x_{t−1} + w, w ~ N(0, Q); y_t = H x_t + v, v ~ N(0, R)."""

    F: np.ndarray
    Q: np.ndarray
    H: np.ndarray
    R: np.ndarray
    m0: np.ndarray
    P0: np.ndarray

    def sample(self, rng, T, batch=()):
        """Draw observations ``(*batch, T, O)`` from the model."""
        D, O = self.F.shape[-1], self.H.shape[-2]
        LQ, LR, L0 = (np.linalg.cholesky(a) for a in (self.Q, self.R, self.P0))
        x = self.m0 + (L0 @ rng.standard_normal(batch + (D, 1)))[..., 0]
        ys = np.empty(batch + (T, O))
        for t in range(T):
            if t:
                x = (self.F @ x[..., None])[..., 0] + (LQ @ rng.standard_normal(batch + (D, 1)))[..., 0]
            ys[..., t, :] = (self.H @ x[..., None])[..., 0] + (LR @ rng.standard_normal(batch + (O, 1)))[..., 0]
        return ys


def random_state_space_model(rng, D, O):
    """A random stable model: F scaled to spectral radius 0.95, random SPD Q, R, P0."""
    F = rng.standard_normal((D, D))
    F *= 0.95 / np.max(np.abs(np.linalg.eigvals(F)))
    return StateSpaceModel(F=F, Q=random_spd(rng, D, scale=0.1), H=rng.standard_normal((O, D)),
                           R=random_spd(rng, O, scale=0.5), m0=rng.standard_normal(D),
                           P0=random_spd(rng, D))


def constant_velocity_model(dt=1.0, q=0.01, r=0.5):
    """The 2-D (position, velocity) model: F = [[1, dt], [0, 1]], H = [1, 0]."""
    return StateSpaceModel(F=np.array([[1.0, dt], [0.0, 1.0]]), Q=q * np.eye(2), H=np.array([[1.0, 0.0]]),
                           R=np.array([[r]]), m0=np.zeros(2), P0=np.eye(2))
