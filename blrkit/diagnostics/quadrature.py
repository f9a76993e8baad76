r"""The numeric core of the diagnostics: expectations under a Gaussian, and the exact posterior on a grid.

Two integrals answer every question about an approximation of the Bayesian learning rule
(Khan & Rue 2023, Sec. 1.2–1.3):

- under a Gaussian candidate :math:`q = \mathcal N(m, S^{-1})`, the expectations
  :math:`\mathbb E_q[\nabla\bar\ell]` and :math:`\mathbb E_q[\nabla^2\bar\ell]` that make up its natural
  gradient (Bonnet's and Price's theorems). Gauss–Hermite product rules, exact for polynomials of
  degree < 2K in each coordinate, for D ≤ 3; Monte Carlo with a fixed seed beyond;
- under the exact posterior :math:`p(\theta\mid\mathcal D) = e^{-\bar\ell(\theta)}/Z`, its moments, its
  normaliser Z and the KL divergences to a Gaussian: a tensor Gauss–Legendre rule on a box around the
  posterior, for D ≤ 2.

The exact Gaussian variational posterior (:func:`gaussian_vi`) is the BLR run with these exact
expectations to its fixed point. Nothing here depends on the symbolic engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.special import logsumexp, roots_hermitenorm, roots_legendre

from blrkit._validation import as_float_array, check_count, check_flag, check_instance, check_scalar
from blrkit.diagnostics.problem import Problem, check_problem, check_state

__all__ = ["ExactPosterior", "GaussianFit", "exact_posterior", "gaussian_entropy", "gaussian_expectation",
           "gaussian_rule", "gaussian_vi"]

#: largest D for the Gauss–Hermite product rule (K^D nodes); Monte Carlo beyond
MAX_HERMITE_DIM = 3
#: largest D for the exact posterior on a tensor grid
MAX_GRID_DIM = 2
#: Monte-Carlo sample size beyond MAX_HERMITE_DIM (fixed seed: the same nodes for the same q)
N_MONTE_CARLO = 1 << 14
#: the unnormalised posterior density at the box's outermost nodes, relative to its maximum, above which
#: the box is said to cut off mass
EDGE_DENSITY = 1e-12


#: most Gauss–Hermite points per axis accepted (K^D nodes, D ≤ 3: 10⁶ at most)
MAX_ORDER = 100
#: most Gauss–Legendre points per axis of the exact posterior's grid (K^D nodes, D ≤ 2: 10⁶ at most)
MAX_GRID_NODES = 1000


def check_order(order):
    """``None`` (each D's default) or an integer number of Gauss–Hermite points per axis in [1, MAX_ORDER]."""
    return None if order is None else check_count(order, "order", 1, MAX_ORDER)


def _hermite_order(D: int) -> int:
    return {1: 40, 2: 24, 3: 12}[D]


@lru_cache(maxsize=None)
def _hermite_product(K: int, D: int):
    """The probabilists' Gauss–Hermite product rule: points z ``(K^D, D)``, weights summing to 1 (computed once)."""
    t, w = roots_hermitenorm(K)
    w = w / np.sqrt(2.0 * np.pi)
    z = np.stack(np.meshgrid(*([t] * D), indexing="ij"), -1).reshape(-1, D)
    weights = np.prod(np.stack(np.meshgrid(*([w] * D), indexing="ij"), -1).reshape(-1, D), -1)
    z.flags.writeable = weights.flags.writeable = False
    return z, weights


@lru_cache(maxsize=None)
def _legendre(K: int):
    """K-point Gauss–Legendre rule on [−1, 1] (computed once; SciPy's tridiagonal solver, ~10× NumPy's dense one at
    K = 400)."""
    t, w = roots_legendre(K)
    t.flags.writeable = w.flags.writeable = False
    return t, w


def gaussian_rule(m, S, *, order: int | None = None):
    r"""Nodes θ ``(K, D)`` and weights ``(K,)`` with :math:`\sum_k w_k f(\theta_k) \approx \mathbb E_{\mathcal N(m, S^{-1})}[f]`.

    θ_k = m + L^{-T} z_k with :math:`S = LL^\top` and z_k the probabilists' Gauss–Hermite product rule of
    ``order`` points per axis (D ≤ 3), or N_MONTE_CARLO standard normal draws (seed 0) for D > 3.
    Returns ``(nodes, weights, method)``, ``method`` a short description.

    >>> nodes, w, how = gaussian_rule(np.array([1.0]), np.array([[4.0]]))
    >>> round(float(w @ nodes[:, 0] ** 2), 12)   # E[θ²] = m² + 1/S
    1.25
    """
    m = np.asarray(m, dtype=float)
    S = np.asarray(S, dtype=float)
    D = m.shape[-1]
    if D <= MAX_HERMITE_DIM:
        K = order or _hermite_order(D)
        z, weights = _hermite_product(K, D)
        method = f"Gauss–Hermite, {K}^{D} nodes"
    else:
        z = np.random.default_rng(0).standard_normal((N_MONTE_CARLO, D))
        weights = np.full(N_MONTE_CARLO, 1.0 / N_MONTE_CARLO)
        method = f"Monte Carlo, {N_MONTE_CARLO} samples"
    L = np.linalg.cholesky(S)
    # θ = m + L^{-T} z, so Cov θ = L^{-T} L^{-1} = S^{-1}
    nodes = m + np.linalg.solve(L.T, z.T).T  # (scipy's solve_triangular costs ~15 ms a call here, NumPy's solve 20 µs)
    return nodes, weights, method


def gaussian_expectation(problem: Problem, what: str, m, S, *, order: int | None = None) -> np.ndarray:
    r""":math:`\mathbb E_{\mathcal N(m, S^{-1})}[\,\cdot\,]` of the problem's ``what`` (``"loss"``, ``"grad"``,
    ``"hess"``, ``"predict"``) by :func:`gaussian_rule`."""
    nodes, w, _ = gaussian_rule(m, S, order=order)
    return np.tensordot(w, problem.evaluate(what, nodes), axes=1)


def gaussian_entropy(S) -> float:
    r""":math:`\mathcal H[\mathcal N(m, S^{-1})] = \tfrac D2\log(2\pi e) - \tfrac12\log\det S`."""
    S = np.asarray(S, dtype=float)
    logdet = 2.0 * np.sum(np.log(np.diag(np.linalg.cholesky(S))))
    return 0.5 * S.shape[-1] * np.log(2.0 * np.pi * np.e) - 0.5 * logdet


def gaussian_log_density(theta, m, S) -> np.ndarray:
    """log N(θ; m, S⁻¹) for θ ``(n, D)``."""
    L = np.linalg.cholesky(S)
    r = (theta - m) @ L                               # (θ − m)ᵀ L: its squared norm is (θ − m)ᵀ S (θ − m)
    D = S.shape[-1]
    return -0.5 * np.sum(r * r, -1) - 0.5 * D * np.log(2.0 * np.pi) + np.sum(np.log(np.diag(L)))


class GaussianFit(NamedTuple):
    """A Gaussian fixed point: mean ``(D,)``, precision ``(D, D)``, steps taken, and whether it converged."""

    mean: np.ndarray
    precision: np.ndarray
    n_steps: int
    converged: bool


def gaussian_vi(problem: Problem, m0=None, S0=None, *, diagonal: bool = False, rho: float = 0.5,
                tol: float = 1e-10, max_steps: int = 2000, order: int | None = None) -> GaussianFit:
    r"""The Gaussian variational posterior :math:`\arg\min_q \mathbb E_q[\bar\ell] - \mathcal H[q]`, by the BLR
    with exact expectations.

    .. math::

        \hat H_t = \mathbb E_{q_t}[\nabla^2\bar\ell], \quad
        S_{t+1} = S_t + \rho(\hat H_t - S_t) + \tfrac{\rho^2}{2}(\hat H_t - S_t)S_t^{-1}(\hat H_t - S_t), \quad
        m_{t+1} = m_t - \rho S_{t+1}^{-1}\mathbb E_{q_t}[\nabla\bar\ell]

    (the improved BLR of Lin, Schmidt & Khan 2020: S stays positive definite on a non-convex ℓ̄; its
    fixed point is the plain BLR's, :math:`\mathbb E_q[\nabla\bar\ell] = 0`, :math:`S = \mathbb E_q[\nabla^2\bar\ell]`).
    ``diagonal=True`` keeps the diagonal of :math:`\hat H` (mean-field VI). Stops when the Mahalanobis
    size of the mean step and the relative change of S are both below ``tol``. Starts at ``m0`` (zero)
    and ``S0`` (the Hessian at ``m0`` if it is positive definite, else I).

    >>> A = np.array([[2.0, 0.9], [0.9, 1.0]])
    >>> p = Problem(lambda t: 0.5 * np.einsum("...i,ij,...j->...", t - 1, A, t - 1), lambda t: (t - 1) @ A,
    ...             lambda t: np.broadcast_to(A, t.shape[:-1] + (2, 2)), dim=2)
    >>> fit = gaussian_vi(p)
    >>> bool(np.allclose(fit.mean, 1.0) and np.allclose(fit.precision, A))
    True
    """
    check_problem(problem)
    D = problem.dim
    m, S = check_state(problem, np.zeros(D) if m0 is None else m0, S0, ("m0", "S0"))
    diagonal, order = check_flag(diagonal, "diagonal"), check_order(order)
    rho = check_scalar(rho, "rho", low=0.0, high=1.0, closed_high=True)
    tol, max_steps = check_scalar(tol, "tol", low=0.0), check_count(max_steps, "max_steps")
    if S0 is None:
        H = problem.evaluate("hess", m[None])[0]
        S = H if np.all(np.linalg.eigvalsh(0.5 * (H + H.T)) > 0) else np.eye(D)
    if diagonal:
        S = np.diag(np.diag(S))
    for t in range(1, max_steps + 1):
        nodes, w, _ = gaussian_rule(m, S, order=order)
        Eg = w @ problem.evaluate("grad", nodes)
        EH = np.tensordot(w, problem.evaluate("hess", nodes), axes=1)
        EH = 0.5 * (EH + EH.T)
        if diagonal:
            EH = np.diag(np.diag(EH))
        G = EH - S
        S_new = S + rho * G + 0.5 * rho ** 2 * G @ np.linalg.solve(S, G)
        S_new = 0.5 * (S_new + S_new.T)
        c = cho_factor(S_new)
        step = rho * cho_solve(c, Eg)
        m = m - step
        change = np.linalg.norm(S_new - S) / np.linalg.norm(S_new)
        S = S_new
        if np.sqrt(step @ S @ step) < tol and change < tol:
            return GaussianFit(m, S, t, True)
    return GaussianFit(m, S, max_steps, False)


@dataclass(frozen=True)
class ExactPosterior:
    r""":math:`p(\theta\mid\mathcal D) = e^{-\bar\ell(\theta)}/Z` on a tensor Gauss–Legendre grid.

    Attributes
    ----------
    nodes : (n, D)
    weights : (n,)
        Quadrature weight times normalised density: :math:`\sum_k w_k f(\theta_k) \approx \mathbb E_p[f]`.
    log_density : (n,)
        :math:`\log p(\theta_k\mid\mathcal D)`.
    log_normaliser : float
        log Z.
    bounds : (D, 2)
        The box.
    """

    nodes: np.ndarray
    weights: np.ndarray
    log_density: np.ndarray
    log_normaliser: float
    bounds: np.ndarray
    n_nodes: int

    @property
    def mean(self) -> np.ndarray:
        return self.weights @ self.nodes

    @property
    def covariance(self) -> np.ndarray:
        r = self.nodes - self.mean
        return (self.weights[:, None] * r).T @ r

    def expect(self, values) -> np.ndarray:
        """:math:`\\mathbb E_p[f]` from f at the nodes, ``(n, ...)``."""
        values = as_float_array(values, "values", min_ndim=1)
        if values.shape[0] != len(self.weights):
            raise ValueError(f"values must hold f at the {len(self.weights)} nodes on axis 0, got shape {values.shape}")
        return np.tensordot(self.weights, values, axes=1)

    def kl_to(self, m, S) -> float:
        r""":math:`\mathrm{KL}(p\,\|\,q) = \mathbb E_p[\log p - \log q]`, q = N(m, S⁻¹)."""
        m, S = check_state(_Dim(self.nodes.shape[1]), m, S)
        return float(self.weights @ (self.log_density - gaussian_log_density(self.nodes, m, S)))

    def kl_from(self, problem: Problem, m, S) -> float:
        r""":math:`\mathrm{KL}(q\,\|\,p) = \mathbb E_q[\bar\ell] - \mathcal H[q] + \log Z`, q = N(m, S⁻¹): the
        quantity Gaussian VI minimises."""
        check_problem(problem)
        m, S = check_state(problem, m, S)
        return float(gaussian_expectation(problem, "loss", m, S) - gaussian_entropy(S) + self.log_normaliser)


class _Dim(NamedTuple):
    """The dimension of an exact posterior's nodes, for :func:`check_state` (which reads ``dim`` and ``name``)."""

    dim: int
    name: str = "exact posterior"


def exact_posterior(problem: Problem, *, bounds=None, n_nodes: int | None = None, width: float = 10.0,
                    guess: GaussianFit | None = None) -> ExactPosterior:
    r"""The exact posterior of a problem with D ≤ 2 by Gauss–Legendre quadrature on a box.

    The box is ``bounds`` (``(D, 2)``), or ``guess.mean`` ± ``width`` marginal standard deviations of
    ``guess`` (default: :func:`gaussian_vi`). ``n_nodes`` per axis (default 400 for D = 1, 160 for D = 2).
    ``ValueError`` if D > 2, if ℓ̄ is not finite on the box, or if the density at the box's edge is above
    EDGE_DENSITY of its maximum (the box cuts off mass: give wider ``bounds``).

    >>> p = Problem(lambda t: 0.5 * t[..., 0] ** 2, lambda t: t, lambda t: np.ones(t.shape[:-1] + (1, 1)), dim=1)
    >>> post = exact_posterior(p)
    >>> bool(abs(post.log_normaliser - 0.5 * np.log(2 * np.pi)) < 1e-12), round(float(post.covariance[0, 0]), 12)
    (True, 1.0)
    """
    check_problem(problem)
    D = problem.dim
    n_nodes = None if n_nodes is None else check_count(n_nodes, "n_nodes", 1, MAX_GRID_NODES)
    width = check_scalar(width, "width", low=0.0)
    if guess is not None:
        check_instance(guess, "guess", GaussianFit, "a GaussianFit of gaussian_vi (or None)")
    if D > MAX_GRID_DIM:
        raise ValueError(f"the exact posterior is integrated on a tensor grid for D ≤ {MAX_GRID_DIM}; the problem "
                         f"{problem.name!r} has D = {D} (compare the natural gradients instead, or reduce D)")
    K = n_nodes or {1: 400, 2: 160}[D]
    given = bounds is not None
    if bounds is None:
        fit = guess if guess is not None else gaussian_vi(problem)
        sd = np.sqrt(np.diag(np.linalg.solve(fit.precision, np.eye(D))))
        bounds = np.stack([fit.mean - width * sd, fit.mean + width * sd], -1)
    bounds = as_float_array(bounds, "bounds")
    if bounds.shape != (D, 2) or not np.all(np.isfinite(bounds)) or np.any(bounds[:, 1] <= bounds[:, 0]):
        raise ValueError(f"bounds must be ({D}, 2) finite [low, high] rows with low < high, got {bounds.tolist()}")
    for _ in range(8):
        nodes, log_w, log_unnorm, sides = _grid(problem, bounds, K)
        if not sides.any():
            break
        if given:
            raise ValueError(f"the posterior of {problem.name!r} has density above {EDGE_DENSITY:g} of its maximum "
                             f"at the edge of the box {bounds.tolist()}: give wider bounds")
        # widen each side that cuts off mass by half the box's width
        half = 0.5 * (bounds[:, 1] - bounds[:, 0])
        bounds = bounds + np.where(sides, half[:, None], 0.0) * np.array([-1.0, 1.0])
    else:
        raise ValueError(f"the posterior of {problem.name!r} keeps mass at the edge of the box {bounds.tolist()} "
                         "after widening it 8 times: is it proper (does e^{-ℓ̄} integrate)?")
    log_z = float(logsumexp(log_w + log_unnorm))
    log_density = log_unnorm - log_z
    return ExactPosterior(nodes, np.exp(log_w + log_density), log_density, log_z, bounds, K)


def _grid(problem: Problem, bounds, K: int):
    """Nodes, log weights and −ℓ̄ of the K^D Gauss–Legendre grid on ``bounds``, and which sides ``(D, 2)`` of the
    box hold density above EDGE_DENSITY of the maximum."""
    D = problem.dim
    t, w = _legendre(K)
    axes = [0.5 * (lo + hi) + 0.5 * (hi - lo) * t for lo, hi in bounds]
    ws = [0.5 * (hi - lo) * w for lo, hi in bounds]
    nodes = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, D)
    log_w = np.sum(np.log(np.stack(np.meshgrid(*ws, indexing="ij"), -1).reshape(-1, D)), -1)
    log_unnorm = -problem.evaluate("loss", nodes)
    grid = log_unnorm.reshape((K,) * D) - log_unnorm.max()
    sides = np.array([[np.take(grid, 0, axis=a).max(), np.take(grid, -1, axis=a).max()] for a in range(D)])
    return nodes, log_w, log_unnorm, sides > np.log(EDGE_DENSITY)
