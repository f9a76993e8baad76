"""Result types of the algorithm drivers: immutable, holding the arrays of the library the driver was given.

A Gaussian posterior is stored as (mean, precision), the BLR's own parameters
(Khan & Rue 2023, Sec. 1.3); the covariance is derived on demand by a Cholesky
solve, never by ``inv``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from blrkit._array_api import array_namespace, device, on_device

__all__ = [
    "DiagonalNewtonResult",
    "EMResult",
    "LDAResult",
    "GaussianPosterior",
    "GradientDescentResult",
    "KalmanEMResult",
    "KalmanFilterResult",
    "KalmanSmootherResult",
    "LaplacePosterior",
    "NewtonResult",
    "covariance_from_precision",
]


def covariance_from_precision(precision: np.ndarray) -> np.ndarray:
    r"""Return :math:`S^{-1}` for a stack of SPD matrices, by Cholesky.

    With :math:`S = L L^\top`, :math:`S^{-1} = L^{-\top} L^{-1}`; the result is
    exactly symmetric.

    >>> covariance_from_precision(np.array([[4.0, 0.0], [0.0, 0.5]]))
    array([[0.25, 0.  ],
           [0.  , 2.  ]])
    """
    xp = array_namespace(precision=precision)
    L = xp.linalg.cholesky(precision)
    eye = xp.eye(precision.shape[-1], dtype=precision.dtype, device=device(precision))
    L_inv = xp.linalg.solve(L, xp.broadcast_to(eye, precision.shape))
    return L_inv.mT @ L_inv


@dataclass(frozen=True)
class GaussianPosterior:
    """q(θ) = N(mean, precision⁻¹), batched: mean ``(*batch, D)``, precision ``(*batch, D, D)``."""

    mean: np.ndarray
    precision: np.ndarray

    @cached_property
    def covariance(self) -> np.ndarray:
        """The covariance ``precision⁻¹``, ``(*batch, D, D)``, by Cholesky solve."""
        return covariance_from_precision(self.precision)


@dataclass(frozen=True)
class LaplacePosterior(GaussianPosterior):
    """A :class:`GaussianPosterior` found by iterating the BLR; ``n_steps`` steps were taken."""

    n_steps: int = 0


@dataclass(frozen=True)
class GradientDescentResult:
    """Every iterate: ``means`` ``(n_steps + 1, *batch, D)``, the first being ``m0``."""

    means: np.ndarray


@dataclass(frozen=True)
class NewtonResult:
    """Every iterate of the Gaussian BLR: ``means`` ``(n_steps + 1, *batch, D)`` and
    ``precisions`` ``(n_steps + 1, *batch, D, D)``; index 0 is the start."""

    means: np.ndarray
    precisions: np.ndarray


@dataclass(frozen=True)
class DiagonalNewtonResult:
    """Every iterate of the diagonal-Gaussian BLR: ``means`` and ``precisions`` (the diagonal of the
    precision), both ``(n_steps + 1, *batch, D)``; index 0 is the start."""

    means: np.ndarray
    precisions: np.ndarray


@dataclass(frozen=True)
class IVONResult:
    """Every iterate of IVON: ``means`` and ``hessians`` (the Hessian estimate h of the mean loss), both
    ``(n_steps + 1, *batch, D)``; index 0 is the start.  The posterior's diagonal precision is
    :attr:`precisions` = ``ess * (hessians + weight_decay)``."""

    means: np.ndarray
    hessians: np.ndarray
    ess: float
    weight_decay: float

    @property
    def precisions(self) -> np.ndarray:
        """The diagonal precision s = N_ess (h + δ) of every iterate, ``(n_steps + 1, *batch, D)``."""
        return self.ess * (self.hessians + self.weight_decay)

    def sample(self, n_samples: int, rng=None) -> np.ndarray:
        """``n_samples`` draws θ ~ q of the last iterate, ``(n_samples, *batch, D)`` (for a Bayesian model
        average of predictions)."""
        from blrkit._validation import check_count
        from blrkit.algorithms._common import check_rng

        m, s = self.means[-1, ...], self.precisions[-1, ...]  # the Array API indexes every axis
        xp = array_namespace(m=m)
        n_samples, rng = check_count(n_samples, "n_samples"), check_rng(rng)
        eps = on_device(xp, rng.standard_normal((n_samples, *m.shape)), m)
        return m + eps / xp.sqrt(s)


@dataclass(frozen=True)
class MixtureResult:
    """A mixture of Gaussians q(θ) = Σ_k π_k N(m_k, S_k⁻¹) after the last step: ``means`` ``(*batch, K, D)``,
    ``precisions`` ``(*batch, K, D, D)``, ``weights`` π ``(*batch, K)``; and every iterate in
    ``mean_path``, ``precision_path``, ``weight_path`` (a leading axis of length n_steps + 1)."""

    means: np.ndarray
    precisions: np.ndarray
    weights: np.ndarray
    mean_path: np.ndarray
    precision_path: np.ndarray
    weight_path: np.ndarray


@dataclass(frozen=True)
class EMResult:
    """Every EM iterate of a Gaussian mixture: ``weights`` ``(n_steps + 1, *batch, K)``, ``means``
    ``(…, K, D)``, ``precisions`` ``(…, K, D, D)`` (index 0 is the start), and ``log_likelihood``
    ``(n_steps + 1, *batch)``, :math:`\\sum_i \\log p(x_i\\mid\\theta_t)` at each iterate."""

    weights: np.ndarray
    means: np.ndarray
    precisions: np.ndarray
    log_likelihood: np.ndarray


@dataclass(frozen=True)
class LDAResult:
    """SVI for latent Dirichlet allocation: ``topic_word`` λ ``(n_batches + 1, K, V)`` (index 0 the start),
    ``doc_topic`` (γ of each minibatch's documents, a tuple of ``(n_b, K)`` arrays) and ``learning_rates``
    ρ_t ``(n_batches,)``."""

    topic_word: np.ndarray
    doc_topic: tuple
    learning_rates: np.ndarray


@dataclass(frozen=True)
class VMPResult:
    """Every iterate of q(μ) q(τ) = N(μ | m, S⁻¹) Gamma(τ | α, β): ``means``, ``precisions``, ``alphas``,
    ``betas``, each ``(n_steps + 1, *batch)`` (index 0 is the start), and ``elbo``, the evidence lower
    bound after every sweep ``(n_steps + 1, *batch)``."""

    means: np.ndarray
    precisions: np.ndarray
    alphas: np.ndarray
    betas: np.ndarray
    elbo: np.ndarray


@dataclass(frozen=True)
class BinaryResult:
    """Every iterate of a mean-field Bernoulli over weights in {−1, +1}: ``natural`` λ ``(n_steps + 1, *batch, P)``
    (for STE: its latent weights). :attr:`means` μ = tanh λ; :attr:`probabilities` q(w = +1) = σ(2λ)."""

    natural: np.ndarray

    @property
    def means(self) -> np.ndarray:
        return array_namespace(natural=self.natural).tanh(self.natural)

    @property
    def probabilities(self) -> np.ndarray:
        return 0.5 * (1 + array_namespace(natural=self.natural).tanh(self.natural))


@dataclass(frozen=True)
class KalmanFilterResult:
    """Filtered marginals p(x_t | y_0..y_t): ``means`` ``(*batch, T, D)``,
    ``covariances`` ``(*batch, T, D, D)``, and ``log_likelihood`` ``(*batch,)`` = log p(y_0..y_{T-1})."""

    means: np.ndarray
    covariances: np.ndarray
    log_likelihood: np.ndarray


@dataclass(frozen=True)
class KalmanSmootherResult:
    """Smoothed marginals p(x_t | y_0..y_{T-1}): ``means`` ``(*batch, T, D)``, ``covariances`` ``(*batch, T, D, D)``;
    ``cross_covariances`` ``(*batch, T-1, D, D)``, Cov(x_{t+1}, x_t | y_0..y_{T-1}), when asked for (else None)."""

    means: np.ndarray
    covariances: np.ndarray
    cross_covariances: np.ndarray | None = None


@dataclass(frozen=True)
class KalmanEMResult:
    """Parameters of a linear-Gaussian state-space model fitted by EM: the final ``F, Q, H, R, m0, P0``
    (``(*batch, D, D)``, …), their histories ``F_history`` … ``(n_steps + 1, *batch, …)`` (index 0 the
    start), and ``log_likelihood`` ``(n_steps + 1, *batch)``, that of the parameters at each index."""

    F: np.ndarray
    Q: np.ndarray
    H: np.ndarray
    R: np.ndarray
    m0: np.ndarray
    P0: np.ndarray
    F_history: np.ndarray
    Q_history: np.ndarray
    H_history: np.ndarray
    R_history: np.ndarray
    m0_history: np.ndarray
    P0_history: np.ndarray
    log_likelihood: np.ndarray


@dataclass(frozen=True)
class BetaPosterior:
    """q(θ) = Beta(alpha, beta), batched ``(*batch,)``."""

    alpha: np.ndarray
    beta: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        """E[θ] = α / (α + β)."""
        return self.alpha / (self.alpha + self.beta)

    @property
    def variance(self) -> np.ndarray:
        """Var[θ] = αβ / ((α + β)² (α + β + 1))."""
        n = self.alpha + self.beta
        return self.alpha * self.beta / (n ** 2 * (n + 1))


@dataclass(frozen=True)
class GammaPosterior:
    """q(θ) = Gamma(alpha, rate=beta), batched ``(*batch,)``."""

    alpha: np.ndarray
    beta: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        """E[θ] = α / β."""
        return self.alpha / self.beta

    @property
    def variance(self) -> np.ndarray:
        """Var[θ] = α / β²."""
        return self.alpha / self.beta ** 2


@dataclass(frozen=True)
class DirichletPosterior:
    """q(θ) = Dir(alpha), ``alpha`` ``(*batch, K)``."""

    alpha: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        """E[θ_k] = α_k / Σ_j α_j, ``(*batch, K)``."""
        return self.alpha / array_namespace(alpha=self.alpha).sum(self.alpha, axis=-1, keepdims=True)


@dataclass(frozen=True)
class NormalPosterior:
    """q(θ) = N(mean, 1/precision) for a scalar θ, batched ``(*batch,)``."""

    mean: np.ndarray
    precision: np.ndarray

    @property
    def variance(self) -> np.ndarray:
        """Var[θ] = 1 / precision."""
        return 1.0 / self.precision


@dataclass(frozen=True)
class NormalGammaPosterior:
    """q(μ, τ) = N(μ | m, (κτ)⁻¹) Gamma(τ | α, rate=β), batched ``(*batch,)``."""

    m: np.ndarray
    kappa: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        """E[μ] = m."""
        return self.m

    @property
    def precision_mean(self) -> np.ndarray:
        """E[τ] = α / β, the expected noise precision."""
        return self.alpha / self.beta


__all__ += ["BetaPosterior", "DirichletPosterior", "GammaPosterior", "NormalGammaPosterior", "NormalPosterior"]
