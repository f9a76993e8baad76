"""blrkit.algorithms.ridge against scikit-learn, the augmented least-squares oracle and the BLR itself.

Mapping: blrkit's posterior mean with prior precision α and noise variance σ² equals
``sklearn.linear_model.Ridge(alpha=σ²·α, fit_intercept=False).coef_`` (sklearn's penalty
multiplies ‖θ‖² in ‖y − Xθ‖² + penalty‖θ‖², i.e. σ² times ℓ̄), and
``blrkit.classical.ridge.ridge(X, y, penalty=σ²·α)``.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import Ridge

from algorithms.other_library import assert_same_result, convert_all
from algorithms.tolerances import CLOSED_FORM, SAME_ARITHMETIC, assert_close
from blrkit.algorithms import newton, ridge
from blrkit.algorithms._generated.damped_newton import damped_newton_step
from blrkit.classical.ridge import ridge as textbook_ridge


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), N=st.integers(1, 60), D=st.integers(1, 8),
       alpha=st.floats(1e-2, 1e2), s2=st.floats(1e-2, 1e2))
def test_equals_sklearn_and_least_squares(seed, N, D, alpha, s2):
    """Mean = sklearn Ridge(alpha=σ²α) and SVD least squares on [X; √(σ²α) I] (CLOSED_FORM, 1e-8:
    one-step closed forms by different factorisations); precision = XᵀX/σ² + αI."""
    r = np.random.default_rng(seed)
    X = r.standard_normal((N, D))
    y = r.standard_normal(N)
    post = ridge(X, y, alpha, noise_variance=s2)
    sk = Ridge(alpha=s2 * alpha, fit_intercept=False, solver="svd").fit(X, y).coef_
    assert_close(post.mean, sk, CLOSED_FORM)
    assert_close(post.mean, textbook_ridge(X, y, s2 * alpha), CLOSED_FORM)
    assert_close(post.precision, X.T @ X / s2 + alpha * np.eye(D), SAME_ARITHMETIC)
    assert_close(post.covariance @ post.precision, np.eye(D), CLOSED_FORM)


def test_equals_one_blr_step_from_an_arbitrary_start(rng):
    """The Gaussian BLR with ρ = 1 on ℓ̄ = ‖y − Xθ‖²/(2σ²) + α‖θ‖²/2 reaches the ridge posterior in one
    step from any (m₀, S₀): conjugacy (Khan & Rue 2023, Sec. 5.1). CLOSED_FORM: same maths, other order."""
    X, y, alpha, s2 = rng.standard_normal((50, 4)), rng.standard_normal(50), 0.7, 0.3
    grad = lambda m: (m @ X.T - y) @ X / s2 + alpha * m  # noqa: E731
    hess = lambda m: np.broadcast_to(X.T @ X / s2 + alpha * np.eye(4), m.shape + (4,))  # noqa: E731
    m0 = 100 * rng.standard_normal(4)
    S0 = 10 * np.eye(4)
    step = newton(grad, hess, m0, n_steps=1, precision0=S0)
    post = ridge(X, y, alpha, noise_variance=s2)
    assert_close(step.means[1], post.mean, CLOSED_FORM)
    assert_close(step.precisions[1], post.precision, CLOSED_FORM)
    # the general Gaussian BLR step, S₁ = (1 − ρ)S₀ + ρH, m₁ = m₀ − ρS₁⁻¹g, with ρ = 1 and S₀ weighted 0
    m1, S1 = damped_newton_step(m0, S0, 1.0, grad, hess)
    assert_close(m1, post.mean, CLOSED_FORM)
    assert_close(S1, post.precision, CLOSED_FORM)
    # and with ρ < 1 the BLR converges geometrically, λ_t − λ* = (1 − ρ)^t (λ_0 − λ*), to the same posterior
    slow = newton(grad, hess, m0, n_steps=200, rho=0.2, precision0=S0)
    assert_close(slow.means[-1], post.mean, CLOSED_FORM)
    assert_close(slow.precisions[-1], post.precision, CLOSED_FORM)


def test_batch_equals_single_calls(rng):
    """B problems, per-problem α and σ², in one call equal B single calls."""
    B, N, D = 5, 30, 3
    X, y = rng.standard_normal((B, N, D)), rng.standard_normal((B, N))
    alpha, s2 = rng.uniform(0.1, 2, B), rng.uniform(0.1, 2, B)
    post = ridge(X, y, alpha, noise_variance=s2)
    assert post.mean.shape == (B, D) and post.precision.shape == (B, D, D) and post.covariance.shape == (B, D, D)
    for b in range(B):
        single = ridge(X[b], y[b], alpha[b], noise_variance=s2[b])
        assert_close(post.mean[b], single.mean, SAME_ARITHMETIC)
        assert_close(post.precision[b], single.precision, SAME_ARITHMETIC)


def test_inputs_not_modified(rng):
    X, y = rng.standard_normal((10, 2)), rng.standard_normal(10)
    keep = X.copy(), y.copy()
    ridge(X, y, 1.0)
    np.testing.assert_array_equal(X, keep[0])
    np.testing.assert_array_equal(y, keep[1])


@pytest.mark.parametrize("change, match", [
    (dict(y=np.ones(9)), "y"), (dict(X=np.ones(10)), "X"), (dict(alpha=0.0), "alpha"),
    (dict(alpha=-1.0), "alpha"), (dict(noise_variance=0.0), "noise_variance"),
    (dict(alpha=np.ones(3)), "alpha"), (dict(noise_variance=np.nan), "noise_variance"),
    (dict(X=np.where(np.eye(10, 2) > 0, np.nan, 1.0)), "X"), (dict(X=np.full((10, 2), np.inf)), "X"),
    (dict(y=np.r_[np.inf, np.ones(9)]), "y"), (dict(y=np.r_[np.nan, np.ones(9)]), "y"),
])
def test_bad_arguments_raise_naming_them(change, match):
    args = dict(X=np.ones((10, 2)) + np.eye(10, 2), y=np.ones(10), alpha=1.0, noise_variance=1.0) | change
    with pytest.raises(ValueError, match=match):
        ridge(args.pop("X"), args.pop("y"), args.pop("alpha"), **args)


# -- arrays of another library (array-api-strict, PyTorch, JAX) ----------------------------------------

def test_on_another_array_library_equals_numpy(other_library, rng):
    """X, y and α (one per problem) in another library, σ² a Python number: the posterior is computed in
    it (mean, precision and the covariance derived from it) and equals NumPy's."""
    args = dict(X=rng.standard_normal((2, 20, 3)), y=rng.standard_normal((2, 20)), alpha=np.array([0.5, 2.0]),
                noise_variance=0.3)
    want = ridge(**args)
    got = ridge(**convert_all(other_library, args))
    assert_same_result(got, want, other_library, ["mean", "precision", "covariance"])


@pytest.mark.parametrize("odd", ["X", "y", "alpha"])
def test_mixing_array_libraries_names_the_argument(odd):
    xp = pytest.importorskip("array_api_strict")
    args = dict(X=np.ones((4, 2)) + np.eye(4, 2), y=np.ones(4), alpha=np.array(1.0))
    args[odd] = xp.asarray(args[odd], dtype=xp.float64)
    with pytest.raises(TypeError, match=rf"^{odd} comes from array_api_strict .* from NumPy"):
        ridge(**args)


def test_data_whose_gram_matrix_overflows_is_named():
    """x = 1e160: XᵀX = 1e320 overflows, though X and y are finite; the cheap test on the outputs sees the inf and
    the exact test on the data tells the overflow from bad data.
    Fails on: the finiteness test of the outputs dropped (an inf precision returned)."""
    with np.errstate(over="ignore"), pytest.raises(ValueError, match="^X and y are finite but XᵀX/σ² or Xᵀy/σ² overflowed"):
        ridge(np.array([[1e160], [0.0]]), np.array([2.0, 5.0]), 1.0)
