"""blrkit.algorithms.variational_newton against a textbook Monte-Carlo VI loop, damped Newton and the
exact Gaussian-VI posterior.

Mapping: ``means[t]``, ``precisions[t]`` are the textbook (x_t, S_t). The driver draws
ε ~ N(0, I) of shape ``(n_samples, *batch, D)`` once per step from one Generator, so a Generator with
the same seed gives the textbook loop the same draws as ``rng.standard_normal((n_steps, n_samples, D))``.
The exact oracle (:func:`blrkit.classical.variational_newton.gaussian_vi_glm_fixed_point`) does the
expectations of L2-regularised logistic regression by Gauss–Hermite quadrature.
"""

import numpy as np
import pytest
from scipy.special import expit

from algorithms.other_library import assert_same_result, convert_all
from algorithms.tolerances import assert_close
from algorithms.tolerances_recipes import MONTE_CARLO_SES, REORDERED
from blrkit.algorithms import newton, variational_newton
from blrkit.classical.problems import logistic_problem, random_spd
from blrkit.classical.variational_newton import gaussian_vi_glm_fixed_point
from blrkit.classical.variational_newton import (
    variational_newton as textbook_variational_newton,
)

SEED = 7


class FastLogistic:
    """ℓ̄(θ) = Σ log(1 + e^{xᵀθ}) − y xᵀθ + (δ/2)‖θ‖² for one data set and θ ``(..., D)`` of any
    leading shape, by one matrix product (the problems module broadcasts a matmul per sample)."""

    def __init__(self, X, y, delta):
        self.X, self.y, self.delta = X, y, delta
        self.XX = (X[:, :, None] * X[:, None, :]).reshape(len(X), -1)  # rows x_i x_iᵀ, flattened

    def _sigmoid(self, theta):
        # the step calls grad then hess on the same draws: compute σ(Xθ) once for both
        if getattr(self, "_theta", None) is not theta:
            self._theta, self._p = theta, expit(theta @ self.X.T)
        return self._p

    def grad(self, theta):
        return (self._sigmoid(theta) - self.y) @ self.X + self.delta * theta

    def hess(self, theta):
        p = self._sigmoid(theta)
        D = theta.shape[-1]
        return ((p * (1 - p)) @ self.XX).reshape(theta.shape + (D,)) + self.delta * np.eye(D)


@pytest.fixture
def problem(rng):
    p = logistic_problem(rng, 200, 3, alpha=1.0)
    return FastLogistic(p.X, p.y, 1.0)


def test_equals_textbook_loop_with_the_same_draws(problem, rng):
    m0, S0, K, T, rho = rng.standard_normal(3), random_spd(rng, 3, scale=30.0), 5, 20, 0.7
    res = variational_newton(problem.grad, problem.hess, m0, n_steps=T, rho=rho, precision0=S0, n_samples=K,
                             rng=np.random.default_rng(SEED))
    assert res.means.shape == (T + 1, 3) and res.precisions.shape == (T + 1, 3, 3)
    eps = np.random.default_rng(SEED).standard_normal((T, K, 3))
    xs, Ss = textbook_variational_newton(problem.grad, problem.hess, m0, S0, rho, eps)
    assert_close(res.means, xs, REORDERED)
    assert_close(res.precisions, Ss, REORDERED)
    # an int seed is the same as a Generator made from it
    again = variational_newton(problem.grad, problem.hess, m0, n_steps=T, rho=rho, precision0=S0, n_samples=K,
                               rng=SEED)
    np.testing.assert_array_equal(again.means, res.means)


@pytest.mark.parametrize("n_samples", [1, 4])
def test_quadratic_loss_precisions_are_damped_newton(n_samples, rng):
    """ℓ̄ = ½θᵀAθ − bᵀθ: ∇²ℓ̄ = A at every sample, so the precisions equal the BLR's damped Newton
    (:func:`blrkit.algorithms.newton`, ρ < 1) for any number of samples. ∇ℓ̄ is affine, so the mean
    step takes it at the sample mean θ̄_t of the draws: the means equal damped Newton's recursion
    with ∇ℓ̄(m_t) replaced by ∇ℓ̄(θ̄_t), written out here by hand."""
    D, T, rho = 3, 15, 0.6
    A, b = random_spd(rng, D, scale=2.0), rng.standard_normal(D)
    grad = lambda th: th @ A - b
    hess = lambda th: np.broadcast_to(A, th.shape + (D,))
    m0, S0 = rng.standard_normal(D), random_spd(rng, D)
    res = variational_newton(grad, hess, m0, n_steps=T, rho=rho, precision0=S0, n_samples=n_samples, rng=SEED)
    damped = newton(grad, hess, m0, n_steps=T, rho=rho, precision0=S0)
    assert_close(res.precisions, damped.precisions, REORDERED)
    draws = np.random.default_rng(SEED)
    m, S = m0, S0
    for t in range(T):
        eps_bar = draws.standard_normal((n_samples, D)).mean(axis=0)
        theta_bar = m + np.linalg.solve(np.linalg.cholesky(S).T, eps_bar)
        S = (1 - rho) * S + rho * A
        m = m - rho * np.linalg.solve(S, grad(theta_bar))
        assert_close(res.means[t + 1], m, REORDERED)


def test_converges_to_the_exact_gaussian_vi_posterior(problem):
    """Bayesian logistic regression, N = 200, D = 3, δ = 1: after 60 steps at ρ = 1/2 with 2000
    samples, (m, S) is within MONTE_CARLO_SES Monte-Carlo standard errors of the Gauss–Hermite fixed
    point (see tolerances_recipes for the derivation); the SEs are estimated at q* from 10 000 draws."""
    K, rho = 2000, 0.5
    m_star, S_star = gaussian_vi_glm_fixed_point(problem.X, problem.y, problem.delta)
    # the quadrature is converged (twice the nodes change nothing), and VI differs from the MAP/Laplace answer
    m_128, S_128 = gaussian_vi_glm_fixed_point(problem.X, problem.y, problem.delta, n_nodes=128)
    assert_close(m_128, m_star, REORDERED)
    assert_close(S_128, S_star, REORDERED)
    laplace = newton(problem.grad, problem.hess, np.zeros(3), n_steps=10).means[-1]
    assert np.max(np.abs(laplace - m_star)) > 1e-3
    res = variational_newton(problem.grad, problem.hess, np.zeros(3), n_steps=60, rho=rho, precision0=np.eye(3),
                             n_samples=K, rng=SEED)
    L = np.linalg.cholesky(S_star)
    theta = m_star + np.linalg.solve(L.T, np.random.default_rng(SEED + 1).standard_normal((10_000, 3)).T).T
    se_m = np.linalg.solve(S_star, problem.grad(theta).T).T.std(axis=0) / np.sqrt(K)
    se_S = problem.hess(theta).std(axis=0) / np.sqrt(K)
    z_m = (res.means[-1] - m_star) / se_m
    z_S = (res.precisions[-1] - S_star) / se_S
    assert np.max(np.abs(z_m)) < MONTE_CARLO_SES, z_m
    assert np.max(np.abs(z_S)) < MONTE_CARLO_SES, z_S


def test_batch_equals_single_calls(rng):
    """B problems (ρ per problem) in one call equal single calls fed the same draws: the batched call draws
    ε of shape (K, B, D) per step, so problem b gets the slices [:, b] of them (textbook loop)."""
    B, D, K, T = 3, 2, 4, 6
    p = logistic_problem(rng, 40, D, batch=(B,))
    m0, S0 = rng.standard_normal((B, D)), random_spd(rng, D, batch=(B,), scale=10.0)
    rho = np.array([1.0, 0.5, 0.2])
    res = variational_newton(p.grad, p.hess, m0, n_steps=T, rho=rho, precision0=S0, n_samples=K, rng=SEED)
    assert res.means.shape == (T + 1, B, D) and res.precisions.shape == (T + 1, B, D, D)
    eps = np.random.default_rng(SEED).standard_normal((T, K, B, D))
    for b in range(B):
        single = FastLogistic(p.X[b], p.y[b], p.alpha)
        xs, Ss = textbook_variational_newton(single.grad, single.hess, m0[b], S0[b], rho[b], eps[:, :, b])
        assert_close(res.means[:, b], xs, REORDERED)
        assert_close(res.precisions[:, b], Ss, REORDERED)


def test_inputs_not_modified(problem):
    m0, S0 = np.zeros(3), 5 * np.eye(3)
    keep = m0.copy(), S0.copy()
    variational_newton(problem.grad, problem.hess, m0, n_steps=2, rho=0.5, precision0=S0, n_samples=3, rng=0)
    np.testing.assert_array_equal(m0, keep[0])
    np.testing.assert_array_equal(S0, keep[1])


def test_indefinite_monte_carlo_hessian_names_hess():
    """ℓ̄(θ) = θ⁴/4 − θ²: the Hessian 3θ² − 2 is negative near 0, so a narrow q at 0 gives an
    indefinite estimate and the precision loses definiteness at ρ = 1."""
    grad = lambda th: th ** 3 - 2 * th
    hess = lambda th: (3 * th ** 2 - 2)[..., None]
    with pytest.raises(ValueError, match=r"hess.*n_samples.*rho"):
        variational_newton(grad, hess, np.zeros(1), n_steps=3, rho=1.0, precision0=100 * np.eye(1), n_samples=8,
                           rng=0)


def _identity_hess(th):
    return np.broadcast_to(np.eye(2), th.shape + (2,))


@pytest.mark.parametrize("change, match", [
    (dict(rho=0.0), "rho"), (dict(rho=1.5), "rho"), (dict(precision0=-np.eye(2)), "precision0"),
    (dict(precision0=np.eye(3)), "precision0"), (dict(precision0=np.ones((4, 2, 2)) + np.eye(2)), "precision0"),
    (dict(n_samples=0), "n_samples"), (dict(n_samples=2.5), "n_samples"),
    (dict(n_steps=-1), "n_steps"), (dict(hess=lambda th: np.eye(3)), "hess"),
    (dict(grad=lambda th: th[..., :1]), "grad"), (dict(grad=lambda th: th * np.nan), "grad"),
    (dict(m0=[np.nan, 0.0]), "m0"),
])
def test_bad_arguments_raise_naming_them(change, match):
    args = dict(grad=lambda th: th, hess=_identity_hess, m0=np.ones(2), n_steps=2, rho=0.5,
                precision0=np.eye(2), rng=0) | change
    with pytest.raises(ValueError, match=match):
        variational_newton(args.pop("grad"), args.pop("hess"), args.pop("m0"), **args)


def test_improved_rule_stays_positive_definite_and_equals_the_oracle():
    """ρ = 0.9 on a double well from near the hump: the plain rule is refused (indefinite precision);
    ``rule="improved"`` runs and equals the hand-written retraction form on the same draws."""
    from blrkit.classical.variational_newton import variational_newton as classical

    grad = lambda th: 4 * th**3 - 4 * th + 0.5  # noqa: E731
    hess = lambda th: (12 * th**2 - 4)[..., None]  # noqa: E731
    with pytest.raises(ValueError, match="not positive definite"):
        variational_newton(grad, hess, [0.0], n_steps=200, rho=0.9, precision0=[[10.0]], rng=3)
    res = variational_newton(grad, hess, [0.0], n_steps=200, rho=0.9, precision0=[[10.0]], rng=3, rule="improved")
    eps = np.random.default_rng(3).standard_normal((200, 1, 1))
    xs, Ss = classical(grad, hess, [0.0], [[10.0]], 0.9, eps, rule="improved")
    np.testing.assert_allclose(res.means, xs, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(res.precisions, Ss, rtol=1e-10, atol=1e-10)
    assert res.precisions.min() > 0
    with pytest.raises(ValueError, match="rule must be"):
        variational_newton(grad, hess, [0.0], n_steps=1, rho=0.5, precision0=[[1.0]], rule="ibLR")


# -- arrays of another library (array-api-strict, PyTorch, JAX) ----------------------------------------

@pytest.mark.parametrize("rule", ["blr", "improved"])
def test_on_another_array_library_equals_numpy(other_library, rng, rule):
    """m0, ρ, precision0 and the callables in another library, the draws from the same seed (NumPy's
    Generator on the host, moved to the library): the run computes in it and equals NumPy's."""
    p = FastLogistic(rng.standard_normal((30, 2)), rng.integers(0, 2, 30).astype(float), 1.0)
    args = dict(grad=p.grad, hess=p.hess, m0=rng.standard_normal(2), n_steps=3, rho=0.5,
                precision0=random_spd(rng, 2) + 10 * np.eye(2), n_samples=3, rule=rule)
    want = variational_newton(**args, rng=SEED)
    got = variational_newton(**convert_all(other_library, args), rng=SEED)
    assert_same_result(got, want, other_library, ["means", "precisions"])


def test_mixing_array_libraries_names_the_argument():
    xp = pytest.importorskip("array_api_strict")
    with pytest.raises(TypeError, match=r"^m0 comes from array_api_strict .* but precision0 from NumPy"):
        variational_newton(lambda m: m, lambda m: np.ones(m.shape + (1,)), xp.ones(1, dtype=xp.float64), n_steps=1,
                           rho=0.5, precision0=np.eye(1), rng=0)
