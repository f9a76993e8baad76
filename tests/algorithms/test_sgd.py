"""blrkit.algorithms.stochastic_gradient_descent against a textbook minibatch loop.

Mapping: ρ is the textbook step size; minibatches are
``np.sort(rng.choice(n_data, batch_size, replace=False))`` in both, so generators in the same state draw the same minibatches.
"""

import numpy as np
import pytest

from algorithms.other_library import assert_same_result, convert_all
from algorithms.tolerances import SAME_ARITHMETIC, assert_close
from blrkit.algorithms import gradient_descent, stochastic_gradient_descent
from blrkit.classical.problems import logistic_problem
from blrkit.classical.sgd import sgd


def _terms(p):
    """Σ_{i∈idx} ∇ℓ_i for the logistic loss (no prior), batched over problems."""
    from scipy.special import expit

    def grad_terms(m, idx):
        X, y = p.X[..., idx, :], p.y[..., idx]
        r = expit((X @ m[..., None])[..., 0]) - y
        return (np.swapaxes(X, -1, -2) @ r[..., None])[..., 0]
    return grad_terms


def test_equals_textbook_loop(rng):
    p = logistic_problem(rng, 100, 4)
    m0 = rng.standard_normal(4)
    res = stochastic_gradient_descent(_terms(p), m0, rho=1e-3, n_steps=50, n_data=100, batch_size=10,
                                      rng=np.random.default_rng(5))
    assert_close(res.means, sgd(_terms(p), m0, 1e-3, 50, 100, 10, np.random.default_rng(5)), SAME_ARITHMETIC)


def test_full_batch_is_gradient_descent(rng):
    """M = N: the minibatch estimate is the full gradient (SAME_ARITHMETIC: the sum's order differs)."""
    p = logistic_problem(rng, 50, 3, batch=(2,))
    full = _terms(p)
    res = stochastic_gradient_descent(full, np.zeros((2, 3)), rho=1e-2, n_steps=20, n_data=50, batch_size=50, rng=0)
    gd = gradient_descent(lambda m: full(m, np.arange(50)), np.zeros((2, 3)), rho=1e-2, n_steps=20)
    assert_close(res.means, gd.means, SAME_ARITHMETIC)


@pytest.mark.parametrize("change, match", [
    (dict(batch_size=0), "batch_size"), (dict(batch_size=11), "batch_size"), (dict(n_data=0), "n_data"),
    (dict(rho=2.0), "rho"), (dict(grad_terms=lambda m, idx: m[..., :1]), "grad_terms"),
])
def test_bad_arguments_raise_naming_them(change, match):
    args = dict(grad_terms=lambda m, idx: m, m0=np.ones(2), rho=0.1, n_steps=2, n_data=10, batch_size=2) | change
    with pytest.raises(ValueError, match=match):
        stochastic_gradient_descent(args.pop("grad_terms"), args.pop("m0"), **args)


# -- arrays of another library (array-api-strict, PyTorch, JAX) ----------------------------------------

def test_on_another_array_library_equals_numpy(other_library, rng):
    """m0, ρ and grad_terms in another library (the minibatch indices reach it as that library's
    integer arrays): the run computes in it, draws the same minibatches and equals NumPy's."""
    p = logistic_problem(rng, 30, 3, batch=(2,))
    args = dict(grad_terms=_terms(p), m0=rng.standard_normal((2, 3)), rho=np.array([1e-2, 2e-2]), n_steps=4,
                n_data=30, batch_size=5)
    seen = []

    def grad_terms(m, idx):
        seen.append(type(idx))
        return other_library.wrap(_terms(p))(m, idx)

    want = stochastic_gradient_descent(**args, rng=3)
    got = stochastic_gradient_descent(**convert_all(other_library, args) | dict(grad_terms=grad_terms), rng=3)
    assert seen and all(issubclass(t, other_library.array_type) for t in seen), seen
    assert_same_result(got, want, other_library, ["means"])


def test_mixing_array_libraries_names_the_argument():
    xp = pytest.importorskip("array_api_strict")
    with pytest.raises(TypeError, match=r"^m0 comes from array_api_strict .* but rho from NumPy"):
        stochastic_gradient_descent(lambda m, i: m, xp.ones(2, dtype=xp.float64), rho=np.array(0.5), n_steps=1,
                                    n_data=4, batch_size=2)
