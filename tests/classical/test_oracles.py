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
