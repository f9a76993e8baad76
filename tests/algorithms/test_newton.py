"""blrkit.algorithms.newton against a textbook Newton loop, scikit-learn and SciPy.

Problem: L2-regularised logistic regression, ℓ̄(θ) = Σ log-loss + (α/2)‖θ‖²
(:class:`blrkit.classical.problems.LogisticRegression`). Mapping: sklearn's
``LogisticRegression(C=1/α, fit_intercept=False)`` minimises C·Σ log-loss + ½‖θ‖² = C·ℓ̄, so its
``coef_`` is our MAP; ``scipy.optimize.minimize(ℓ̄, jac=∇ℓ̄, hess=∇²ℓ̄, method="trust-exact")`` (via
:func:`blrkit.classical.laplace.laplace`) minimises ℓ̄ itself. Our ``means[t]`` is the textbook iterate x_t; ``precisions[t + 1]`` is ∇²ℓ̄(x_t).
"""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression as SkLogisticRegression

from algorithms.other_library import assert_same_result, convert_all
from algorithms.tolerances import ITERATIVE, SAME_ARITHMETIC, assert_close
from blrkit.algorithms import newton
from blrkit.classical.laplace import laplace as textbook_laplace
from blrkit.classical.newton import newton as textbook_newton
from blrkit.classical.problems import LogisticRegression, logistic_problem, random_spd

ALPHA = 2.0


@pytest.fixture
def problem(rng):
    return logistic_problem(rng, 500, 10, alpha=ALPHA)


def test_iterates_equal_textbook_newton(problem, rng):
    """ρ = 1: means equal x ← x − H(x)⁻¹g(x) (SAME_ARITHMETIC: a solve on a column vs a vector)."""
    m0 = 0.1 * rng.standard_normal(10)
    res = newton(problem.grad, problem.hess, m0, n_steps=8)
    assert res.means.shape == (9, 10) and res.precisions.shape == (9, 10, 10)
    theirs = textbook_newton(problem.grad, problem.hess, m0, 8)
    assert_close(res.means, theirs, SAME_ARITHMETIC)
    for t in range(8):
        assert_close(res.precisions[t + 1], problem.hess(theirs[t]), SAME_ARITHMETIC)


def test_solution_equals_sklearn_and_scipy(problem):
    """The MAP equals sklearn newton-cholesky (C = 1/α) and scipy trust-exact (ITERATIVE, 1e-6)."""
    res = newton(problem.grad, problem.hess, np.zeros(10), n_steps=15)
    m = res.means[-1]
    assert np.linalg.norm(problem.grad(m)) < 1e-9
    sk = SkLogisticRegression(solver="newton-cholesky", C=1 / ALPHA, fit_intercept=False, tol=1e-12,
                              max_iter=100).fit(problem.X, problem.y).coef_[0]
    sp, _ = textbook_laplace(problem.loss, problem.grad, problem.hess, np.zeros(10))
    assert_close(m, sk, ITERATIVE)
    assert_close(m, sp, ITERATIVE)
    assert_close(res.precisions[-1], problem.hess(sp), ITERATIVE)


def test_damped_form_is_the_blr_moving_average(problem, rng):
    """ρ < 1: S_{t+1} = (1−ρ)S_t + ρH(m_t), m_{t+1} = m_t − ρ S_{t+1}⁻¹ g(m_t), written out here by hand;
    it differs from classical damped Newton (which uses H(m_t) alone) but has the same fixed point."""
    rho, m0, S0 = 0.5, np.zeros(10), 30.0 * np.eye(10)
    res = newton(problem.grad, problem.hess, m0, n_steps=60, rho=rho, precision0=S0)
    m, S = m0, S0
    classical = m0
    for t in range(60):
        S = (1 - rho) * S + rho * problem.hess(m)
        m = m - rho * np.linalg.solve(S, problem.grad(m))
        assert_close(res.means[t + 1], m, SAME_ARITHMETIC)
        assert_close(res.precisions[t + 1], S, SAME_ARITHMETIC)
        classical = classical - rho * np.linalg.solve(problem.hess(classical), problem.grad(classical))
        if t == 1:
            assert np.max(np.abs(res.means[2] - classical)) > 1e-3 * np.max(np.abs(classical))
    assert_close(res.means[-1], classical, ITERATIVE)
    assert_close(res.precisions[-1], problem.hess(classical), ITERATIVE)


def test_batch_equals_single_calls(rng):
    """B problems (ρ per problem) in one call equal B single calls."""
    B = 3
    p = logistic_problem(rng, 80, 4, batch=(B,))
    m0 = rng.standard_normal((B, 4))
    S0 = random_spd(rng, 4, batch=(B,), scale=20.0)
    rho = np.array([1.0, 0.5, 0.3])
    res = newton(p.grad, p.hess, m0, n_steps=6, rho=rho, precision0=S0)
    for b in range(B):
        single = LogisticRegression(p.X[b], p.y[b], p.alpha)
        one = newton(single.grad, single.hess, m0[b], n_steps=6, rho=rho[b], precision0=S0[b])
        assert_close(res.means[:, b], one.means, SAME_ARITHMETIC)
        assert_close(res.precisions[:, b], one.precisions, SAME_ARITHMETIC)


def test_precision0_defaults_to_the_first_hessian(problem):
    res = newton(problem.grad, problem.hess, np.zeros(10), n_steps=2)
    assert_close(res.precisions[0], problem.hess(np.zeros(10)), SAME_ARITHMETIC)
    zero = newton(problem.grad, problem.hess, np.zeros(10), n_steps=0)
    assert zero.means.shape == (1, 10)
    assert_close(zero.precisions[0], problem.hess(np.zeros(10)), SAME_ARITHMETIC)


def test_inputs_not_modified(problem):
    m0, S0 = np.zeros(10), 5 * np.eye(10)
    keep = m0.copy(), S0.copy()
    newton(problem.grad, problem.hess, m0, n_steps=2, rho=0.5, precision0=S0)
    np.testing.assert_array_equal(m0, keep[0])
    np.testing.assert_array_equal(S0, keep[1])


def _indefinite(m):
    return np.broadcast_to(np.diag([1.0, -1.0]), m.shape + (2,))


@pytest.mark.parametrize("change, match", [
    (dict(rho=0.0), "rho"), (dict(rho=1.01), "rho"), (dict(rho=0.5), "precision0"),
    (dict(rho=0.5, precision0=-np.eye(2)), "precision0"), (dict(rho=0.5, precision0=np.eye(3)), "precision0"),
    (dict(precision0=np.ones((4, 2, 2)) + np.eye(2)), "precision0"),
    (dict(hess=_indefinite), "hess"), (dict(hess=lambda m: np.eye(3)), "hess"),
    (dict(grad=lambda m: np.full(m.shape, np.inf)), "grad"), (dict(m0=[np.nan, 0.0]), "m0"),
])
def test_bad_arguments_raise_naming_them(change, match):
    args = dict(grad=lambda m: m, hess=lambda m: np.broadcast_to(np.eye(2), m.shape + (2,)), m0=np.ones(2),
                n_steps=2) | change
    with pytest.raises(ValueError, match=match):
        newton(args.pop("grad"), args.pop("hess"), args.pop("m0"), **args)


# -- arrays of another library (array-api-strict, PyTorch, JAX) ----------------------------------------

@pytest.mark.parametrize("rho", [1.0, 0.5])
def test_on_another_array_library_equals_numpy(other_library, rng, rho):
    """m0, precision0 (ρ < 1) and the callables in another library: the run computes in it and equals NumPy's."""
    p = logistic_problem(rng, 40, 3, batch=(2,))
    args = dict(grad=p.grad, hess=p.hess, m0=rng.standard_normal((2, 3)), n_steps=3, rho=rho)
    if rho < 1:
        args["precision0"] = random_spd(rng, 3, batch=(2,)) + 10 * np.eye(3)
    want = newton(**args)
    got = newton(**convert_all(other_library, args))
    assert_same_result(got, want, other_library, ["means", "precisions"])


def test_mixing_array_libraries_names_the_argument(rng):
    xp = pytest.importorskip("array_api_strict")
    with pytest.raises(TypeError, match=r"^precision0 comes from array_api_strict .* but m0 from NumPy"):
        newton(lambda m: m, lambda m: np.broadcast_to(np.eye(2), (2, 2)), np.ones(2), n_steps=1, rho=0.5,
               precision0=xp.eye(2, dtype=xp.float64))


@pytest.mark.parametrize("H", [np.zeros((2, 2)), np.diag([1.0, -1.0])], ids=["singular", "indefinite"])
def test_bad_hessian_on_another_array_library_names_hess(other_library, H):
    """A singular or indefinite Hessian off NumPy is the ValueError naming hess that NumPy gives: the
    library's LinAlgError is recognised (JAX returns NaN instead: check_step then finds the precision
    without a Cholesky factor), and the positive-definiteness check runs in the library."""
    hess = other_library.wrap(lambda m: np.broadcast_to(H, m.shape + (2,)))
    with pytest.raises(ValueError, match="^hess"):
        newton(other_library.wrap(lambda m: m), hess, other_library.to(np.ones(2)), n_steps=1)
