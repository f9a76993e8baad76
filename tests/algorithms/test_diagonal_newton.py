"""blrkit.algorithms.diagonal_newton against a textbook loop (blrkit.classical.diagonal_newton).

Mapping: ``precision0`` is the textbook s₀, ``rho`` the averaging weight and step size; ``means[t]``,
``precisions[t]`` are the textbook (x_t, s_t).
"""

import numpy as np
import pytest

from algorithms.tolerances import ITERATIVE, SAME_ARITHMETIC, assert_close
from blrkit.algorithms import diagonal_newton, laplace
from blrkit.classical.diagonal_newton import diagonal_newton as textbook
from blrkit.classical.problems import logistic_problem


def _hess_diag(p):
    return lambda m: np.diagonal(p.hess(m), axis1=-2, axis2=-1)


@pytest.mark.parametrize("rho", [1.0, 0.3])
def test_equals_textbook_loop(rng, rho):
    p = logistic_problem(rng, 200, 5)
    m0, s0 = rng.standard_normal(5), rng.uniform(1, 5, 5)
    res = diagonal_newton(p.grad, _hess_diag(p), m0, n_steps=40, rho=rho, precision0=s0)
    xs, ss = textbook(p.grad, _hess_diag(p), m0, s0, rho, 40)
    assert_close(res.means, xs, SAME_ARITHMETIC)
    assert_close(res.precisions, ss, SAME_ARITHMETIC)


def test_fixed_point_is_the_map(rng):
    """The mean converges to the MAP (the full-Newton Laplace mean) (ITERATIVE)."""
    p = logistic_problem(rng, 200, 4)
    res = diagonal_newton(p.grad, _hess_diag(p), np.zeros(4), n_steps=300, rho=0.5, precision0=np.ones(4))
    assert_close(res.means[-1], laplace(p.grad, p.hess, np.zeros(4)).mean, ITERATIVE)
    assert_close(res.precisions[-1], _hess_diag(p)(res.means[-1]), ITERATIVE)


def test_batch_equals_single_calls(rng):
    B = 3
    p = logistic_problem(rng, 60, 3, batch=(B,))
    rho = np.array([1.0, 0.5, 0.2])
    s0 = rng.uniform(1, 3, (B, 3))
    res = diagonal_newton(p.grad, _hess_diag(p), np.zeros((B, 3)), n_steps=10, rho=rho, precision0=s0)
    for b in range(B):
        single = type(p)(p.X[b], p.y[b], p.alpha)
        one = diagonal_newton(single.grad, _hess_diag(single), np.zeros(3), n_steps=10, rho=rho[b], precision0=s0[b])
        assert_close(res.means[:, b], one.means, SAME_ARITHMETIC)
        assert_close(res.precisions[:, b], one.precisions, SAME_ARITHMETIC)


@pytest.mark.parametrize("change, match", [
    (dict(rho=0.5), "precision0"), (dict(rho=0.5, precision0=np.array([1.0, -1.0])), "precision0"),
    (dict(precision0=np.ones(3)), "precision0"), (dict(rho=-0.1), "rho"),
    (dict(hess_diag=lambda m: -np.ones(m.shape)), "hess_diag"), (dict(hess_diag=lambda m: m[..., :1]), "hess_diag"),
])
def test_bad_arguments_raise_naming_them(change, match):
    args = dict(grad=lambda m: m, hess_diag=lambda m: np.ones(m.shape), m0=np.ones(2), n_steps=2) | change
    with pytest.raises(ValueError, match=match):
        diagonal_newton(args.pop("grad"), args.pop("hess_diag"), args.pop("m0"), **args)
