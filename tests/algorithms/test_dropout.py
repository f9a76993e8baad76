"""Dropout as the BLR (dropout_sgd): keep probability 1 is SGD on the same minibatches, the mask's
per-weight behaviour, and bad input. Against DropConnect and inverted dropout by hand: the `dropout` row."""

import numpy as np
import pytest

from algorithms.other_library import assert_same_result
from blrkit.algorithms import dropout_sgd

rng = np.random.default_rng(0)
X, y = rng.normal(size=(40, 3)), rng.normal(size=40)


def grad_batch(theta, idx):
    return ((theta @ X[idx].T) - y[idx]) @ X[idx]


def test_keep_probability_one_is_sgd():
    """p = 1: every mask keeps every weight and the step is SGD, m ← m − ρ(N/M) ĝ(m), typed here on the
    driver's draws (the minibatch, then the mask's uniforms, which change nothing)."""
    drop = dropout_sgd(grad_batch, np.zeros(3), rho=0.01, keep_prob=1.0, n_steps=30, n_data=40, batch_size=10, rng=4)
    m, draws = np.zeros(3), np.random.default_rng(4)
    for _ in range(30):
        idx = np.sort(draws.choice(40, 10, replace=False))
        draws.uniform(size=3)  # the mask's draw
        m = m - 0.01 * 40 / 10 * grad_batch(m, idx)
    np.testing.assert_allclose(drop.means[-1], m, rtol=1e-13)


@pytest.mark.parametrize("kwargs, match", [
    (dict(keep_prob=0.0), "keep_prob"), (dict(keep_prob=1.5), "keep_prob"), (dict(rho=0.0), "rho"),
    (dict(batch_size=50), "batch_size"),
])
def test_bad_input_is_named(kwargs, match):
    args = dict(rho=0.01, keep_prob=0.5, n_steps=2, n_data=40, batch_size=10, rng=0) | kwargs
    with pytest.raises(ValueError, match=match):
        dropout_sgd(grad_batch, np.zeros(3), **args)


@pytest.mark.parametrize("model", ["logistic regression", "MLP"])
def test_dropconnect_bit_for_bit_on_logistic_regression_and_the_mlp(model):
    """The issue's workloads: the derived step against DropConnect SGD by hand (blrkit.classical.dropout) on
    the same minibatches and masks, on a logistic regression and on blrkit.models' MLP (every parameter of the
    flat vector dropped independently); equal up to the order of two multiplications (ρN/(Mp) · z · ĝ)."""
    from blrkit.classical.dropout import dropconnect

    r = np.random.default_rng(1)
    if model == "MLP":
        from blrkit.models import MLP, Objective

        net = MLP((4, 8, 3))
        Xm, ym = r.normal(size=(60, 4)), r.integers(0, 3, 60)
        obj = Objective(net, Xm, ym, prior_precision=1.0)
        grad, theta0, N = obj.grad_sum, net.init(r), 60
    else:
        Xl = r.normal(size=(60, 3))
        yl = (r.uniform(size=60) < 0.5).astype(float)

        def grad(theta, idx):  # Σ_{i∈idx} of the logistic loss's gradient
            return (1 / (1 + np.exp(-(theta @ Xl[idx].T))) - yl[idx]) @ Xl[idx]
        theta0, N = np.zeros(3), 60
    rho, keep, M, T = 0.01, 0.8, 12, 40
    res = dropout_sgd(grad, theta0, rho=rho, keep_prob=keep, n_steps=T, n_data=N, batch_size=M, rng=5)
    book = dropconnect(grad, theta0, rho * N / (M * keep), keep, T, N, M, np.random.default_rng(5))
    np.testing.assert_allclose(res.means, book, rtol=1e-12, atol=1e-14)


def test_finite_slab_variance_is_dropconnect_with_gaussian_weight_noise():
    """slab_sd = σ > 0 against DropConnect with noise on the kept weights by hand (same draws); σ = 0 is plain
    DropConnect with no extra draws; a negative σ is refused."""
    from blrkit.algorithms import dropout_sgd
    from blrkit.classical.dropout import dropconnect, noisy_dropconnect

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = X @ np.array([1.0, -2.0, 0.5])
    g = lambda th, idx: ((th @ X[idx].T) - y[idx]) @ X[idx]  # noqa: E731
    kw = dict(rho=0.002, keep_prob=0.8, n_steps=50, n_data=40, batch_size=10)
    noisy = dropout_sgd(g, np.zeros(3), slab_sd=0.5, rng=3, **kw)
    book = noisy_dropconnect(g, np.zeros(3), 0.002 * 4 / 0.8, 0.8, 0.5, 50, 40, 10, np.random.default_rng(3))
    np.testing.assert_allclose(noisy.means, book, rtol=1e-12, atol=1e-14)
    plain = dropout_sgd(g, np.zeros(3), slab_sd=0.0, rng=3, **kw)
    np.testing.assert_allclose(plain.means, dropconnect(g, np.zeros(3), 0.002 * 4 / 0.8, 0.8, 50, 40, 10,
                                                        np.random.default_rng(3)), rtol=1e-12, atol=1e-14)
    assert not np.allclose(noisy.means[-1], plain.means[-1])
    with pytest.raises(ValueError, match="slab_sd"):
        dropout_sgd(g, np.zeros(3), slab_sd=-0.1, rng=3, **kw)


@pytest.mark.parametrize("slab_sd", [0.0, 0.5])
def test_another_array_library_computes_with_its_arrays(slab_sd, other_library):
    """The same run on another library's arrays (the start, one ρ per problem, a gradient callable taking θ and
    the minibatch indices as the library's arrays) gives that library's arrays, equal to the NumPy run: the
    same minibatches, masks and noise, drawn on the host. Two problems in a batch."""
    lib = other_library
    m0, rho = np.random.default_rng(2).normal(size=(2, 3)), np.array([0.002, 0.004])
    kw = dict(keep_prob=0.8, slab_sd=slab_sd, n_steps=20, n_data=40, batch_size=10, rng=3)
    want = dropout_sgd(grad_batch, m0, rho=rho, **kw)
    kinds = set()

    def spy(theta, idx, wrapped=lib.wrap(grad_batch)):
        kinds.update(isinstance(a, lib.array_type) for a in (theta, idx))
        return wrapped(theta, idx)
    got = dropout_sgd(spy, lib.to(m0), rho=lib.to(rho), **kw)
    assert kinds == {True}  # every argument was the library's array
    assert_same_result(got, want, lib, ["means"])


def test_mixing_numpy_with_another_library_names_the_argument():
    xp = pytest.importorskip("array_api_strict")
    with pytest.raises(TypeError, match=r"^rho comes from array_api_strict \(Array\) but m0 from NumPy"):
        dropout_sgd(grad_batch, np.zeros(3), rho=xp.asarray(0.01), keep_prob=0.5, n_steps=2, n_data=40, batch_size=10)
