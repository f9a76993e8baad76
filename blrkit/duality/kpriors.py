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

    \nabla\mathcal K(\theta) = \sum_{i\in\mathcal M} x_i\big(A'(x_i^\top\theta) - A'(x_i^\top\theta_*)\big)
        + P_0(\theta - \theta_*),

and because the old gradient vanishes at :math:`\theta_*`, with the full past data as memory it
equals the gradient of the old objective at every θ: *faithful gradient reconstruction*
(derivations §4). With a partial memory the error is
:math:`\sum_{i\notin\mathcal M} x_i(A'(\eta_i) - A'(\eta_i^*))
\approx \sum_{i\notin\mathcal M}\beta_i x_i x_i^\top(\theta - \theta_*)`: small when the forgotten points have small site precisions β_i, hence memories of memorable examples.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from blrkit._validation import check_finite_result, check_scalar, check_spd
from blrkit.duality.likelihoods import Likelihood, get_likelihood
from blrkit.duality.sites import float_view, posterior_parts, prior_matrix

__all__ = ["KPrior", "QuadraticPenalty", "kprior", "quadratic_penalty"]


@dataclass(frozen=True, kw_only=True)
class _Adaptable:
    r"""The adaptation tasks shared by the K-prior and the quadratic penalty: a penalty
    :math:`\mathcal R(\theta)` standing for the old objective becomes
    :math:`\mathcal R(\theta) - \sum_{i\in\mathcal R} \ell_i(\theta) + \tfrac12\theta^\top(P_{\rm new} - P_0)\theta`
    after :meth:`without` (remove examples) and :meth:`with_prior` (change the regulariser).
    ``prior_precision`` is the old P₀, ``likelihood`` the old loss."""

    prior_precision: np.ndarray
    likelihood: Likelihood
    noise_variance: float = 1.0
    removed_X: np.ndarray = None
    removed_y: np.ndarray = None
    prior_change: np.ndarray = None

    def _theta(self, theta) -> np.ndarray:
        """θ ``(*batch, D)`` as floats, finite, or an error naming ``theta`` (never a NaN penalty)."""
        theta = float_view(theta, "theta")
        D = self.prior_precision.shape[-1]
        if theta.ndim < 1 or theta.shape[-1] != D:
            raise ValueError(f"theta must have shape (*batch, {D}), got {theta.shape}")
        if not np.isfinite(theta).all():
            raise ValueError("theta must be finite (no NaN or inf)")
        return theta

    def _finite(self, out, theta, what):
        """``out``, or ``ValueError`` naming the overflow and the scale of θ and of the penalty's own data (its
        memory or centre, the old prior and noise), never an inf or NaN penalty from finite inputs."""
        return check_finite_result(out, f"the {type(self).__name__}'s {what}", theta=theta, **self._scales(),
                                   prior_precision=self.prior_precision, noise_variance=self.noise_variance)

    def _extra(self, theta, order):
        X, y, dP = self.removed_X, self.removed_y, self.prior_change
        eta = theta @ X.T
        if order == 0:
            out = -np.sum(-self.likelihood.log_density(eta, y, self.noise_variance), axis=-1)
            return out + 0.5 * np.einsum("...i,ij,...j->...", theta, dP, theta)
        if order == 1:
            return -self.likelihood.d1(eta, y, self.noise_variance) @ X + theta @ dP.T
        w = np.broadcast_to(self.likelihood.d2(eta, y, self.noise_variance), eta.shape)
        return -(w[..., None, :] * X.T) @ X + dP

    def without(self, X_removed, y_removed):
        """The penalty for the old data minus the examples ``(X_removed, y_removed)``: subtract their own losses
        (they should be in the memory, or the objective may lose convexity)."""
        Xr = float_view(X_removed, "X_removed")
        yr = float_view(y_removed, "y_removed")
        D = self.prior_precision.shape[-1]
        if Xr.ndim != 2 or Xr.shape[1] != D or yr.shape != Xr.shape[:1]:
            raise ValueError(f"X_removed must be (R, {D}) and y_removed (R,), got {Xr.shape} and {yr.shape}")
        if not (np.isfinite(Xr).all() and np.isfinite(yr).all()):
            raise ValueError("X_removed and y_removed must be finite (no NaN or inf)")
        self.likelihood.check_y(yr, self.likelihood.name)
        return replace(self, removed_X=np.concatenate([self.removed_X, Xr]),
                       removed_y=np.concatenate([self.removed_y, yr]))

    def with_prior(self, prior_precision):
        """The penalty for the old data under a new Gaussian prior N(0, P_new⁻¹) instead of N(0, P₀⁻¹)."""
        D = self.prior_precision.shape[-1]
        P = np.array(prior_matrix(prior_precision, D, ()))
        return replace(self, prior_change=P - self.prior_precision)


def _empty(D):
    return np.zeros((0, D)), np.zeros(0)


@dataclass(frozen=True, kw_only=True)
class KPrior(_Adaptable):
    r"""A K-prior: ``memory`` ``(M, D)``, ``old_mean`` θ* ``(D,)``, ``soft_labels`` ŷ* ``(M,)``, ``prior_precision``
    P₀ ``(D, D)``; ``loss``, ``grad``, ``hess`` take θ ``(*batch, D)``. :meth:`without` and :meth:`with_prior`
    give the penalty of the other adaptation tasks."""

    memory: np.ndarray
    old_mean: np.ndarray
    soft_labels: np.ndarray

    def _eta(self, theta):
        return theta @ self.memory.T

    def loss(self, theta) -> np.ndarray:
        r""":math:`\mathcal K(\theta)` (zero at θ*), plus the adaptation terms."""
        theta = self._theta(theta)
        lik, s2 = self.likelihood, self.noise_variance
        eta, eta0 = self._eta(theta), self.memory @ self.old_mean
        # f(η, ŷ) − f(η*, ŷ) = −log p(ŷ|η) + log p(ŷ|η*): the y-only constants cancel
        fn = np.sum(lik.log_density(eta0, self.soft_labels, s2) - lik.log_density(eta, self.soft_labels, s2), axis=-1)
        d = theta - self.old_mean
        out = fn + 0.5 * np.einsum("...i,ij,...j->...", d, self.prior_precision, d) + self._extra(theta, 0)
        return self._finite(out, theta, "loss")

    def grad(self, theta) -> np.ndarray:
        r""":math:`\sum_{\mathcal M} x_i(A'(\eta_i) - \hat y_i) + P_0(\theta - \theta_*)`, plus the adaptation terms."""
        theta = self._theta(theta)
        r = self.likelihood.d1(self._eta(theta), self.soft_labels, self.noise_variance)
        out = r @ self.memory + (theta - self.old_mean) @ self.prior_precision.T + self._extra(theta, 1)
        return self._finite(out, theta, "gradient")

    def hess(self, theta) -> np.ndarray:
        r""":math:`\sum_{\mathcal M} A''(\eta_i) x_i x_i^\top + P_0`, plus the adaptation terms."""
        theta = self._theta(theta)
        eta = self._eta(theta)
        w = np.broadcast_to(self.likelihood.d2(eta, self.soft_labels, self.noise_variance), eta.shape)
        out = (w[..., None, :] * self.memory.T) @ self.memory + self.prior_precision + self._extra(theta, 2)
        return self._finite(out, theta, "Hessian")

    def _scales(self):
        return {"memory": self.memory, "old_mean": self.old_mean}


@dataclass(frozen=True, kw_only=True)
class QuadraticPenalty(_Adaptable):
    r"""A weight-space penalty :math:`\tfrac12(\theta - \theta_*)^\top F(\theta - \theta_*)`: EWC-like with F the
    diagonal of the old precision, online Laplace with all of it."""

    center: np.ndarray
    precision: np.ndarray

    def loss(self, theta):
        theta = self._theta(theta)
        d = theta - self.center
        return self._finite(0.5 * np.einsum("...i,ij,...j->...", d, self.precision, d) + self._extra(theta, 0),
                            theta, "loss")

    def grad(self, theta):
        theta = self._theta(theta)
        return self._finite((theta - self.center) @ self.precision.T + self._extra(theta, 1), theta, "gradient")

    def hess(self, theta):
        theta = self._theta(theta)
        return self._finite(np.broadcast_to(self.precision, theta.shape[:-1] + self.precision.shape)
                            + self._extra(theta, 2), theta, "Hessian")

    def _scales(self):
        return {"center": self.center, "precision": self.precision}


def quadratic_penalty(old_posterior, *, prior_precision, likelihood, diagonal: bool = True,
                      noise_variance=1.0) -> QuadraticPenalty:
    r"""The weight-space penalty of an old Gaussian posterior :math:`\mathcal N(\theta_*, S_*^{-1})`:
    :math:`\tfrac12(\theta-\theta_*)^\top F(\theta-\theta_*)` with :math:`F = \mathrm{diag}(S_*)` (EWC-like,
    ``diagonal=True``) or :math:`F = S_*` (online Laplace)."""
    lik = get_likelihood(likelihood)
    s2 = check_scalar(noise_variance, "noise_variance", low=0.0)
    m, S = posterior_parts(old_posterior)
    if m.ndim != 1 or not np.isfinite(m).all():
        raise ValueError(f"old_posterior must have a finite (D,) mean, got shape {m.shape}")
    S = check_spd(S, "old_posterior.precision", m.shape[0])
    m = m.copy()
    F = np.diag(np.diag(S)) if diagonal else S
    P0 = np.array(prior_matrix(prior_precision, m.shape[-1], ()))
    Xr, yr = _empty(m.shape[-1])
    return QuadraticPenalty(center=m, precision=F, prior_precision=P0, likelihood=lik,
                            noise_variance=s2, removed_X=Xr, removed_y=yr,
                            prior_change=np.zeros_like(P0))


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
    M = float_view(memory, "memory")
    th = float_view(old_mean, "old_mean")
    if M.ndim != 2 or th.ndim != 1 or M.shape[1] != th.shape[0]:
        raise ValueError(f"memory must be (M, D) and old_mean (D,) with the same D, got {M.shape} and {th.shape}")
    if not (np.isfinite(M).all() and np.isfinite(th).all()):
        raise ValueError("memory and old_mean must be finite")
    s2 = check_scalar(noise_variance, "noise_variance", low=0.0)
    P0 = np.array(prior_matrix(prior_precision, th.shape[0], ()))
    M = M.copy()
    soft = lik.mean(M @ th, s2)
    for a in (M, th, soft, P0):
        a.setflags(write=False)
    Xr, yr = _empty(th.shape[0])
    return KPrior(memory=M, old_mean=th.copy(), soft_labels=soft, prior_precision=P0, likelihood=lik,
                  noise_variance=s2, removed_X=Xr, removed_y=yr, prior_change=np.zeros_like(P0))
