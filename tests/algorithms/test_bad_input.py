"""Bad input to the public drivers: a clear error naming the argument, never a silent answer.

Each case here gave a silent wrong answer or a raw NumPy traceback before (issue 10, section 3).
"""

import numpy as np
import pytest

from algorithms.tolerances import CLOSED_FORM, assert_close
from blrkit.algorithms import (
    diagonal_newton, gradient_descent, kalman_filter, laplace, newton, online_gauss_newton, ridge,
    stochastic_gradient_descent, variational_newton, vogn,
)
from blrkit.algorithms.conjugate import beta_bernoulli, dirichlet_categorical, gamma_poisson, gaussian_mean, normal_gamma
from blrkit.classical.conjugate import normal_gamma as textbook_normal_gamma

EYE = np.eye(2)
Z = np.zeros(2)
C = np.array([1.0 + 1e-3j, 2.0])  # a complex ndarray: NumPy would drop the imaginary part with a warning


def _quadratic_grad(m):
    return m - 1.0


def _quadratic_hess(m):
    return np.broadcast_to(EYE, m.shape + (2,))


def _terms(m, idx):
    return np.repeat((m - 1.0)[..., None, :], len(idx), axis=-2) / 4


#: (call with a complex array in one argument, the argument's name)
COMPLEX_CALLS = [
    (lambda: gradient_descent(_quadratic_grad, C, rho=0.5, n_steps=1), "m0"),
    (lambda: newton(_quadratic_grad, _quadratic_hess, C, n_steps=1), "m0"),
    (lambda: newton(_quadratic_grad, _quadratic_hess, Z, n_steps=1, rho=0.5, precision0=EYE + 0j), "precision0"),
    (lambda: laplace(_quadratic_grad, _quadratic_hess, C), "m0"),
    (lambda: diagonal_newton(_quadratic_grad, lambda m: np.ones_like(m), C, n_steps=1), "m0"),
    (lambda: variational_newton(_quadratic_grad, _quadratic_hess, C, n_steps=1, rho=1.0, precision0=EYE), "m0"),
    (lambda: stochastic_gradient_descent(lambda m, i: m, C, rho=0.1, n_steps=1, n_data=4, batch_size=2), "m0"),
    (lambda: online_gauss_newton(_terms, C, rho=0.5, n_steps=1, n_data=4, batch_size=2, precision0=np.ones(2)), "m0"),
    (lambda: vogn(_terms, Z, rho=0.5, n_steps=1, n_data=4, batch_size=2, precision0=np.ones(2) + 0j), "precision0"),
    (lambda: ridge(np.ones((3, 2)) + 0j, np.ones(3), 1.0), "X"),
    (lambda: ridge(np.ones((3, 2)), np.ones(3) + 0j, 1.0), "y"),
    (lambda: kalman_filter(np.ones((3, 1)) + 0j, EYE[:1, :1], EYE[:1, :1], EYE[:1, :1], EYE[:1, :1], Z[:1], EYE[:1, :1]), "y"),
    (lambda: gaussian_mean(C, m0=0.0, precision0=1.0, noise_variance=1.0), "y"),
    (lambda: normal_gamma(C, m0=0.0, kappa0=1.0, alpha0=1.0, beta0=1.0), "y"),
    (lambda: beta_bernoulli([1.0, 0.0], alpha0=np.array(1.0 + 0j)), "alpha0"),
    (lambda: gamma_poisson([1.0, 0.0], alpha0=1.0, beta0=np.array(1.0 + 1j)), "beta0"),
    (lambda: dirichlet_categorical([0, 1], alpha0=np.ones(2) + 0j), "alpha0"),
    (lambda: gradient_descent(lambda m: m + 0j, Z, rho=0.5, n_steps=1), "the output of grad"),
]


@pytest.mark.parametrize("call, name", COMPLEX_CALLS)
def test_complex_arrays_are_rejected_naming_the_argument(call, name):
    with pytest.raises(TypeError, match=f"^{name} must be an array of real numbers, got complex"):
        call()


def test_a_complex_gradient_at_a_later_step_is_rejected_at_its_step():
    calls = {"n": 0}

    def grad(m):
        calls["n"] += 1
        return m + (1j if calls["n"] == 3 else 0)

    with pytest.raises(TypeError, match=r"^the output of grad must be an array of real numbers, got complex values .* at step 3$"):
        gradient_descent(grad, np.ones(2), rho=0.5, n_steps=5)


def test_newton_rejects_a_non_symmetric_hessian():
    # symmetric part [[1, 0], [0, 1]] + antisymmetric [[0, 3], [-3, 0]]: Cholesky of the lower
    # triangle would succeed, the symmetric part is fine, the matrix is not a Hessian
    H = np.array([[1.0, 3.0], [-3.0, 1.0]])
    with pytest.raises(ValueError, match="hess is not symmetric at step 1"):
        newton(lambda m: m, lambda m: np.broadcast_to(H, m.shape + (2,)), np.ones(2), n_steps=2)
    with pytest.raises(ValueError, match="hess is not symmetric"):
        laplace(lambda m: m, lambda m: np.broadcast_to(H, m.shape + (2,)), np.ones(2))


def test_newton_singular_hessian_is_a_value_error():
    with pytest.raises(ValueError, match="hess returned a singular matrix at step 1"):
        newton(lambda m: m, lambda m: np.zeros(m.shape + (2,)), np.ones(2), n_steps=1)


def test_a_nan_hessian_at_the_second_step_is_reported_there_and_blames_hess():
    calls = {"n": 0}

    def hess(m):
        calls["n"] += 1
        return np.broadcast_to(EYE * (np.nan if calls["n"] == 2 else 1.0), m.shape + (2,))

    with pytest.raises(ValueError, match=r"^hess returned non-finite values \(NaN or inf\) at step 2$") as info:
        newton(_quadratic_grad, hess, Z, n_steps=10)
    assert "grad" not in str(info.value)


def test_a_nan_gradient_blames_grad_at_its_step():
    calls = {"n": 0}

    def grad(m):
        calls["n"] += 1
        return m * (np.nan if calls["n"] == 3 else 1.0)

    with pytest.raises(ValueError, match=r"^grad returned non-finite values \(NaN or inf\) at step 3$"):
        gradient_descent(grad, np.ones(2), rho=0.5, n_steps=10)


def test_precision0_none_says_required_not_non_finite():
    with pytest.raises(TypeError, match="precision0 is required"):
        variational_newton(_quadratic_grad, _quadratic_hess, Z, n_steps=1, rho=0.5, precision0=None)


def test_ridge_alpha_with_a_wrong_batch_shape_names_alpha():
    X, y = np.ones((2, 5, 3)), np.ones((2, 5))
    with pytest.raises(ValueError, match=r"^alpha must be a scalar or have the batch shape \(2,\)"):
        ridge(X, y, np.ones(3))


@pytest.mark.parametrize("call", [
    lambda: gaussian_mean([1e308, 1e308], m0=0.0, precision0=1.0, noise_variance=1.0),
    lambda: normal_gamma([1e200, -1e200], m0=0.0, kappa0=1.0, alpha0=1.0, beta0=1.0),
    lambda: gamma_poisson([1e308, 1e308], alpha0=1.0, beta0=1.0),
])
def test_conjugate_overflow_is_an_error_not_inf(call):
    with pytest.raises(ValueError, match="the posterior overflowed"):
        call()


@pytest.mark.parametrize("offset", [1e8, 1e6, -3e7])
def test_normal_gamma_keeps_the_spread_of_large_values(offset):
    """y = c ± 1 (and a few more points): the textbook's centred sums, not raw Σy² − (Σy)²/N."""
    y = offset + np.array([-1.0, 1.0, 0.5, -0.25])
    prior = dict(m0=offset + 2.0, kappa0=1.5, alpha0=1.0, beta0=2.0)
    post = normal_gamma(y, **prior)
    textbook = textbook_normal_gamma(prior["m0"], prior["kappa0"], prior["alpha0"], prior["beta0"], y)
    for ours, theirs in zip((post.m, post.kappa, post.alpha, post.beta), textbook):
        assert_close(ours, theirs, CLOSED_FORM)  # each parameter on its own scale (β ~ 1, m ~ offset)


def test_normal_gamma_beta_of_1e8_plus_minus_1_is_3():
    """The issue's case: textbook β = β₀ + ½Σ(y − ȳ)² + κ₀N(ȳ − m₀)²/(2κ) with β₀ = 2, m₀ = ȳ."""
    y = 1e8 + np.array([-1.0, 1.0])
    textbook = textbook_normal_gamma(1e8, 1.0, 1.0, 2.0, y)
    assert float(normal_gamma(y, m0=1e8, kappa0=1.0, alpha0=1.0, beta0=2.0).beta) == float(textbook[3]) == 3.0


def test_a_diverging_kalman_model_says_so_and_when():
    H = np.array([[1.0, 0.0]])  # the second state is never observed and F multiplies it by 1e10
    F = np.diag([1.0, 1e10])
    for y in (np.ones((60, 1)), np.ones((2, 60, 1))):
        with pytest.raises(ValueError, match=r"the model diverged at step \d+: the predicted covariance overflowed"):
            kalman_filter(y, F, EYE, H, np.eye(1), Z, EYE)
