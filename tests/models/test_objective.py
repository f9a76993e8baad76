"""The optimisers' callables of an Objective are consistent scalings of one ℓ̄(θ) = Σℓ_i + α‖θ‖²/2,
and ℓ̄'s own gradient is checked against finite differences of its value."""

import numpy as np
import pytest

from blrkit.models import MLP, Objective, digits, moons

#: Sums of the same per-example products in different orders: rounding.
SUM_RTOL = 1e-12


@pytest.fixture
def objective(rng):
    net = MLP((2, 5, 3))
    X = rng.standard_normal((20, 2))
    y = rng.integers(0, 3, 20)
    return Objective(net, X, y, prior_precision=2.0)


def test_scalings_of_one_objective(objective, rng):
    theta = objective.net.init(rng, batch=(3,))
    idx = np.array([0, 3, 7, 19])
    terms = objective.grad_terms(theta, idx)
    assert terms.shape == (3, 4, objective.net.n_params)
    np.testing.assert_allclose(terms.sum(-2), objective.grad_sum(theta, idx), rtol=SUM_RTOL)
    wd = 2.0 / 20
    np.testing.assert_allclose(terms.mean(-2), objective.grad_batch(theta, idx) + wd * theta, rtol=SUM_RTOL,
                               atol=1e-15)
    # all N terms: the gradient of value() = ℓ̄/N, by central differences (step 1e-5, as in test_mlp)
    full = np.arange(20)
    E = np.eye(objective.net.n_params) * 1e-5
    fd = (objective.value(theta[0] + E) - objective.value(theta[0] - E)) / 2e-5
    np.testing.assert_allclose(objective.grad_sum(theta[0], full) / 20, fd, rtol=0, atol=1e-8)


def test_minibatch_grad_draws_like_the_drivers(objective, rng):
    theta = objective.net.init(rng)
    grad = objective.minibatch_grad(5, np.random.default_rng(4))
    twin = np.random.default_rng(4)
    for _ in range(3):
        idx = np.sort(twin.choice(20, 5, replace=False))
        np.testing.assert_allclose(grad(theta), objective.grad_sum(theta, idx) / 5, rtol=SUM_RTOL)


def test_caller_arrays_are_copied(rng):
    X, y = rng.standard_normal((4, 2)), np.array([0, 1, 1, 0])
    obj = Objective(MLP((2, 3, 2)), X, y)
    X[0, 0] = 100.0
    assert obj.X[0, 0] != 100.0
    with pytest.raises(ValueError):
        obj.X[0, 0] = 1.0


def test_bad_input(rng):
    net = MLP((2, 3, 2))
    with pytest.raises(TypeError, match="net must be an MLP"):
        Objective("net", np.zeros((2, 2)), [0, 1])
    with pytest.raises(ValueError, match="prior_precision must be >= 0"):
        Objective(net, np.zeros((2, 2)), np.array([0, 1]), prior_precision=-1.0)
    obj = Objective(net, np.zeros((2, 2)), np.array([0, 1]))
    with pytest.raises(ValueError, match="batch_size must be an integer in 1..2"):
        obj.minibatch_grad(3, 0)
    with pytest.raises(ValueError, match="idx must be a 1-D array of integer"):
        obj.grad_batch(net.init(0), [0.5])


def test_datasets():
    d = digits()
    assert d.X_train.shape == (1257, 64) and d.X_test.shape == (540, 64) and d.n_classes == 10
    assert 0 <= d.X_train.min() and d.X_train.max() <= 1 and d.y_train.dtype == np.int64
    assert np.bincount(d.y_test).min() >= 50                 # stratified: every class in the test set
    m = moons(200, noise=0.1, seed=3)
    assert m.X_train.shape == (100, 2) and set(np.unique(m.y_train)) == {0, 1}
    np.testing.assert_array_equal(moons(200, noise=0.1, seed=3).X_test, m.X_test)
    with pytest.raises(ValueError, match="test_fraction"):
        digits(test_fraction=1.5)
    with pytest.raises(ValueError, match="noise"):
        moons(noise=-1.0)


def test_grad_sums_are_the_sums_of_grad_terms():
    """The sums from the network's second backward product, the prior share added in closed form, against
    the per-example gradients summed (and squared) here."""
    rng = np.random.default_rng(1)
    net = MLP((4, 6, 3), activation="tanh")
    X, y = rng.normal(size=(25, 4)), rng.integers(0, 3, 25)
    obj = Objective(net, X, y, prior_precision=2.0)
    theta, idx = rng.normal(size=(2, net.n_params)) / 3, np.arange(3, 15)
    G = obj.grad_terms(theta, idx)
    g, g2 = obj.grad_sums(theta, idx)
    np.testing.assert_allclose(g, G.sum(-2), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(g2, (G ** 2).sum(-2), rtol=1e-12, atol=1e-14)
