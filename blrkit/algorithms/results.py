"""Result types of the algorithm drivers: immutable, NumPy arrays only.

A Gaussian posterior is stored as (mean, precision), the BLR's own parameters
(Khan & Rue 2023, Sec. 1.3); the covariance is derived on demand by a Cholesky
solve, never by ``inv``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

__all__ = [
    "GaussianPosterior",
    "GradientDescentResult",
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
    L = np.linalg.cholesky(precision)
    eye = np.broadcast_to(np.eye(precision.shape[-1]), precision.shape)
    L_inv = np.linalg.solve(L, eye)
    return np.swapaxes(L_inv, -1, -2) @ L_inv


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
class KalmanFilterResult:
    """Filtered marginals p(x_t | y_0..y_t): ``means`` ``(*batch, T, D)``,
    ``covariances`` ``(*batch, T, D, D)``, and ``log_likelihood`` ``(*batch,)`` = log p(y_0..y_{T-1})."""

    means: np.ndarray
    covariances: np.ndarray
    log_likelihood: np.ndarray


@dataclass(frozen=True)
class KalmanSmootherResult:
    """Smoothed marginals p(x_t | y_0..y_{T-1}): ``means`` ``(*batch, T, D)``, ``covariances`` ``(*batch, T, D, D)``."""

    means: np.ndarray
    covariances: np.ndarray
