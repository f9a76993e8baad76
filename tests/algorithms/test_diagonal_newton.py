"""blrkit.algorithms.diagonal_newton against a textbook coordinate-wise loop and against Newton.

Problem: L2-regularised logistic regression (:class:`blrkit.classical.problems.LogisticRegression`),
whose Hessian is not diagonal, and separable quadratics, whose Hessian is. Mapping: ``means[t]``,
``precisions[t]`` are the textbook (x_t, s_t); on a separable loss, diagonal Newton is Newton
(:func:`blrkit.algorithms.newton`) with ``precisions[t] = diag S_t``.
"""

import numpy as np
import pytest

from algorithms.other_library import assert_same_result, convert_all
from algorithms.tolerances import ITERATIVE, SAME_ARITHMETIC, assert_close
from algorithms.tolerances_recipes import REORDERED
from blrkit.algorithms import diagonal_newton, laplace, newton
from blrkit.classical.diagonal_newton import diagonal_newton as textbook_diagonal_newton
from blrkit.classical.problems import LogisticRegression, logistic_problem


def hess_diag_of(problem):
    return lambda m: np.diagonal(problem.hess(m), axis1=-2, axis2=-1)


@pytest.mark.parametrize("rho", [1.0, 0.3])
def test_iterates_equal_textbook_loop(rho, rng):
    p = logistic_problem(rng, 200, 5)
    m0, s0 = rng.standard_normal(5), rng.uniform(20.0, 60.0, 5)
    res = diagonal_newton(p.grad, hess_diag_of(p), m0, n_steps=80, rho=rho, precision0=s0)
    assert res.means.shape == res.precisions.shape == (81, 5)
    xs, ss = textbook_diagonal_newton(p.grad, hess_diag_of(p), m0, s0, rho, 80)
    assert_close(res.means, xs, SAME_ARITHMETIC)
    assert_close(res.precisions, ss, SAME_ARITHMETIC)
    # it converges (linearly: the Hessian is not diagonal) to ∇ℓ̄(m*) = 0, s* = diag ∇²ℓ̄(m*)
    assert np.linalg.norm(p.grad(res.means[-1])) < 1e-6
    assert_close(res.precisions[-1], hess_diag_of(p)(res.means[-1]), 1e-6)


def test_fixed_point_is_the_map(rng):
    """The mean converges to the MAP (the full-Newton Laplace mean) (ITERATIVE)."""
    p = logistic_problem(rng, 200, 4)
    res = diagonal_newton(p.grad, hess_diag_of(p), np.zeros(4), n_steps=300, rho=0.5, precision0=np.ones(4))
    assert_close(res.means[-1], laplace(p.grad, p.hess, np.zeros(4)).mean, ITERATIVE)
    assert_close(res.precisions[-1], hess_diag_of(p)(res.means[-1]), ITERATIVE)


def separable_quartic(rng, D):
    """ℓ̄(θ) = Σ_j a_j θ_j⁴/4 + c_j θ_j²/2 − b_j θ_j: a diagonal, positive-definite Hessian."""
    a, c, b = rng.uniform(0.1, 1.0, D), rng.uniform(0.5, 2.0, D), rng.standard_normal(D)
    grad = lambda m: a * m ** 3 + c * m - b
    hess_diag = lambda m: 3 * a * m ** 2 + c
    hess = lambda m: hess_diag(m)[..., None] * np.eye(D)
    return grad, hess_diag, hess


@pytest.mark.parametrize("rho", [1.0, 0.5])
def test_separable_loss_equals_newton(rho, rng):
    """Diagonal Hessian: diagonal Newton is Newton (ρ = 1) and the BLR's damped Newton (ρ < 1)."""
    grad, hess_diag, hess = separable_quartic(rng, 4)
    m0, s0 = 2 * rng.standard_normal(4), rng.uniform(1.0, 3.0, 4)
    ours = diagonal_newton(grad, hess_diag, m0, n_steps=20, rho=rho, precision0=s0)
    full = newton(grad, hess, m0, n_steps=20, rho=rho, precision0=np.diag(s0))
    assert_close(ours.means, full.means, REORDERED)
    assert_close(ours.precisions, np.diagonal(full.precisions, axis1=-2, axis2=-1), REORDERED)


def test_batch_equals_single_calls(rng):
    """B × C problems (ρ per problem) in one call equal single calls."""
    batch = (2, 3)
    p = logistic_problem(rng, 60, 3, batch=batch)
    m0, s0 = rng.standard_normal(batch + (3,)), rng.uniform(10.0, 30.0, batch + (3,))
    rho = rng.uniform(0.2, 1.0, batch)
    res = diagonal_newton(p.grad, hess_diag_of(p), m0, n_steps=8, rho=rho, precision0=s0)
    assert res.means.shape == (9,) + batch + (3,)
    for i in np.ndindex(batch):
        single = LogisticRegression(p.X[i], p.y[i], p.alpha)
        one = diagonal_newton(single.grad, hess_diag_of(single), m0[i], n_steps=8, rho=rho[i], precision0=s0[i])
        assert_close(res.means[(slice(None),) + i], one.means, SAME_ARITHMETIC)
        assert_close(res.precisions[(slice(None),) + i], one.precisions, SAME_ARITHMETIC)


def test_precision0_defaults_to_the_first_hessian_diagonal(rng):
    p = logistic_problem(rng, 50, 3)
    m0 = rng.standard_normal(3)
    for n_steps in (0, 2):
        res = diagonal_newton(p.grad, hess_diag_of(p), m0, n_steps=n_steps)
        assert_close(res.precisions[0], hess_diag_of(p)(m0), SAME_ARITHMETIC)
    # a scalar precision0 broadcasts
    res = diagonal_newton(p.grad, hess_diag_of(p), m0, n_steps=1, rho=0.5, precision0=7.0)
    assert_close(res.precisions[0], np.full(3, 7.0), SAME_ARITHMETIC)


def test_inputs_not_modified():
    m0, s0 = np.ones(2), np.full(2, 3.0)
    keep = m0.copy(), s0.copy()
    diagonal_newton(lambda m: m, lambda m: np.ones_like(m), m0, n_steps=3, rho=0.5, precision0=s0)
    np.testing.assert_array_equal(m0, keep[0])
    np.testing.assert_array_equal(s0, keep[1])


@pytest.mark.parametrize("change, match", [
    (dict(rho=0.0), "rho"), (dict(rho=2.0), "rho"), (dict(rho=0.5), "precision0"),
    (dict(rho=0.5, precision0=[1.0, -1.0]), "precision0"), (dict(rho=0.5, precision0=np.ones(3)), "precision0"),
    (dict(rho=0.5, precision0=[np.nan, 1.0]), "precision0"), (dict(n_steps=-1), "n_steps"),
    (dict(hess_diag=lambda m: -np.ones_like(m)), "hess_diag"), (dict(hess_diag=lambda m: np.ones(3)), "hess_diag"),
    (dict(grad=lambda m: m[..., :1]), "grad"), (dict(grad=lambda m: m * np.inf), "grad"),
    (dict(m0=[np.inf, 0.0]), "m0"),
])
def test_bad_arguments_raise_naming_them(change, match):
    args = dict(grad=lambda m: m, hess_diag=lambda m: np.ones_like(m), m0=np.ones(2), n_steps=2) | change
    with pytest.raises(ValueError, match=match):
        diagonal_newton(args.pop("grad"), args.pop("hess_diag"), args.pop("m0"), **args)


# -- arrays of another library (array-api-strict, PyTorch, JAX) ----------------------------------------

@pytest.mark.parametrize("rho", [1.0, 0.4])
def test_on_another_array_library_equals_numpy(other_library, rng, rho):
    """m0, ρ, precision0 (ρ < 1) and the callables in another library: the run computes in it and equals
    NumPy's. ρ < 1 with a scalar precision0 (a Python number beside another library's m0)."""
    p = logistic_problem(rng, 40, 3, batch=(2,))
    args = dict(grad=p.grad, hess_diag=hess_diag_of(p), m0=rng.standard_normal((2, 3)), n_steps=3,
                rho=np.array([rho, rho]))
    if rho < 1:
        args["precision0"] = 30.0
    want = diagonal_newton(**args)
    got = diagonal_newton(**convert_all(other_library, args))
    assert_same_result(got, want, other_library, ["means", "precisions"])


def test_mixing_array_libraries_names_the_argument():
    xp = pytest.importorskip("array_api_strict")
    with pytest.raises(TypeError, match=r"^precision0 comes from array_api_strict .* but m0 from NumPy"):
        diagonal_newton(lambda m: m, np.ones_like, np.ones(2), n_steps=1, rho=0.5,
                        precision0=xp.ones(2, dtype=xp.float64))
