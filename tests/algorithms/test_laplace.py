"""blrkit.algorithms.laplace against SciPy's MAP and analytic Hessian, and against ridge.

Mapping: ``laplace(grad, hess, ...)`` takes the gradient and Hessian of ℓ̄ = loss − log-prior; the
oracle minimises the same ℓ̄ with ``scipy.optimize.minimize(method="trust-exact")``
(:func:`blrkit.classical.laplace.laplace`) and takes the analytic ∇²ℓ̄ there as the precision.
"""

import numpy as np
import pytest

from algorithms.other_library import assert_same_result, convert_all
from algorithms.tolerances import CLOSED_FORM, ITERATIVE, SAME_ARITHMETIC, assert_close
from blrkit.algorithms import laplace, ridge
from blrkit.classical.laplace import laplace as textbook_laplace
from blrkit.classical.problems import LogisticRegression, logistic_problem


@pytest.mark.parametrize("rho", [1.0, 0.6])
def test_equals_scipy_map_and_hessian(rng, rho):
    """Mean = scipy's MAP, precision = ∇²ℓ̄(MAP) (ITERATIVE, 1e-6), for ρ = 1 and ρ < 1."""
    p = logistic_problem(rng, 300, 6, alpha=0.5)
    post = laplace(p.grad, p.hess, np.zeros(6), rho=rho, max_steps=200)
    mode, prec = textbook_laplace(p.loss, p.grad, p.hess, np.zeros(6))
    assert_close(post.mean, mode, ITERATIVE)
    assert_close(post.precision, prec, ITERATIVE)
    assert_close(post.covariance, np.linalg.inv(prec), ITERATIVE)
    assert np.linalg.norm(p.grad(post.mean)) < 1e-9
    assert post.n_steps > 1


def test_quadratic_loss_equals_ridge(rng):
    """For ℓ̄ = ‖y − Xθ‖²/(2σ²) + α‖θ‖²/2 the Laplace approximation is the exact ridge posterior
    (CLOSED_FORM: one Newton step from zero is the ridge closed form up to rounding)."""
    X, y, alpha, s2 = rng.standard_normal((40, 3)), rng.standard_normal(40), 1.5, 0.4
    G = X.T @ X / s2 + alpha * np.eye(3)
    post = laplace(lambda m: m @ G - X.T @ y / s2, lambda m: np.broadcast_to(G, m.shape + (3,)), np.zeros(3))
    exact = ridge(X, y, alpha, noise_variance=s2)
    assert_close(post.mean, exact.mean, CLOSED_FORM)
    assert_close(post.precision, exact.precision, CLOSED_FORM)
    assert post.n_steps <= 2


def test_batch_equals_single_calls(rng):
    B = 4
    p = logistic_problem(rng, 100, 3, batch=(B,))
    post = laplace(p.grad, p.hess, np.zeros((B, 3)))
    for b in range(B):
        single = LogisticRegression(p.X[b], p.y[b], p.alpha)
        one = laplace(single.grad, single.hess, np.zeros(3))
        # the batch stops when its slowest member converges, so the faster ones may take an
        # extra (converged) step: ITERATIVE
        assert_close(post.mean[b], one.mean, ITERATIVE)
        assert_close(post.precision[b], one.precision, ITERATIVE)
        assert np.linalg.norm(single.grad(post.mean[b])) < 1e-9
    assert post.mean.shape == (B, 3) and post.covariance.shape == (B, 3, 3)
    assert post.n_steps >= max(laplace(LogisticRegression(p.X[b], p.y[b], 1.0).grad,
                                       LogisticRegression(p.X[b], p.y[b], 1.0).hess, np.zeros(3)).n_steps
                               for b in range(B))
    assert_close(post.covariance[0] @ post.precision[0], np.eye(3), SAME_ARITHMETIC * 1e3)


def test_not_converging_raises_with_gradient_norm():
    with pytest.raises(RuntimeError, match="gradient norm"):
        laplace(lambda m: m, lambda m: np.broadcast_to(np.eye(1), m.shape + (1,)), np.ones(1), rho=0.1, max_steps=3)


def test_inputs_not_modified():
    m0, S0 = np.ones(2), 3 * np.eye(2)
    keep = m0.copy(), S0.copy()
    laplace(lambda m: m, lambda m: np.broadcast_to(np.eye(2), m.shape + (2,)), m0, rho=0.9, precision0=S0)
    np.testing.assert_array_equal(m0, keep[0])
    np.testing.assert_array_equal(S0, keep[1])


@pytest.mark.parametrize("change, match", [
    (dict(rho=0.0), "rho"), (dict(rho=2.0), "rho"), (dict(tol=-1.0), "tol"), (dict(max_steps=0), "max_steps"),
    (dict(hess=lambda m: np.broadcast_to(-np.eye(2), m.shape + (2,))), "hess"),
    (dict(precision0=np.zeros((2, 2))), "precision0"), (dict(m0=np.array([np.inf, 1.0])), "m0"),
    (dict(grad=lambda m: m[..., :1]), "grad"),
])
def test_bad_arguments_raise_naming_them(change, match):
    args = dict(grad=lambda m: m, hess=lambda m: np.broadcast_to(np.eye(2), m.shape + (2,)), m0=np.ones(2)) | change
    with pytest.raises(ValueError, match=match):
        laplace(args.pop("grad"), args.pop("hess"), args.pop("m0"), **args)


# -- arrays of another library (array-api-strict, PyTorch, JAX) ----------------------------------------

@pytest.mark.parametrize("rho", [1.0, 0.7])
def test_on_another_array_library_equals_numpy(other_library, rng, rho):
    """m0, precision0 and the callables in another library: the run computes in it, stops at the same
    step and equals NumPy's (mean, precision and the covariance derived from it)."""
    p = logistic_problem(rng, 40, 3, batch=(2,))
    args = dict(grad=p.grad, hess=p.hess, m0=np.zeros((2, 3)), rho=rho, tol=1e-8)
    if rho < 1:
        args["precision0"] = np.broadcast_to(5 * np.eye(3), (2, 3, 3))
    want = laplace(**args)
    got = laplace(**convert_all(other_library, args))
    assert got.n_steps == want.n_steps
    assert_same_result(got, want, other_library, ["mean", "precision", "covariance"])


def test_mixing_array_libraries_names_the_argument():
    xp = pytest.importorskip("array_api_strict")
    with pytest.raises(TypeError, match=r"^m0 comes from array_api_strict .* but rho from NumPy"):
        laplace(lambda m: m, lambda m: np.ones(m.shape + (1,)), xp.ones(1, dtype=xp.float64), rho=np.array(0.5))
