"""The numeric core: Gaussian expectations, the exact posterior on a grid, and the exact Gaussian VI, against
closed forms (Gaussian targets; Poisson expectations E[e^{xᵀθ}]) and SciPy's adaptive quadrature and BFGS."""

import numpy as np
import pytest
from scipy import integrate, optimize

from blrkit.diagnostics import exact_posterior, gaussian_vi
from blrkit.diagnostics.quadrature import gaussian_expectation, gaussian_rule
from diagnostics.problems import (
    ALPHA,
    POISSON_X1,
    POISSON_X2,
    POISSON_Y1,
    POISSON_Y2,
    gaussian_kl,
    gaussian_target,
    poisson,
    poisson_expected,
    poisson_loss,
)
from diagnostics.tolerances import FIXED_POINT, MC_AVERAGE, QUADRATURE, SCIPY_QUAD, STOPPED, assert_close


@pytest.mark.parametrize("D", [1, 2, 3, 5])
def test_gaussian_rule_second_moments(rng, D):
    """Σ_k w_k θ_k θ_kᵀ = m mᵀ + S⁻¹: exact for the Gauss–Hermite rule (D ≤ 3, QUADRATURE); the Monte-Carlo
    rule beyond: its mean of 2^14 draws within MC_AVERAGE sd (standard error 0.008 sd)."""
    A = rng.normal(size=(D, D))
    S = A @ A.T + D * np.eye(D)
    m = rng.normal(size=D)
    nodes, w, method = gaussian_rule(m, S)
    second = (w[:, None] * nodes).T @ nodes
    want = np.outer(m, m) + np.linalg.inv(S)
    if D <= 3:
        assert method.startswith("Gauss–Hermite")
        assert_close(w.sum(), 1.0, QUADRATURE)
        assert_close(second, want, QUADRATURE)
    else:
        assert method.startswith("Monte Carlo")
        sd = np.sqrt(np.diag(np.linalg.inv(S)))
        assert np.all(np.abs(w @ nodes - m) / sd < MC_AVERAGE)


def test_poisson_expectations_closed_form(rng):
    """E_q[ℓ̄], E_q[∇ℓ̄], E_q[∇²ℓ̄] of a Poisson GLM by Gauss–Hermite = the closed forms through
    E[e^{xᵀθ}] = exp(xᵀm + ½xᵀΣx) (QUADRATURE); the delta method's values at m are not."""
    p = poisson(POISSON_X2, POISSON_Y2)
    m, S = np.array([0.2, -0.4]), np.array([[3.0, 1.0], [1.0, 2.0]])
    loss, grad, hess = poisson_expected(m, np.linalg.inv(S), POISSON_X2, POISSON_Y2)
    assert_close(gaussian_expectation(p, "loss", m, S), loss, QUADRATURE)
    assert_close(gaussian_expectation(p, "grad", m, S), grad, QUADRATURE)
    assert_close(gaussian_expectation(p, "hess", m, S), hess, QUADRATURE)
    assert not np.allclose(p.grad(m), grad, rtol=0.05)


def test_exact_posterior_of_a_gaussian_target(rng):
    """On ℓ̄ = ½(θ − a)ᵀA(θ − a): mean a, covariance A⁻¹, log Z = ½ log det(2πA⁻¹), KL(p‖q) and KL(q‖p) = the
    closed-form Gaussian KL (QUADRATURE)."""
    A, a = np.array([[2.0, 1.2], [1.2, 1.5]]), np.array([0.5, -1.0])
    p = gaussian_target(A, a)
    post = exact_posterior(p)
    C = np.linalg.inv(A)
    assert_close(post.mean, a, QUADRATURE)
    assert_close(post.covariance, C, QUADRATURE)
    assert_close(post.log_normaliser, 0.5 * np.linalg.slogdet(2 * np.pi * C)[1], QUADRATURE)
    m, S = np.array([0.3, -0.7]), np.array([[1.0, 0.2], [0.2, 3.0]])
    assert_close(post.kl_to(m, S), gaussian_kl(a, C, m, np.linalg.inv(S)), QUADRATURE)
    assert_close(post.kl_from(p, m, S), gaussian_kl(m, np.linalg.inv(S), a, C), QUADRATURE)


def _quad(f, lo=-30.0, hi=8.0):
    return integrate.quad(f, lo, hi, epsabs=1e-13, epsrel=1e-13, limit=200)[0]


def test_exact_posterior_skewed_against_scipy_quad():
    """A skewed 1-D Poisson posterior (4 counts): Z, mean, variance and third central moment of the grid
    against scipy.integrate.quad of the written-out density (SCIPY_QUAD)."""
    p = poisson(POISSON_X1, POISSON_Y1)
    post = exact_posterior(p)
    dens = lambda t: np.exp(-poisson_loss(np.array([t]), POISSON_X1, POISSON_Y1))  # noqa: E731
    Z = _quad(dens)
    mean = _quad(lambda t: t * dens(t)) / Z
    var = _quad(lambda t: (t - mean) ** 2 * dens(t)) / Z
    third = _quad(lambda t: (t - mean) ** 3 * dens(t)) / Z
    r = post.nodes[:, 0] - post.mean[0]
    assert_close(post.log_normaliser, np.log(Z), SCIPY_QUAD)
    assert_close(post.mean, [mean], SCIPY_QUAD)
    assert_close(post.covariance, [[var]], SCIPY_QUAD)
    assert_close(post.weights @ r ** 3, third, SCIPY_QUAD)
    assert abs(third) > 0.05 * var ** 1.5        # skewed indeed: a Gaussian has none


def _elbo_optimum(X, y, diagonal=False):
    """argmin_q E_q[ℓ̄] − H[q] over Gaussians by BFGS on the closed-form objective, Σ = LLᵀ."""
    D = X.shape[1]
    idx = np.tril_indices(D)

    def unpack(z):
        m, L = z[:D], np.zeros((D, D))
        L[idx] = z[D:]
        if diagonal:
            L = np.diag(np.diag(L))
        L[np.diag_indices(D)] = np.exp(np.diag(L))
        return m, L

    def objective(z):
        m, L = unpack(z)
        return poisson_expected(m, L @ L.T, X, y)[0] - np.sum(np.log(np.diag(L)))

    res = optimize.minimize(objective, np.zeros(D + len(idx[0])), method="BFGS", options={"gtol": 1e-10})
    m, L = unpack(res.x)
    return m, np.linalg.inv(L @ L.T)


@pytest.mark.parametrize("diagonal", [False, True])
def test_gaussian_vi_against_elbo_bfgs(diagonal):
    """The BLR with exact expectations reaches the minimiser of the closed-form Gaussian ELBO found by
    SciPy's BFGS (full and mean-field; FIXED_POINT), and meets the closed-form fixed-point conditions
    E_q[∇ℓ̄] = 0, S = E_q[∇²ℓ̄] (its diagonal for mean field) where the run stopped (STOPPED)."""
    p = poisson(POISSON_X2, POISSON_Y2)
    fit = gaussian_vi(p, diagonal=diagonal)
    m, S = _elbo_optimum(POISSON_X2, POISSON_Y2, diagonal)
    assert fit.converged
    _, g, H = poisson_expected(fit.mean, np.linalg.inv(fit.precision), POISSON_X2, POISSON_Y2)
    assert np.abs(g).max() <= STOPPED * np.abs(H).max()
    assert_close(fit.precision, np.diag(np.diag(H)) if diagonal else H, STOPPED)
    assert_close(fit.mean, m, FIXED_POINT)
    assert_close(fit.precision, S, FIXED_POINT)


def test_gaussian_vi_of_a_gaussian_target_is_exact():
    """Full VI recovers N(a, A⁻¹); mean-field VI the closed form N(a, diag(A)⁻¹) (FIXED_POINT)."""
    A, a = np.array([[2.0, 1.2], [1.2, 1.5]]), np.array([0.5, -1.0])
    p = gaussian_target(A, a)
    full, mf = gaussian_vi(p), gaussian_vi(p, diagonal=True)
    assert_close(full.mean, a, FIXED_POINT)
    assert_close(full.precision, A, FIXED_POINT)
    assert_close(mf.mean, a, FIXED_POINT)
    assert_close(mf.precision, np.diag(np.diag(A)), FIXED_POINT)


def test_bad_input():
    """D > 2, ℓ̄ not finite on R^D, a box that cuts off mass, malformed bounds: ValueError saying which."""
    p3 = gaussian_target(np.eye(3), np.zeros(3))
    with pytest.raises(ValueError, match="D = 3"):
        exact_posterior(p3)
    from blrkit.diagnostics import Problem

    # −log of a Gamma density: NaN for θ ≤ 0, not integrable by a Gaussian candidate
    with np.errstate(invalid="ignore", divide="ignore"):
        gamma = Problem(lambda t: t[..., 0] - 2 * np.log(t[..., 0]), lambda t: 1 - 2 / t,
                        lambda t: (2 / t ** 2)[..., None], 1, name="gamma")
        with pytest.raises(ValueError, match="loss of the problem 'gamma' is not finite"):
            exact_posterior(gamma, bounds=[[-1.0, 10.0]])
    p = poisson(POISSON_X1, POISSON_Y1)
    with pytest.raises(ValueError, match="edge of the box"):
        exact_posterior(p, bounds=[[-1.0, 1.0]])
    with pytest.raises(ValueError, match="bounds must be"):
        exact_posterior(p, bounds=[[1.0, -1.0]])
    assert ALPHA > 0
