"""blrkit.algorithms.variational_newton against a textbook Monte-Carlo loop, and its fixed point.

Mapping: ``precision0`` is S₀, ``n_samples`` is K; both use ``rng.standard_normal((K, D))`` per step,
so generators in the same state give the same samples θ_k = m + L⁻ᵀε_k.
"""

import numpy as np
import pytest

from algorithms.tolerances import CLOSED_FORM, SAME_ARITHMETIC, assert_close
from blrkit.algorithms import ridge, variational_newton
from blrkit.classical.problems import logistic_problem, random_spd
from blrkit.classical.variational_newton import variational_newton as textbook


def test_equals_textbook_loop(rng):
    """Same samples, same steps (SAME_ARITHMETIC, ×100: triangular solves by two libraries and a
    different summation order over the samples)."""
    p = logistic_problem(rng, 100, 3)
    m0, S0 = rng.standard_normal(3), random_spd(rng, 3, scale=10.0)
    res = variational_newton(p.grad, p.hess, m0, n_steps=10, rho=0.5, precision0=S0, n_samples=5,
                             rng=np.random.default_rng(3))
    ms, Ss = textbook(p.grad, p.hess, m0, S0, 0.5, 10, 5, np.random.default_rng(3))
    assert_close(res.means, ms, 100 * SAME_ARITHMETIC)
    assert_close(res.precisions, Ss, 100 * SAME_ARITHMETIC)


def test_quadratic_loss_reaches_the_exact_posterior_precision(rng):
    """For ℓ̄ = ‖y − Xθ‖²/2 + α‖θ‖²/2 the expected Hessian is exact, so one ρ = 1 step gives the ridge
    precision, and the mean is the ridge mean up to the Monte-Carlo error of E_q[∇ℓ̄] (checked by size)."""
    X, y, alpha = rng.standard_normal((30, 3)), rng.standard_normal(30), 2.0
    G = X.T @ X + alpha * np.eye(3)
    exact = ridge(X, y, alpha)
    res = variational_newton(lambda th: th @ G - X.T @ y, lambda th: np.broadcast_to(G, th.shape + (3,)),
                             np.zeros(3), n_steps=1, rho=1.0, precision0=G, n_samples=20_000, rng=1)
    assert_close(res.precisions[-1], exact.precision, CLOSED_FORM)
    # the error of the mean is S⁻¹ G (mean of L⁻ᵀε) ~ N(0, S⁻¹/K): 6 standard deviations
    sd = np.sqrt(np.diag(exact.covariance) / 20_000)
    assert np.all(np.abs(res.means[-1] - exact.mean) < 6 * sd)


def test_batch_shapes_and_validation(rng):
    B = 2
    p = logistic_problem(rng, 40, 3, batch=(B,))
    res = variational_newton(p.grad, p.hess, np.zeros((B, 3)), n_steps=3, rho=np.array([0.5, 1.0]),
                             precision0=np.eye(3) * 5, n_samples=4, rng=0)
    assert res.means.shape == (4, B, 3) and res.precisions.shape == (4, B, 3, 3)
    with pytest.raises(ValueError, match="precision0"):
        variational_newton(p.grad, p.hess, np.zeros((B, 3)), n_steps=1, rho=0.5, precision0=-np.eye(3))
    with pytest.raises(ValueError, match="n_samples"):
        variational_newton(p.grad, p.hess, np.zeros((B, 3)), n_steps=1, rho=0.5, precision0=np.eye(3), n_samples=0)
    with pytest.raises(ValueError, match="hess"):
        variational_newton(lambda t: t, lambda t: -np.broadcast_to(np.eye(3), t.shape + (3,)), np.zeros(3),
                           n_steps=1, rho=1.0, precision0=np.eye(3))
