r"""Knowledge-adaptation priors (K-priors) for GLMs (Khan & Swaroop, NeurIPS 2021).

An old model :math:`\theta_*` was trained on data :math:`\mathcal D` with the objective
:math:`\sum_{i\in\mathcal D}\ell_i(\theta) + \tfrac12\theta^\top P_0\theta`. The K-prior keeps a
memory :math:`\mathcal M` of inputs (no labels) and the old model's predictions on them:

.. math::

    \mathcal K(\theta) = \sum_{i\in\mathcal M}\big[f(\eta_i(\theta), \hat y_i) - f(\eta_i(\theta_*), \hat y_i)\big]
        + \tfrac12(\theta - \theta_*)^\top P_0 (\theta - \theta_*), \qquad \hat y_i = A'(\eta_i(\theta_*)),

with :math:`f(\eta, y) = A(\eta) - y\eta` a canonical-link GLM loss (Gaussian, logistic, Poisson):
the function term is the Bregman divergence of A between new and old predictions (distillation
with the old model's soft labels), the weight term the old regulariser. Its gradient is

.. math::

    \nabla\mathcal K(\theta) = \sum_{i\in\mathcal M} x_i\big(A'(x_i^\top\theta) - A'(x_i^\top\theta_*)\big) + P_0(\theta - \theta_*),

and because the old gradient vanishes at :math:`\theta_*`, with the full past data as memory it
equals the gradient of the old objective at every θ: *faithful gradient reconstruction*
(derivations §4). With a partial memory the error is
:math:`\sum_{i\notin\mathcal M} x_i(A'(\eta_i) - A'(\eta_i^*)) \approx \sum_{i\notin\mathcal M}\beta_i x_i x_i^\top(\theta - \theta_*)`:
small when the forgotten points have small site precisions β_i, hence memories of memorable examples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from blrkit.duality.likelihoods import Likelihood, get_likelihood
from blrkit.duality.sites import _float_view, _matvec, _prior_matrix, _rmatvec

__all__ = ["KPrior", "QuadraticPenalty", "kprior"]


@dataclass(frozen=True)
class KPrior:
    r"""A K-prior: ``memory`` ``(M, D)``, ``old_mean`` θ* ``(D,)``, ``soft_labels`` ŷ* ``(M,)``, ``prior_precision``
    P₀ ``(D, D)``; ``loss``, ``grad``, ``hess`` take θ ``(*batch, D)``."""

    memory: np.ndarray
    old_mean: np.ndarray
    soft_labels: np.ndarray
    prior_precision: np.ndarray
    likelihood: Likelihood
    noise_variance: float = 1.0

    def _eta(self, theta):
        return theta @ self.memory.T if self.memory.shape[0] else np.zeros(np.shape(theta)[:-1] + (0,))

    def loss(self, theta) -> np.ndarray:
        r""":math:`\mathcal K(\theta)` (zero at θ*)."""
        theta = np.asarray(theta, float)
        lik, s2 = self.likelihood, self.noise_variance
        eta, eta0 = self._eta(theta), self.memory @ self.old_mean
        # f(η, ŷ) − f(η*, ŷ) = −log p(ŷ|η) + log p(ŷ|η*): the y-only constants cancel
        fn = np.sum(lik.log_density(eta0, self.soft_labels, s2) - lik.log_density(eta, self.soft_labels, s2), axis=-1)
        d = theta - self.old_mean
        return fn + 0.5 * np.einsum("...i,ij,...j->...", d, self.prior_precision, d)

    def grad(self, theta) -> np.ndarray:
        r""":math:`\sum_{\mathcal M} x_i(A'(\eta_i) - \hat y_i) + P_0(\theta - \theta_*)`."""
        theta = np.asarray(theta, float)
        r = self.likelihood.d1(self._eta(theta), self.soft_labels, self.noise_variance)
        return r @ self.memory + (theta - self.old_mean) @ self.prior_precision.T

    def hess(self, theta) -> np.ndarray:
        r""":math:`\sum_{\mathcal M} A''(\eta_i) x_i x_i^\top + P_0`."""
        theta = np.asarray(theta, float)
        eta = self._eta(theta)
        w = np.broadcast_to(self.likelihood.d2(eta, self.soft_labels, self.noise_variance), eta.shape)
        return (w[..., None, :] * self.memory.T) @ self.memory + self.prior_precision


@dataclass(frozen=True)
class QuadraticPenalty:
    r"""A weight-space penalty :math:`\tfrac12(\theta - \theta_*)^\top F(\theta - \theta_*)` (EWC with F the
    diagonal of the old precision; online Laplace with the full one)."""

    center: np.ndarray
    precision: np.ndarray

    def loss(self, theta):
        d = np.asarray(theta, float) - self.center
        return 0.5 * np.einsum("...i,ij,...j->...", d, self.precision, d)

    def grad(self, theta):
        return (np.asarray(theta, float) - self.center) @ self.precision.T

    def hess(self, theta):
        return np.broadcast_to(self.precision, np.shape(theta)[:-1] + self.precision.shape)


def kprior(memory, old_mean, *, likelihood, prior_precision, noise_variance=1.0) -> KPrior:
    r"""The K-prior of an old GLM model :math:`\theta_*` = ``old_mean`` on the inputs ``memory`` ``(M, D)``.

    .. math::

        \mathcal K(\theta) = \sum_{i\in\mathcal M} D_A\big(x_i^\top\theta \,\|\, x_i^\top\theta_*\big)
            + \tfrac12(\theta - \theta_*)^\top P_0 (\theta - \theta_*)

    (Khan & Swaroop 2021). ``likelihood`` must have a canonical link (gaussian, logistic, poisson);
    ``prior_precision`` is the old model's :math:`P_0` (scalar, diagonal or matrix). ``memory`` may
    have M = 0 rows: the K-prior is then the old weight-space regulariser alone.

    >>> import numpy as np
    >>> from blrkit.duality import fit_glm
    >>> rng = np.random.default_rng(0); X = rng.normal(size=(50, 3)); y = (X[:, 0] > 0).astype(float)
    >>> old = fit_glm(X, y, likelihood="logistic", prior_precision=1.0, tol=1e-12)
    >>> K = kprior(X, old.mean, likelihood="logistic", prior_precision=1.0)
    >>> theta = rng.normal(size=3)   # the past gradient, rebuilt from inputs and old predictions
    >>> old_grad = X.T @ (1 / (1 + np.exp(-X @ theta)) - y) + theta
    >>> bool(np.allclose(K.grad(theta), old_grad, atol=1e-10))
    True
    """
    lik = get_likelihood(likelihood)
    if lik.mean is None:
        raise ValueError(f"likelihood must have a canonical link for a K-prior (gaussian, logistic, poisson), "
                         f"got {lik.name!r}")
    M = _float_view(memory, "memory")
    th = _float_view(old_mean, "old_mean")
    if M.ndim != 2 or th.ndim != 1 or M.shape[1] != th.shape[0]:
        raise ValueError(f"memory must be (M, D) and old_mean (D,) with the same D, got {M.shape} and {th.shape}")
    if not (np.isfinite(M).all() and np.isfinite(th).all()):
        raise ValueError("memory and old_mean must be finite")
    s2 = float(noise_variance)
    P0 = np.array(_prior_matrix(prior_precision, th.shape[0], ()))
    M = M.copy()
    soft = lik.mean(M @ th, s2)
    for a in (M, th, soft, P0):
        a.setflags(write=False)
    return KPrior(memory=M, old_mean=th.copy(), soft_labels=soft, prior_precision=P0, likelihood=lik,
                  noise_variance=s2)
