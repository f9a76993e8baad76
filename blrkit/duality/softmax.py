r"""Sites of a multinomial-logistic (softmax) posterior: the K-output GLM.

With K classes, parameters :math:`\Theta \in \mathbb R^{D\times K}` (``theta`` is its row-major
flattening, index d·K + k), linear predictors :math:`\eta_i = \Theta^\top x_i \in \mathbb R^K` and loss
:math:`f(\eta, y) = \log\sum_k e^{\eta_k} - \eta_y`, the gradient and Hessian of example i are
:math:`x_i \otimes (p_i - e_{y_i})` and :math:`x_i x_i^\top \otimes B_i`,
:math:`B_i = \mathrm{diag}(p_i) - p_i p_i^\top`, :math:`p_i = \mathrm{softmax}(\eta_i)`. At a delta-method
fixed point (Laplace) the identity :math:`\lambda_* = \lambda_0 + \sum_i\tilde\lambda_i` holds with
K-dimensional sites (Khan & Rue 2023, Sec. 5):

.. math::

    \tilde\lambda_i^{(1)} = x_i \otimes (\alpha_i + B_i\eta_i), \qquad
    \tilde\lambda_i^{(2)} = -\tfrac12\, x_i x_i^\top \otimes B_i, \qquad \alpha_i = e_{y_i} - p_i,

the vector dual weight :math:`\alpha_i` and the K×K site precision :math:`B_i` in place of the binary
model's scalars. Its trace :math:`1 - \|p_i\|^2` is largest for ambiguous examples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import softmax

from blrkit._validation import check_count, check_scalar, check_spd
from blrkit.algorithms import laplace
from blrkit.algorithms.results import LaplacePosterior
from blrkit.duality.memory import MemorableExamples, check_k
from blrkit.duality.sites import float_view, posterior_parts, prior_matrix

__all__ = ["SoftmaxSites", "fit_softmax", "softmax_local_parameters"]

#: The most parameters D·K accepted: the (D·K)² precision of 2¹⁴ parameters takes 2 GB.
MAX_PARAMETERS = 1 << 14


def _check(X, y, K):
    X, y = float_view(X, "X"), float_view(y, "y")
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"X must be an (N, D) array with N, D >= 1, got shape {X.shape}")
    if y.shape != X.shape[:1]:
        raise ValueError(f"y must have shape (N,) with N = {X.shape[0]} rows of X, got shape {y.shape}")
    # θ has D·K entries and its precision (D·K)²: bounded so that a huge K is named, not a MemoryError
    K = check_count(K, "n_classes", 2, max(2, MAX_PARAMETERS // X.shape[1]))
    if not np.all((y == np.floor(y)) & (y >= 0) & (y < K)):
        raise ValueError(f"y must hold class labels 0, ..., {K - 1}")
    if not np.isfinite(X).all():
        raise ValueError("X must be finite (no NaN or inf)")
    return X, y.astype(int)


def _parts(X, y, theta, K):
    """η ``(N, K)``, p ``(N, K)`` and e_y − p ``(N, K)`` at θ ``(D·K,)``."""
    eta = X @ theta.reshape(X.shape[1], K)
    p = softmax(eta, axis=-1)
    alpha = -p
    alpha[np.arange(len(y)), y] += 1.0
    return eta, p, alpha


def _hessian(X, p):
    """Σ_i x_i x_iᵀ ⊗ B_i as a (D·K, D·K) matrix, B_i = diag(p_i) − p_i p_iᵀ."""
    N, D = X.shape
    K = p.shape[1]
    # Σ_i x_i x_iᵀ ⊗ diag(p_i)  −  Σ_i (x_i ⊗ p_i)(x_i ⊗ p_i)ᵀ
    diag = np.einsum("nd,ne,nk->dke", X, X, p, optimize=True)
    H = np.zeros((D, K, D, K))
    H[:, np.arange(K), :, np.arange(K)] = np.moveaxis(diag, 1, 0)
    Z = (X[:, :, None] * p[:, None, :]).reshape(N, D * K)
    return H.reshape(D * K, D * K) - Z.T @ Z


def fit_softmax(X, y, *, n_classes: int, prior_precision, tol: float = 1e-10, max_steps: int = 100,
                rho=1.0) -> LaplacePosterior:
    r"""The Laplace posterior of multinomial logistic regression with prior :math:`\mathcal N(0, P_0^{-1})` on
    θ ``(D·K,)``, by :func:`blrkit.algorithms.laplace` (the delta-method BLR; ρ = 1: Newton)."""
    X, y = _check(X, y, n_classes)
    D, K = X.shape[1], n_classes
    P0 = prior_matrix(prior_precision, D * K, ())

    def grad(theta):
        _, _, alpha = _parts(X, y, theta, K)
        return -(X.T @ alpha).reshape(-1) + P0 @ theta

    def hess(theta):
        _, p, _ = _parts(X, y, theta, K)
        return _hessian(X, p) + P0

    return laplace(grad, hess, np.zeros(D * K), rho=rho, tol=tol, max_steps=max_steps)


@dataclass(frozen=True, eq=False)
class SoftmaxSites:
    r"""Sites of a softmax posterior: ``eta`` and ``probabilities`` ``(N, K)``, ``alpha`` :math:`e_{y_i} - p_i`
    ``(N, K)``; :meth:`curvature` gives :math:`B_i` ``(N, K, K)``. ``X`` is the caller's array (a read-only view)."""

    X: np.ndarray
    y: np.ndarray
    mean: np.ndarray
    precision: np.ndarray
    prior_precision: np.ndarray
    eta: np.ndarray
    probabilities: np.ndarray
    alpha: np.ndarray
    gradient_norm: float

    @property
    def n_classes(self) -> int:
        return self.eta.shape[1]

    def curvature(self) -> np.ndarray:
        r""":math:`B_i = \mathrm{diag}(p_i) - p_i p_i^\top`, ``(N, K, K)``."""
        p = self.probabilities
        return p[:, :, None] * np.eye(self.n_classes) - p[:, :, None] * p[:, None, :]

    def site_sums(self):
        r""":math:`(\sum_i x_i\otimes(\alpha_i + B_i\eta_i),\ -\tfrac12\sum_i x_ix_i^\top\otimes B_i)`, flattened to
        ``(D·K,)`` and ``(D·K, D·K)`` like θ."""
        B = self.curvature()
        a = self.alpha + np.einsum("nkl,nl->nk", B, self.eta)
        return (self.X.T @ a).reshape(-1), -0.5 * _hessian(self.X, self.probabilities)

    def memorable(self, k: int = 10) -> MemorableExamples:
        r"""The split of :func:`~blrkit.duality.memorable_examples` with K-dimensional sites: outliers have the
        largest :math:`-\log p_{i, y_i}` (confidently wrong), uncertain examples the largest
        :math:`\mathrm{tr} B_i = 1 - \|p_i\|^2` among the rest, easy ones the smallest. ``memorability`` is
        :math:`\mathrm{tr} B_i`, ``residual`` :math:`-\log p_{i,y_i}`."""
        k = check_k(k, len(self.y))
        nll = -np.log(np.clip(self.probabilities[np.arange(len(self.y)), self.y], 1e-300, None))
        tr = 1.0 - np.sum(self.probabilities ** 2, axis=1)
        outlier = np.argsort(-nll, kind="stable")[:k]
        rest = np.setdiff1d(np.arange(len(self.y)), outlier)
        uncertain = rest[np.argsort(-tr[rest], kind="stable")[:k]]
        rest = np.setdiff1d(rest, uncertain)
        easy = rest[np.argsort(tr[rest], kind="stable")[:k]]
        return MemorableExamples(memorability=tr, residual=nll, easy=easy, outlier=outlier, uncertain=uncertain)


def softmax_local_parameters(X, y, posterior, *, n_classes: int, prior_precision, tol: float = 1e-6) -> SoftmaxSites:
    r"""The K-dimensional sites of a multinomial-logistic posterior at a delta-method fixed point.

    .. math::

        \alpha_i = e_{y_i} - \mathrm{softmax}(\eta_i), \quad B_i = \mathrm{diag}(p_i) - p_ip_i^\top, \quad
        \lambda_* = \lambda_0 + \sum_i \big(x_i\otimes(\alpha_i + B_i\eta_i),\ -\tfrac12 x_ix_i^\top\otimes B_i\big).

    ``posterior`` has mean ``(D·K,)`` (Θ ``(D, K)`` row-major) and precision ``(D·K, D·K)``; the prior is
    :math:`\mathcal N(0, P_0^{-1})`. The gradient at the mean must be at most ``tol`` (else ``ValueError``
    with its norm).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0); X = rng.normal(size=(60, 2)); y = np.argmax(X @ rng.normal(size=(2, 3)), 1)
    >>> post = fit_softmax(X, y, n_classes=3, prior_precision=1.0)
    >>> sites = softmax_local_parameters(X, y, post, n_classes=3, prior_precision=1.0)
    >>> lam1, lam2 = sites.site_sums()
    >>> bool(np.allclose(np.eye(6) - 2 * lam2, post.precision))   # S = P₀ + Σ x_i x_iᵀ ⊗ B_i
    True
    """
    X, y = _check(X, y, n_classes)
    tol = check_scalar(tol, "tol", low=0.0)
    D, K = X.shape[1], n_classes
    m, S = posterior_parts(posterior)
    if m.shape != (D * K,) or S.shape != (D * K, D * K):
        raise ValueError(f"posterior must have mean ({D * K},) and precision ({D * K}, {D * K}) for D = {D} "
                         f"features and K = {K} classes, got {m.shape} and {S.shape}")
    if not np.isfinite(m).all():
        raise ValueError("posterior must have a finite mean")
    check_spd(S, "posterior.precision")
    P0 = np.array(prior_matrix(prior_precision, D * K, ()))
    eta, p, alpha = _parts(X, y, m, K)
    gnorm = float(np.linalg.norm(-(X.T @ alpha).reshape(-1) + P0 @ m))
    if gnorm > tol:
        raise ValueError(f"posterior is not a fixed point of the BLR for this data and prior: the gradient norm "
                         f"at its mean is {gnorm:.3g} > tol={tol:g}")
    Xv = X.view()
    for a in (Xv, eta, p, alpha):
        a.setflags(write=False)
    return SoftmaxSites(X=Xv, y=y, mean=m.copy(), precision=S.copy(), prior_precision=P0, eta=eta, probabilities=p,
                        alpha=alpha, gradient_norm=gnorm)


