r"""The network as a Gaussian process: the kernel :math:`\kappa(x, x') = J(x)\,\Sigma\,J(x')^\top` of an MLP.

Linearise a network's logits around a BLR solution :math:`\theta_*`,
:math:`z(x;\theta) \approx z(x;\theta_*) + J(x)(\theta - \theta_*)` with :math:`J(x) = \partial z(x;\theta)/\partial\theta`
at :math:`\theta_*` (K × P). A Gaussian :math:`\theta \sim \mathcal N(m, \Sigma)` then makes the logits a Gaussian
process whose kernel is :math:`\kappa(x, x') = J(x)\Sigma J(x')^\top` (Khan, Immer, Abedi & Korzepa 2019): the
prior's :math:`\Sigma_0 = P_0^{-1}` gives the prior kernel, the posterior's the posterior one.

At a BLR solution with the Gauss–Newton Hessian (Laplace–GGN; the fixed point of the BLR with the delta
method and :math:`\nabla^2\ell_i \approx J_i^\top\Lambda_i J_i`, Khan & Rue 2023, Sec. 4.4) the posterior is that of
a linear-Gaussian model on pseudo-data: per example, the softmax likelihood's curvature
:math:`\Lambda_i = \mathrm{diag}(p_i) - p_ip_i^\top` and its residual :math:`r_i = p_i - e_{y_i}` act as an
observation of :math:`J_i\theta` in information form, :math:`\exp(-\tfrac12\theta^\top J_i^\top\Lambda_iJ_i\theta + \theta^\top J_i^\top b_i)`,
:math:`b_i = \Lambda_iJ_i\theta_* - r_i`. GP regression with the prior kernel on these pseudo-data
(:func:`gp_predictive`) is the function-space form of the linearised-Laplace predictive: the same mean and
covariance, from an (NK × NK) system instead of a (P × P) one — the dual view of Khan & Rue (2023, Sec. 5).

>>> import numpy as np
>>> from blrkit.models import MLP
>>> net = MLP((2, 3, 2)); theta = net.init(0)
>>> network_kernel(net, theta, np.zeros((4, 2)), precision=1.0).shape
(4, 2, 4, 2)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.linalg import cho_factor, cho_solve

from blrkit._validation import as_float_array, check_count, check_spd
from blrkit.algorithms._common import check_rng
from blrkit.duality.sites import prior_matrix
from blrkit.models.mlp import MLP, derivative_from_output, softmax_probabilities

__all__ = ["GPPredictive", "ggn_precision", "gp_predictive", "network_jacobian", "network_kernel"]

#: the paper anchor of this module (:data:`blrkit.paper.ANCHORS`)
ANCHOR = "dnn2gp"


def _check_net(net, theta):
    if not isinstance(net, MLP):
        raise TypeError(f"net must be a blrkit.models.MLP, got {type(net).__name__}")
    theta = as_float_array(theta, "theta")
    if theta.shape != (net.n_params,):
        raise ValueError(f"theta must be one parameter vector of shape ({net.n_params},) for sizes {net.sizes}, "
                         f"got shape {theta.shape}")
    return theta


def network_jacobian(net: MLP, theta, X) -> np.ndarray:
    r"""The Jacobian :math:`J(x_i) = \partial z(x_i;\theta)/\partial\theta` of the logits, ``(n, K, P)``.

    Backpropagation from each logit: :math:`\delta_L = e_k` (one per class k), then
    :math:`\delta_{l-1} = (\delta_l W_l^\top)\odot\phi'(a_{l-1})`; the rows of layer l are
    :math:`\partial z_k/\partial W_l = a_{l-1}\otimes\delta_{l,k}` and :math:`\partial z_k/\partial b_l = \delta_{l,k}`,
    in θ's layout (:meth:`~blrkit.models.MLP.unflatten`).

    >>> from blrkit.models import MLP
    >>> net = MLP((2, 3, 2)); theta = net.init(0)
    >>> J = network_jacobian(net, theta, np.ones((1, 2)))
    >>> J.shape, bool(np.array_equal(J[0, :, -2:], np.eye(2)))   # ∂z/∂b_L = I
    ((1, 2, 17), True)
    """
    theta = _check_net(net, theta)
    X = net._inputs(X)
    acts, _ = net._forward(theta, X)
    n, K = X.shape[0], net.n_classes
    layers = net._layers(theta)
    delta = np.broadcast_to(np.eye(K), (n, K, K))     # δ_L = e_k for each logit k, (n, K, K)
    deltas = [delta]
    for (W, _), a in zip(layers[:0:-1], acts[:0:-1]):
        # δ_{l-1} = (δ_l W_lᵀ) ⊙ φ'(a_{l-1})
        delta = (delta @ W.T) * derivative_from_output(a, net.activation)[:, None, :]
        deltas.append(delta)
    J = np.empty((n, K, net.n_params))
    for (w, b, p, q), a, d in zip(net._slices, acts, deltas[::-1]):
        # ∂z_k/∂W_l = a_{l-1} ⊗ δ_{l,k},  ∂z_k/∂b_l = δ_{l,k}
        J[:, :, w:b] = (a[:, None, :, None] * d[:, :, None, :]).reshape(n, K, p * q)
        J[:, :, b:b + q] = d
    return net._finite(J, theta, X, "Jacobian")  # X's fast path skips its scan: a NaN is named here


def _covariance_solver(precision, P: int):
    """Σ v = precision⁻¹ v for a scalar, a ``(P,)`` diagonal or a ``(P, P)`` SPD precision (Cholesky, no inverse)."""
    S = as_float_array(precision, "precision")
    if S.ndim == 0 or S.shape == (P,):
        if np.any(S <= 0):
            raise ValueError("precision must be positive")
        s = S if S.ndim else np.full(P, float(S))
        return lambda v: v / s[:, None]
    if S.shape != (P, P):
        raise ValueError(f"precision must be a scalar, a ({P},) diagonal or a ({P}, {P}) matrix for a network "
                         f"with P = {P} parameters, got shape {S.shape}")
    c = cho_factor(check_spd(S, "precision"))  # symmetric first (no silent symmetrisation), then definite
    return lambda v: cho_solve(c, v)


def network_kernel(net: MLP, theta, X1, X2=None, *, precision) -> np.ndarray:
    r"""The kernel :math:`\kappa(x, x') = J(x)\,\Sigma\,J(x')^\top` of the network linearised at θ, ``(n1, K, n2, K)``.

    Parameters
    ----------
    net : MLP
    theta : (P,)
        The linearisation point (a BLR solution's mean).
    X1, X2 : (n1, d_0), (n2, d_0)
        Inputs; ``X2`` defaults to ``X1``.
    precision : float, (P,) or (P, P)
        :math:`\Sigma^{-1}`: a prior precision δ (the prior kernel), a diagonal posterior precision (VOGN,
        IVON) or a full one (:func:`ggn_precision`).

    Returns
    -------
    ndarray (n1, K, n2, K)
        ``κ[i, k, j, l]`` = Cov[z_k(x_i), z_l(x_j)].

    References
    ----------
    ``cite("dnn2gp")``: Khan, Immer, Abedi & Korzepa 2019 (NeurIPS), "Approximate inference turns deep networks
    into Gaussian processes".
    """
    theta = _check_net(net, theta)
    solve = _covariance_solver(precision, net.n_params)
    J1 = network_jacobian(net, theta, X1)
    J2 = J1 if X2 is None else network_jacobian(net, theta, X2)
    n1, K, P = J1.shape
    n2 = J2.shape[0]
    # κ = J1 Σ J2ᵀ with Σ J2ᵀ by a solve
    return (J1.reshape(n1 * K, P) @ solve(J2.reshape(n2 * K, P).T)).reshape(n1, K, n2, K)


def _softmax_curvature(net, theta, X, y):
    """Per example p_i, Λ_i = diag(p_i) − p_i p_iᵀ ``(N, K, K)`` and r_i = p_i − e_{y_i}."""
    X, y = net._data(X, y)
    p = softmax_probabilities(net.logits(theta, X))
    Lam = p[:, :, None] * np.eye(net.n_classes) - p[:, :, None] * p[:, None, :]
    r = p.copy()
    r[np.arange(len(y)), y] -= 1.0
    return X, Lam, r


def ggn_precision(net: MLP, theta, X, y, *, prior_precision) -> np.ndarray:
    r"""The Laplace–GGN posterior precision :math:`S = P_0 + \sum_i J_i^\top\Lambda_iJ_i`, ``(P, P)``.

    The precision of the BLR's delta-method fixed point with the Gauss–Newton Hessian of the cross-entropy,
    :math:`\Lambda_i = \mathrm{diag}(p_i) - p_ip_i^\top` (Khan & Rue 2023, Sec. 4.4); ``prior_precision`` a scalar
    δ, a ``(P,)`` diagonal or a ``(P, P)`` matrix.
    """
    theta = _check_net(net, theta)
    X, Lam, _ = _softmax_curvature(net, theta, X, y)
    J = network_jacobian(net, theta, X)
    P0 = prior_matrix(prior_precision, net.n_params, ())
    P = net.n_params
    # Σ_i J_iᵀ Λ_i J_i as one (NK × P)ᵀ (NK × P) product
    return P0 + J.reshape(-1, P).T @ (Lam @ J).reshape(-1, P)


class GPPredictive(NamedTuple):
    """The Gaussian predictive of the logits at test inputs: ``mean`` ``(n, K)``, ``covariance`` ``(n, K, K)``."""

    mean: np.ndarray
    covariance: np.ndarray

    def probabilities(self, n_samples: int = 256, rng=0) -> np.ndarray:
        r""":math:`\mathbb E[\mathrm{softmax}(z)]` under the Gaussian logits, by ``n_samples`` Monte-Carlo draws, ``(n, K)``."""
        n_samples, rng = check_count(n_samples, "n_samples"), check_rng(rng)
        n, K = self.mean.shape
        L = np.linalg.cholesky(self.covariance + 1e-12 * np.eye(K))  # Λ's null direction: κ may be singular
        z = self.mean[None] + (L[None] @ rng.standard_normal((n_samples, n, K, 1)))[..., 0]
        return softmax_probabilities(z).mean(0)


def gp_predictive(net: MLP, theta, X_train, y_train, X_test, *, prior_precision) -> GPPredictive:
    r"""The GP posterior of the logits at ``X_test``: the network linearised at θ, its prior kernel, and the
    training data as Gaussian pseudo-observations (Khan et al. 2019).

    .. math::

        \mathbb E[z_*] = c_* + K_{*X}(I + \Lambda K_{XX})^{-1}b, \qquad
        \mathrm{Cov}[z_*] = K_{**} - K_{*X}\Lambda^{1/2}B^{-1}\Lambda^{1/2}K_{X*},

    with :math:`K = J P_0^{-1} J^\top` the prior kernel over the NK training logits, :math:`\Lambda` the block
    diagonal of the :math:`\Lambda_i`, :math:`B = I + \Lambda^{1/2}K_{XX}\Lambda^{1/2}` (SPD, a Cholesky solve
    although Λ is singular), :math:`b_i = \Lambda_iJ_i\theta - r_i` and the offset
    :math:`c_* = z(x_*;\theta) - J_*\theta`. At a MAP θ the mean is the network's logits and the covariance
    :math:`J_*S^{-1}J_*^\top` with S the Laplace–GGN precision (:func:`ggn_precision`): the linearised-Laplace
    predictive in function space.

    >>> from blrkit.models import MLP
    >>> net = MLP((2, 3, 2)); theta = net.init(0)
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]); y = np.array([0, 1, 1])
    >>> gp = gp_predictive(net, theta, X, y, X[:2], prior_precision=1.0)
    >>> gp.mean.shape, gp.covariance.shape
    ((2, 2), (2, 2, 2))
    """
    theta = _check_net(net, theta)
    X, Lam, r = _softmax_curvature(net, theta, X_train, y_train)
    P = net.n_params
    P0 = prior_matrix(prior_precision, P, ())
    c0 = cho_factor(P0)
    J = network_jacobian(net, theta, X)
    Js = network_jacobian(net, theta, X_test)
    N, K, _ = J.shape
    n = Js.shape[0]
    Jf, Jsf = J.reshape(N * K, P), Js.reshape(n * K, P)
    K_xx = Jf @ cho_solve(c0, Jf.T)                     # prior kernel J P₀⁻¹ Jᵀ, (NK, NK)
    K_sx = Jsf @ cho_solve(c0, Jf.T)                    # (nK, NK)
    K_ss = np.einsum("ikp,ilp->ikl", Js, cho_solve(c0, Jsf.T).T.reshape(n, K, P))
    # Λ^{1/2} per example (Λ_i is PSD, singular along 1)
    w, V = np.linalg.eigh(Lam)
    half = np.einsum("nij,nj,nkj->nik", V, np.sqrt(np.clip(w, 0.0, None)), V)
    Lh = np.zeros((N * K, N * K))
    for i in range(N):
        Lh[i * K:(i + 1) * K, i * K:(i + 1) * K] = half[i]
    B = np.eye(N * K) + Lh @ K_xx @ Lh
    try:
        cB = cho_factor(B)
    except np.linalg.LinAlgError:  # B ⪰ I in exact arithmetic: only rounding at a huge kernel breaks it
        raise ValueError(f"the prior kernel J P₀⁻¹ Jᵀ reaches {np.max(np.abs(K_xx)):.3g}, beyond what float64 resolves "
                         "beside the identity in B = I + Λ^½KΛ^½ (no longer positive definite in rounding): take a "
                         f"larger prior_precision (or a smaller theta: |theta| up to {np.max(np.abs(theta)):.3g})") \
            from None
    b = (np.einsum("nkl,nlp,p->nk", Lam, J, theta) - r).reshape(N * K)
    # (I + ΛK)⁻¹ b = b − Λ^{1/2} B⁻¹ Λ^{1/2} K b
    v = b - Lh @ cho_solve(cB, Lh @ (K_xx @ b))
    offset = net.logits(theta, X_test) - Js @ theta
    mean = offset + (K_sx @ v).reshape(n, K)
    A = Lh @ K_sx.T                                      # Λ^{1/2} K_{X*}, (NK, nK)
    M = cho_solve(cB, A)
    # the diagonal blocks of Aᵀ B⁻¹ A only: (n, K, K)
    cov = K_ss - np.einsum("jik,jil->ikl", A.reshape(N * K, n, K), M.reshape(N * K, n, K))
    return GPPredictive(mean, 0.5 * (cov + np.swapaxes(cov, -1, -2)))
