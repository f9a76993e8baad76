"""The classical oracles are themselves checked against closed forms and third-party libraries,
so that agreeing with them means something. Mappings as in tests/algorithms."""

import numpy as np
from pykalman import KalmanFilter as PykalmanKF
from sklearn.linear_model import Ridge

from algorithms.tolerances import CLOSED_FORM, ITERATIVE, KALMAN, assert_close
from blrkit.classical import kalman
from blrkit.classical.gradient_descent import gradient_descent
from blrkit.classical.laplace import laplace
from blrkit.classical.newton import newton, newton_minimize
from blrkit.classical.problems import logistic_problem, random_spd, random_state_space_model
from blrkit.classical.ridge import ridge


def test_gradient_descent_on_a_quadratic_is_a_matrix_power(rng):
    """x_t − x* = (I − ηA)^t (x_0 − x*) for ℓ = ½xᵀAx − bᵀx (CLOSED_FORM)."""
    A, b, x0 = random_spd(rng, 4), rng.standard_normal(4), rng.standard_normal(4)
    x_star = np.linalg.solve(A, b)
    path = gradient_descent(lambda x: A @ x - b, x0, 0.1, 10)
    for t in (0, 3, 10):
        assert_close(path[t] - x_star, np.linalg.matrix_power(np.eye(4) - 0.1 * A, t) @ (x0 - x_star), CLOSED_FORM)


def test_newton_matches_scipy_trust_exact(rng):
    p = logistic_problem(rng, 300, 5)
    x, k = newton_minimize(p.grad, p.hess, np.zeros(5))
    mode, _ = laplace(p.loss, p.grad, p.hess, np.zeros(5))
    assert_close(x, mode, ITERATIVE)
    assert_close(newton(p.grad, p.hess, np.zeros(5), k)[-1], x, CLOSED_FORM)


def test_ridge_matches_sklearn(rng):
    X, y = rng.standard_normal((40, 6)), rng.standard_normal(40)
    assert_close(ridge(X, y, 0.3), Ridge(alpha=0.3, fit_intercept=False, solver="cholesky").fit(X, y).coef_,
                 CLOSED_FORM)


def test_kalman_filter_and_smoother_match_pykalman_and_the_joint_posterior(rng):
    mod = random_state_space_model(rng, 3, 2)
    y = mod.sample(rng, 12)
    y[4] = np.nan
    args = (mod.F, mod.Q, mod.H, mod.R, mod.m0, mod.P0)
    m, P, ll = kalman.kalman_filter(y, *args)
    pk = PykalmanKF(transition_matrices=mod.F, observation_matrices=mod.H, transition_covariance=mod.Q,
                    observation_covariance=mod.R, initial_state_mean=mod.m0, initial_state_covariance=mod.P0)
    pm, pP = pk.filter(np.ma.masked_invalid(y))
    assert_close(m, pm, KALMAN)
    assert_close(P, pP, KALMAN)
    sm, sP = kalman.rts_smoother(m, P, mod.F, mod.Q)
    jm, jP, jll = kalman.joint_posterior(y, *args)
    assert_close(sm, jm, KALMAN)
    assert_close(sP, jP, KALMAN)
    assert_close(ll, jll, KALMAN)
    assert_close(ll, pk.loglikelihood(np.ma.masked_invalid(y)), KALMAN)


def test_blr_newton_on_a_quadratic_averages_the_hessian_geometrically(rng):
    """ℓ = ½xᵀAx − bᵀx: S_t = (1 − ρ)^t S_0 + (1 − (1 − ρ)^t) A; with ρ = 1 it is Newton's method."""
    from blrkit.classical.newton import blr_newton

    A, b, x0, S0 = random_spd(rng, 3), rng.standard_normal(3), rng.standard_normal(3), random_spd(rng, 3)
    xs, Ss = blr_newton(lambda x: A @ x - b, lambda x: A, x0, S0, 0.3, 12)
    for t in (0, 1, 5, 12):
        assert_close(Ss[t], 0.7**t * S0 + (1 - 0.7**t) * A, CLOSED_FORM)
    assert_close(blr_newton(lambda x: A @ x - b, lambda x: A, x0, S0, 1.0, 1)[0][-1], np.linalg.solve(A, b),
                 CLOSED_FORM)


def test_ridge_svd_matches_sklearn_and_the_posterior_covariance(rng):
    """The mean is sklearn's Ridge at penalty σ²α; the covariance is (αI + XᵀX/σ²)⁻¹ (CLOSED_FORM)."""
    from blrkit.classical.ridge import ridge_svd

    X, y, alpha, s2 = rng.standard_normal((40, 5)), rng.standard_normal(40), 0.7, 0.4
    m, C = ridge_svd(X, y, alpha, s2)
    assert_close(m, Ridge(alpha=s2 * alpha, fit_intercept=False, solver="cholesky").fit(X, y).coef_, CLOSED_FORM)
    assert_close(C, np.linalg.inv(alpha * np.eye(5) + X.T @ X / s2), CLOSED_FORM)


def test_quartic_vi_expectations_match_gauss_hermite_quadrature(rng):
    """One ρ = 1 step in D = 1: E_q[∇ℓ̄] and E_q[∇²ℓ̄] by 40-point Gauss–Hermite quadrature (exact for
    these polynomials), then the update by hand (CLOSED_FORM)."""
    from blrkit.classical.variational_newton import quartic_vi

    X, y = rng.standard_normal((6, 1)), rng.standard_normal(6)
    x0, S0 = np.array([0.4]), np.array([[2.5]])
    z, w = np.polynomial.hermite.hermgauss(40)
    theta = x0[0] + np.sqrt(2 / S0[0, 0]) * z  # θ ~ N(x0, 1/S0) at the nodes
    grad = (X[:, 0][:, None] ** 4 * theta**3 / 3).sum(0) - X[:, 0] @ y + theta
    hess = (X[:, 0][:, None] ** 4 * theta**2).sum(0) + 1
    E_g, E_H = w @ grad / np.sqrt(np.pi), w @ hess / np.sqrt(np.pi)
    xs, Ss = quartic_vi(X, y, x0, S0, 1.0, 1)
    assert_close(Ss[-1], np.array([[E_H]]), CLOSED_FORM)
    assert_close(xs[-1], x0 - E_g / E_H, CLOSED_FORM)
