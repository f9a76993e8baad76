r"""Local natural parameters: the posterior of a GLM as a product of per-example Gaussian sites.

At a stationary point of the Bayesian learning rule with a full Gaussian candidate
:math:`q_* = \mathcal N(m, S^{-1})` and a Gaussian prior :math:`p_0 = \mathcal N(m_0, P_0^{-1})`
in the same family, the natural parameter is the prior's plus one term per example
(Khan & Rue 2023, Sec. 5; derivations §3):

.. math::

    \lambda_* = \lambda_0 + \sum_{i=1}^N \tilde\lambda_i, \qquad
    \tilde\lambda_i = -\nabla_\mu \mathbb E_{q_*}[\ell_i].

For a GLM loss :math:`\ell_i(\theta) = f(x_i^\top\theta, y_i)` each site is two scalars on the
feature vector :math:`x_i`: the dual variable :math:`\alpha_i = -\mathbb E_{q_*}[f'(\eta_i)]` and
the site precision :math:`\beta_i = \mathbb E_{q_*}[f''(\eta_i)]`,

.. math::

    \tilde\lambda_i^{(1)} = x_i\,(\alpha_i + \beta_i\, x_i^\top m), \qquad
    \tilde\lambda_i^{(2)} = -\tfrac12\, \beta_i\, x_i x_i^\top,

so :math:`q_* \propto p_0 \prod_i \exp\!\big(-\tfrac{\beta_i}{2}(x_i^\top\theta - \tilde y_i)^2\big)`,
a linear-Gaussian regression on pseudo-targets :math:`\tilde y_i = x_i^\top m + \alpha_i/\beta_i`.
With the delta method (ridge, Newton, Laplace) the expectations are evaluated at the mean,
:math:`\eta_i = x_i^\top m`; for the variational solution they are taken under the predictive
:math:`\eta_i \sim \mathcal N(x_i^\top m, x_i^\top S^{-1} x_i)` by Gauss–Hermite quadrature.
Removing an example subtracts its site: the cavity :math:`\lambda_* - \tilde\lambda_i`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from scipy.linalg import solve_triangular

from blrkit._validation import check_choice, check_scalar, check_spd, reject_complex
from blrkit.algorithms.results import GaussianPosterior, NewtonResult
from blrkit.duality.likelihoods import Likelihood, check_nodes, gauss_hermite_expectation, get_likelihood

__all__ = ["LocalParameters", "local_parameters", "predictive_variance"]

METHODS = ("delta", "variational")

#: Rows of X handled at once by the O(N D²) quadratic forms: bounds their temporaries to CHUNK·D.
CHUNK = 1 << 14


def float_view(a, name: str) -> np.ndarray:
    """``a`` as a float array without copying a float64 input (large data is only read)."""
    if a is None:
        raise TypeError(f"{name} is required: got None, expected an array of real numbers")
    reject_complex(a, name)
    try:
        return np.asarray(a, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of real numbers, got {type(a).__name__}") from None


def posterior_parts(posterior):
    if isinstance(posterior, NewtonResult):
        return np.asarray(posterior.means[-1], float), np.asarray(posterior.precisions[-1], float)
    if isinstance(posterior, GaussianPosterior):
        return np.asarray(posterior.mean, float), np.asarray(posterior.precision, float)
    raise TypeError("posterior must be a GaussianPosterior (ridge, laplace, fit_glm) or a NewtonResult "
                    f"(newton, variational_newton: its last iterate), got {type(posterior).__name__}")


def prior_matrix(prior_precision, D: int, batch) -> np.ndarray:
    """P₀ as ``(*batch, D, D)`` (broadcast view) from a scalar δ, a diagonal ``(D,)`` or a matrix."""
    P = float_view(prior_precision, "prior_precision")
    if not np.isfinite(P).all():
        raise ValueError("prior_precision must be finite")
    if P.ndim == 0 or (P.ndim >= 1 and P.shape[-1:] == (D,) and (P.ndim == 1 or P.shape[-2:] != (D, D))):
        if np.any(P <= 0):
            raise ValueError("prior_precision must be positive")
        P = P[..., None] * np.eye(D) if P.ndim else float(P) * np.eye(D)
    if P.shape[-2:] != (D, D):
        raise ValueError(f"prior_precision must be a scalar, a ({D},) diagonal or a ({D}, {D}) matrix, "
                         f"got shape {P.shape}")
    check_spd(P, "prior_precision")  # symmetry first: a Cholesky factorisation reads one triangle only
    try:
        return np.broadcast_to(P, tuple(batch) + (D, D))
    except ValueError:
        raise ValueError(f"prior_precision {P.shape} does not match the batch shape {tuple(batch)}") from None


def check_prior_mean(prior_mean, D: int) -> np.ndarray:
    """m₀ ``(*batch, D)``, finite, or ``ValueError`` naming ``prior_mean``."""
    m0 = float_view(prior_mean, "prior_mean")
    if m0.shape[-1:] != (D,) or not np.isfinite(m0).all():
        raise ValueError(f"prior_mean must be a finite (*batch, {D}) array, got shape {m0.shape}")
    return m0


def matvec(A, v):
    return (A @ v[..., None])[..., 0]


def rmatvec(X, r):
    """Xᵀ r for X ``(*batch, N, D)`` and r ``(*batch, N)``."""
    return (r[..., None, :] @ X)[..., 0, :]


def predictive_variance(X, precision) -> np.ndarray:
    r""":math:`v_i = x_i^\top S^{-1} x_i = \|L^{-1}x_i\|^2` for every row, with :math:`S = LL^\top`.

    O(N D²) time, O(N + CHUNK·D) memory: rows are solved in chunks against the Cholesky factor,
    never forming :math:`S^{-1}`. ``X`` ``(*batch, N, D)``, ``precision`` ``(*batch, D, D)``.

    >>> predictive_variance(np.array([[1.0, 0.0], [1.0, 1.0]]), np.diag([2.0, 4.0]))
    array([0.5 , 0.75])
    """
    X = float_view(X, "X")
    if X.ndim < 2 or not np.isfinite(X).all():
        raise ValueError(f"X must be a finite (*batch, N, D) array, got shape {X.shape}")
    P = check_spd(precision, "precision", X.shape[-1])  # symmetric first, then a Cholesky factor
    L = np.linalg.cholesky(P)
    try:
        batch = np.broadcast_shapes(X.shape[:-2], L.shape[:-2])
    except ValueError:
        raise ValueError(f"the batch shapes of X {X.shape[:-2]} and precision {L.shape[:-2]} do not broadcast") from None
    N = X.shape[-2]
    out = np.empty(batch + (N,))
    Xb = np.broadcast_to(X, batch + X.shape[-2:])
    Lb = np.broadcast_to(L, batch + L.shape[-2:])
    for idx in np.ndindex(*batch):
        for start in range(0, N, CHUNK):
            rows = Xb[idx][start:start + CHUNK]
            Z = solve_triangular(Lb[idx], rows.T, lower=True, check_finite=False)
            out[idx + (slice(start, start + CHUNK),)] = np.einsum("dn,dn->n", Z, Z)
    if not np.isfinite(out).all():
        raise ValueError(f"the predictive variances overflowed: |X| up to {np.max(np.abs(X)):.3g} against a precision "
                         f"whose smallest diagonal entry is {np.min(np.diagonal(P, axis1=-2, axis2=-1)):.3g}; rescale X")
    return out


@dataclass(frozen=True, eq=False)
class LocalParameters:
    r"""The sites of a GLM posterior (see :func:`local_parameters`); immutable, O(N·D) memory.

    Per-example arrays ``(*batch, N)``: ``eta`` :math:`x_i^\top m`, ``alpha``
    :math:`\alpha_i = -\mathbb E_q[f'(\eta_i)]`, ``beta`` :math:`\beta_i = \mathbb E_q[f''(\eta_i)]`;
    ``variance`` :math:`x_i^\top S^{-1}x_i` is computed on first use (O(N D²)). ``X`` and ``y``
    are the caller's arrays, read-only views (never copied, never written).
    """

    X: np.ndarray
    y: np.ndarray
    mean: np.ndarray
    precision: np.ndarray
    prior_mean: np.ndarray
    prior_precision: np.ndarray
    likelihood: Likelihood
    noise_variance: float
    method: str
    eta: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray
    gradient_norm: np.ndarray
    n_quadrature: int = field(default=64)

    @property
    def n(self) -> int:
        """N, the number of examples (sites)."""
        return self.X.shape[-2]

    @cached_property
    def variance(self) -> np.ndarray:
        r"""Predictive variance :math:`v_i = x_i^\top S^{-1} x_i` of :math:`\eta_i` under q, ``(*batch, N)``."""
        return predictive_variance(self.X, self.precision)

    @property
    def pseudo_targets(self) -> np.ndarray:
        r""":math:`\tilde y_i = x_i^\top m + \alpha_i/\beta_i`: q is the posterior of a linear-Gaussian
        regression on these targets with noise precisions :math:`\beta_i` (inf where β = 0)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.eta + self.alpha / self.beta

    def natural(self):
        r"""The sites as natural parameters: :math:`\tilde\lambda^{(1)}` ``(*batch, N, D)`` and
        :math:`\tilde\lambda^{(2)}` ``(*batch, N, D, D)``. Materialises N·D² numbers: ask for it on
        small problems only (every other method works in O(N·D))."""
        lam1 = self.X * (self.alpha + self.beta * self.eta)[..., None]
        lam2 = -0.5 * self.beta[..., None, None] * (self.X[..., :, None] * self.X[..., None, :])
        return lam1, lam2

    def site_sums(self):
        r""":math:`(\sum_i \tilde\lambda_i^{(1)}, \sum_i \tilde\lambda_i^{(2)})` in O(N D²) time and O(N·D)
        memory: :math:`X^\top(\alpha + \beta\odot\eta)` and :math:`-\tfrac12 X^\top \mathrm{diag}(\beta) X`."""
        lam1 = rmatvec(self.X, self.alpha + self.beta * self.eta)
        lam2 = -0.5 * (np.swapaxes(self.X, -1, -2) @ (self.beta[..., None] * self.X))
        return lam1, lam2

    def prior_natural(self):
        r""":math:`\lambda_0 = (P_0 m_0, -\tfrac12 P_0)`."""
        return matvec(self.prior_precision, self.prior_mean), -0.5 * self.prior_precision

    def posterior_natural(self):
        r""":math:`\lambda_* = (S m, -\tfrac12 S)`."""
        return matvec(self.precision, self.mean), -0.5 * self.precision

    def _indices(self, i) -> np.ndarray:
        idx = np.asarray(i)
        if idx.dtype == bool or not np.issubdtype(idx.dtype, np.integer) or idx.ndim > 1:
            raise ValueError(f"i must be an integer index or a 1-D array of integer indices, got {i!r}")
        idx = np.atleast_1d(idx)
        if idx.size == 0:
            raise ValueError("i must name at least one example, got an empty array")
        if np.any(idx >= self.n) or np.any(idx < -self.n):
            raise ValueError(f"i must lie in [-{self.n}, {self.n}) (N = {self.n} examples), got {i!r}")
        idx = idx % self.n
        if np.unique(idx).size != idx.size:
            raise ValueError(f"i must not repeat an example, got {i!r}")
        return idx

    def remove(self, i) -> GaussianPosterior:
        r"""The cavity: q without the site(s) of example(s) ``i`` (an index or a 1-D array of indices).

        .. math::

            S_{\setminus I} = S - \sum_{i\in I}\beta_i x_i x_i^\top, \qquad
            S_{\setminus I}\, m_{\setminus I} = S m - \sum_{i\in I} x_i(\alpha_i + \beta_i x_i^\top m).

        Exact leave-out for a Gaussian likelihood; the one-site approximation otherwise.
        """
        idx = self._indices(i)
        Xi = self.X[..., idx, :]
        a, b, e = self.alpha[..., idx], self.beta[..., idx], self.eta[..., idx]
        S = self.precision - np.swapaxes(Xi, -1, -2) @ (b[..., None] * Xi)
        rhs = matvec(self.precision, self.mean) - rmatvec(Xi, a + b * e)
        try:
            L = np.linalg.cholesky(S)
        except np.linalg.LinAlgError:
            raise ValueError(f"removing example(s) {i!r} leaves a precision that is not positive definite") from None
        z = np.linalg.solve(L, rhs[..., None])
        m = np.linalg.solve(np.swapaxes(L, -1, -2), z)[..., 0]
        return GaussianPosterior(mean=m, precision=S)


def local_parameters(X, y, posterior, *, likelihood, prior_precision, prior_mean=None, noise_variance=1.0,
                     method: str = "delta", tol: float = 1e-6, n_quadrature: int = 64) -> LocalParameters:
    r"""The local natural parameters (sites) of a GLM posterior at a BLR solution.

    .. math::

        \alpha_i = -\mathbb E_q[f'(\eta_i, y_i)], \quad \beta_i = \mathbb E_q[f''(\eta_i, y_i)], \quad
        \tilde\lambda_i = \big(x_i(\alpha_i + \beta_i x_i^\top m),\ -\tfrac12\beta_i x_i x_i^\top\big),

    so that :math:`\lambda_* = \lambda_0 + \sum_i \tilde\lambda_i` (Khan & Rue 2023, Sec. 5).
    Symbols: :math:`x_i` is row i of ``X``, :math:`y_i` of ``y``; :math:`q = \mathcal N(m, S^{-1})`
    is ``posterior``; the prior :math:`p_0 = \mathcal N(m_0, P_0^{-1})` is ``prior_mean``,
    ``prior_precision``; f is the loss of ``likelihood`` and σ² its ``noise_variance`` (Gaussian only).

    ``method="delta"`` evaluates :math:`f', f''` at :math:`\eta_i = x_i^\top m`: the sites of a ridge,
    Newton or Laplace solution. ``method="variational"`` takes the expectations under
    :math:`\eta_i \sim \mathcal N(x_i^\top m, x_i^\top S^{-1} x_i)` with ``n_quadrature``-point
    Gauss–Hermite quadrature: the sites of a variational solution (variational Newton, or
    :func:`~blrkit.duality.fit_glm` with ``method="variational"``). For the Gaussian likelihood both
    are exact and equal.

    The posterior must be a fixed point: the gradient of the objective at m,
    :math:`\|X^\top \mathbb E_q[f'] + P_0(m - m_0)\|_2`, must be at most ``tol`` (the mean half of the
    identity). The precision half, :math:`S = P_0 + \sum_i\beta_i x_i x_i^\top`, is not checked here
    (O(N D²)): :meth:`LocalParameters.site_sums` computes it.

    Parameters
    ----------
    X : array_like, shape (*batch, N, D)
        Features; read, never copied when float64.
    y : array_like, shape (*batch, N)
        Targets: real (gaussian), 0/1 labels (logistic, probit), counts (poisson).
    posterior : GaussianPosterior or NewtonResult
        ``mean`` ``(*batch, D)`` and ``precision`` ``(*batch, D, D)`` (a NewtonResult's last iterate).
    likelihood : {"gaussian", "logistic", "poisson", "probit"} or Likelihood
        A name, or a :class:`~blrkit.duality.Likelihood` of one's own (any per-example loss
        :math:`f(\eta, y)` with its first two derivatives in η).
    prior_precision : float or array_like, shape (D,) or (*batch, D, D)
        :math:`P_0`: a scalar δ (prior :math:`\mathcal N(m_0, \delta^{-1}I)`), a diagonal or a matrix.
        For :func:`~blrkit.algorithms.ridge` it is ``alpha``.
    prior_mean : array_like, shape (*batch, D), optional
        :math:`m_0`; default zero.
    noise_variance : float, default 1.0
        σ² of the Gaussian likelihood (ignored by the others).
    method : {"delta", "variational"}
    tol : float, default 1e-6
        Largest accepted gradient norm at the mean.
    n_quadrature : int, default 64
        Gauss–Hermite nodes for ``method="variational"``, in [1, 256].

    Returns
    -------
    LocalParameters

    Raises
    ------
    ValueError
        Unknown likelihood or method, shape mismatches, labels outside the likelihood's support,
        non-finite data, or a posterior that is not a fixed point (the message gives the norm).

    Examples
    --------
    Ridge regression: every site is the example's own Gaussian likelihood, β = 1/σ².

    >>> import numpy as np
    >>> from blrkit.algorithms import ridge
    >>> X = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]]); y = np.array([1.0, 2.0, 0.0])
    >>> sites = local_parameters(X, y, ridge(X, y, alpha=1.0), likelihood="gaussian", prior_precision=1.0)
    >>> sites.beta
    array([1., 1., 1.])
    >>> lam1, lam2 = sites.site_sums()
    >>> np.allclose(lam1, X.T @ y), np.allclose(-2 * lam2 + np.eye(2), sites.precision)
    (True, True)
    """
    lik = get_likelihood(likelihood)
    check_choice(method, "method", METHODS)
    tol = check_scalar(tol, "tol", low=0.0)
    n_quadrature = check_nodes(n_quadrature, "n_quadrature")
    s2 = check_scalar(noise_variance, "noise_variance", low=0.0)
    X = float_view(X, "X")
    y = float_view(y, "y")
    if X.ndim < 2 or X.shape[-1] == 0 or X.shape[-2] == 0:
        raise ValueError(f"X must be a (*batch, N, D) array with N, D >= 1, got shape {X.shape}")
    N, D = X.shape[-2:]
    if y.ndim < 1 or y.shape[-1] != N:
        raise ValueError(f"y must have shape (*batch, N) with N = {N} rows of X, got shape {y.shape}")
    m, S = posterior_parts(posterior)
    if m.ndim < 1 or m.shape[-1] != D or S.shape != m.shape + (D,):
        raise ValueError(f"posterior must have mean (*batch, {D}) and precision (*batch, {D}, {D}) for X with "
                         f"D = {D} columns, got {m.shape} and {S.shape}")
    try:
        batch = np.broadcast_shapes(X.shape[:-2], y.shape[:-1], m.shape[:-1])
    except ValueError:
        raise ValueError(f"X {X.shape}, y {y.shape} and the posterior mean {m.shape} have incompatible "
                         "batch shapes") from None
    if not (np.isfinite(m).all() and np.isfinite(S).all()):
        raise ValueError("posterior must have a finite mean and precision")
    check_spd(S, "posterior.precision")  # symmetric first: a Cholesky factorisation reads one triangle only
    P0 = prior_matrix(prior_precision, D, batch)
    m0 = np.zeros(D) if prior_mean is None else check_prior_mean(prior_mean, D)
    if not np.isfinite(y).all():
        raise ValueError("y must be finite (no NaN or inf)")
    lik.check_y(y, lik.name)

    eta = matvec(X, m)
    if not np.isfinite(eta).all():
        if not np.isfinite(X).all():
            raise ValueError("X must be finite (no NaN or inf)")
        raise ValueError("the linear predictors X m overflowed; rescale X")
    if method == "delta":
        d1, d2 = lik.d1(eta, y, s2), lik.d2(eta, y, s2)
        result_variance = None
    else:
        result_variance = predictive_variance(X, S)
        d1, d2 = gauss_hermite_expectation(
            [lambda e, yy: lik.d1(e, yy, s2), lambda e, yy: lik.d2(e, yy, s2)],
            eta, result_variance, y, n_nodes=int(n_quadrature))
    alpha, beta = -np.broadcast_to(d1, eta.shape), np.broadcast_to(d2, eta.shape).copy()
    if not (np.isfinite(alpha).all() and np.isfinite(beta).all()):
        raise ValueError(f"the {lik.name} loss derivatives overflowed at the posterior mean (|Xm| too large)")
    # ∇ℓ̄(m) = Σ_i x_i E[f'(η_i)] + P₀(m − m₀): zero at a fixed point
    grad = -rmatvec(X, alpha) + matvec(P0, m - m0)
    gnorm = np.sqrt(np.sum(grad ** 2, axis=-1))
    if np.max(gnorm, initial=0.0) > tol:
        raise ValueError(f"posterior is not a fixed point of the BLR for this data, likelihood and prior: the "
                         f"gradient norm at its mean is {np.max(gnorm):.3g} > tol={tol:g} (method={method!r})")
    X, y = X.view(), np.broadcast_to(y, batch + (N,)).view()
    m, S = m.copy(), S.copy()
    for a in (alpha, beta, eta, X, y, m, S):
        a.setflags(write=False)
    out = LocalParameters(X=X, y=y, mean=m, precision=S, prior_mean=np.broadcast_to(m0, batch + (D,)),
                          prior_precision=P0, likelihood=lik, noise_variance=s2, method=method, eta=eta,
                          alpha=alpha, beta=beta, gradient_norm=gnorm, n_quadrature=int(n_quadrature))
    if result_variance is not None:
        result_variance.setflags(write=False)
        out.__dict__["variance"] = result_variance  # the quadrature needed it: keep it for the cached property
    return out
