"""blrkit.algorithms.gradient_descent against a textbook loop (blrkit.classical).

Mapping: blrkit's ρ (for q = N(m, I)) is the textbook step size; ``means[t]`` is the t-th iterate.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from algorithms.other_library import assert_same_result, convert_all
from algorithms.tolerances import SAME_ARITHMETIC, assert_close
from blrkit.algorithms import gradient_descent
from blrkit.classical.gradient_descent import gradient_descent as textbook_gd
from blrkit.classical.problems import logistic_problem, random_spd


def test_equals_textbook_loop_on_logistic_regression(rng):
    """Iterates equal the textbook loop x ← x − ρ∇ℓ̄(x) exactly: same arithmetic, bit for bit."""
    p = logistic_problem(rng, 200, 5)
    m0 = rng.standard_normal(5)
    ours = gradient_descent(p.grad, m0, rho=0.002, n_steps=50).means
    theirs = textbook_gd(p.grad, m0, 0.002, 50)
    assert ours.shape == (51, 5)
    np.testing.assert_array_equal(ours, theirs)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), D=st.integers(1, 6), rho=st.floats(0.01, 1.0), n=st.integers(0, 20))
def test_equals_textbook_loop_on_random_quadratics(seed, D, rho, n):
    """ℓ̄ = ½ θᵀAθ − bᵀθ with random SPD A (scaled so that GD is stable): iterates equal the loop."""
    r = np.random.default_rng(seed)
    A = random_spd(r, D)
    A /= np.linalg.eigvalsh(A)[-1]
    b = r.standard_normal(D)
    m0 = r.standard_normal(D)
    ours = gradient_descent(lambda m: m @ A - b, m0, rho=rho, n_steps=n).means
    theirs = textbook_gd(lambda x: x @ A - b, m0, rho, n)
    assert_close(ours, theirs, SAME_ARITHMETIC)


def test_batch_equals_single_calls(rng):
    """B problems in one call (ρ per problem) equal B single calls."""
    B = 4
    p = logistic_problem(rng, 100, 3, batch=(B,))
    m0 = rng.standard_normal((B, 3))
    rho = np.array([0.001, 0.002, 0.003, 0.004])
    batched = gradient_descent(p.grad, m0, rho=rho, n_steps=30).means
    assert batched.shape == (31, B, 3)
    for b in range(B):
        single = type(p)(p.X[b], p.y[b], p.alpha)
        assert_close(batched[:, b], gradient_descent(single.grad, m0[b], rho=rho[b], n_steps=30).means,
                     SAME_ARITHMETIC)


def test_inputs_not_modified(rng):
    m0 = rng.standard_normal(3)
    rho = np.array(0.5)
    keep = m0.copy()
    gradient_descent(lambda m: m, m0, rho=rho, n_steps=3)
    np.testing.assert_array_equal(m0, keep)
    assert rho == 0.5


@pytest.mark.parametrize("kwargs, match", [
    (dict(rho=0.0), "rho"), (dict(rho=1.5), "rho"), (dict(rho=np.nan), "rho"),
    (dict(rho=np.array([0.1, 0.2])), "rho"), (dict(n_steps=-1), "n_steps"), (dict(n_steps=2.5), "n_steps"),
    (dict(m0=[1.0, np.inf]), "m0"), (dict(m0=5.0), "m0"), (dict(grad=lambda m: m[:1]), "grad"),
    (dict(grad=lambda m: m * np.nan), "grad"),
])
def test_bad_arguments_raise_naming_them(kwargs, match):
    args = dict(grad=lambda m: m, m0=np.ones(2), rho=0.5, n_steps=2) | kwargs
    with pytest.raises(ValueError, match=match):
        gradient_descent(args.pop("grad"), args.pop("m0"), **args)


# -- arrays of another library (array-api-strict, PyTorch, JAX) ----------------------------------------

def test_on_another_array_library_equals_numpy(other_library, rng):
    """m0, ρ (one per problem) and grad in another library: the run computes in it and equals NumPy's."""
    p = logistic_problem(rng, 40, 3, batch=(2,))
    args = dict(grad=p.grad, m0=rng.standard_normal((2, 3)), rho=np.array([0.01, 0.02]), n_steps=4)
    want = gradient_descent(**args)
    got = gradient_descent(**convert_all(other_library, args))
    assert_same_result(got, want, other_library, ["means"])


def test_mixing_array_libraries_names_the_argument():
    xp = pytest.importorskip("array_api_strict")
    with pytest.raises(TypeError, match=r"^rho comes from array_api_strict .* but m0 from NumPy"):
        gradient_descent(lambda m: m, np.ones(2), rho=xp.asarray(0.5, dtype=xp.float64), n_steps=1)


def test_a_gradient_answering_in_another_library_is_named():
    """grad must answer in the library of its argument: a NumPy array (or a list) for an array-api-strict m
    is refused naming grad, not m."""
    xp = pytest.importorskip("array_api_strict")
    for answer in (np.ones(2), [1.0, 1.0]):
        with pytest.raises(TypeError, match=r"^grad returned a NumPy array \(ndarray\) for m from array_api_strict"):
            gradient_descent(lambda m, a=answer: a, xp.asarray([1.0, 2.0]), rho=0.5, n_steps=1)
