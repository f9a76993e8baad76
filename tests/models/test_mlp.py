"""The MLP's hand-written backpropagation against central finite differences of its own loss, and
its per-example gradients against the batch gradient."""

import numpy as np
import pytest

from blrkit.models import MLP

#: Central differences with step 1e-5 on a loss of order 1: truncation error ~ h²·|ℓ'''|/6 ≈ 1e-11,
#: rounding ~ ε_mach·|ℓ|/h ≈ 2e-11; 1e-8 absolute leaves room for third derivatives up to ~1e3.
FD_STEP, FD_ATOL = 1e-5, 1e-8
#: A sum of n = 7 products against one matrix product: rounding only.
SUM_RTOL = 1e-12


def problem(rng, sizes, n=7):
    X = rng.standard_normal((n, sizes[0]))
    y = rng.integers(0, sizes[-1], n)
    return X, y


@pytest.mark.parametrize("sizes, activation", [((3, 5, 4), "tanh"), ((3, 5, 4, 3), "tanh"), ((3, 6, 5, 2), "relu")])
def test_gradient_matches_finite_differences(rng, sizes, activation, monkeypatch):
    net = MLP(sizes, activation)
    X, y = problem(rng, sizes)
    theta = net.init(rng) + 0.1 * rng.standard_normal(net.n_params)  # biases ≠ 0 too
    g = net.gradient(theta, X, y)
    E = np.eye(net.n_params) * FD_STEP
    fd = (net.loss(theta + E, X, y) - net.loss(theta - E, X, y)) / (2 * FD_STEP)  # all D directions at once
    np.testing.assert_allclose(g, fd, rtol=0, atol=FD_ATOL)
    # the check sees a wrong variant: φ' taken as 1 everywhere (a dropped factor in δ_{l-1})
    monkeypatch.setattr("blrkit.models.mlp.derivative_from_output", lambda a, name: np.ones_like(a))
    assert np.max(np.abs(net.gradient(theta, X, y) - fd)) > 1e3 * FD_ATOL


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_per_example_gradients_sum_to_the_gradient_and_each_is_its_own(rng, activation):
    net = MLP((4, 6, 5, 3), activation)
    X, y = problem(rng, net.sizes)
    theta = net.init(rng, batch=(2, 3))                      # leading axes: 2 × 3 networks
    G = net.per_example_gradients(theta, X, y)
    assert G.shape == (2, 3, 7, net.n_params)
    np.testing.assert_allclose(G.mean(-2), net.gradient(theta, X, y), rtol=SUM_RTOL, atol=1e-15)
    for i in (0, 4):  # example i alone: the gradient of its own loss, network by network
        np.testing.assert_allclose(G[1, 2, i], net.gradient(theta[1, 2], X[i:i + 1], y[i:i + 1]), rtol=SUM_RTOL,
                                   atol=1e-15)


def test_square_sums_are_those_of_the_per_example_gradients(rng):
    net = MLP((4, 6, 5, 3))
    X, y = problem(rng, net.sizes)
    theta = net.init(rng, batch=(2,))
    G = net.per_example_gradients(theta, X, y)
    g, g2 = net.gradient_square_sums(theta, X, y)
    np.testing.assert_allclose(g, G.sum(-2), rtol=SUM_RTOL, atol=1e-14)
    np.testing.assert_allclose(g2, (G**2).sum(-2), rtol=SUM_RTOL, atol=1e-14)


def test_leading_axes_are_independent_networks(rng):
    net = MLP((2, 3, 2))
    X, y = problem(rng, net.sizes)
    theta = net.init(rng, batch=(4,))
    np.testing.assert_allclose(net.loss(theta, X, y), [net.loss(t, X, y) for t in theta], rtol=1e-14)
    np.testing.assert_allclose(net.gradient(theta, X, y), [net.gradient(t, X, y) for t in theta], rtol=1e-13)


def test_loss_is_the_cross_entropy_by_hand(rng):
    net = MLP((2, 3, 3))
    X, y = problem(rng, net.sizes, n=5)
    theta = net.init(rng)
    z = net.logits(theta, X)
    by_hand = np.mean([-np.log(np.exp(z[i, y[i]]) / np.exp(z[i]).sum()) for i in range(5)])
    np.testing.assert_allclose(net.loss(theta, X, y), by_hand, rtol=1e-14)
    assert np.all(np.isfinite(net.loss(1e4 * theta, X, y)))   # large logits: log-sum-exp, no overflow


def test_layout_of_theta():
    net = MLP((2, 3, 2))
    theta = np.arange(net.n_params, dtype=float)
    (W1, b1), (W2, b2) = net.unflatten(theta)
    np.testing.assert_array_equal(W1, [[0, 1, 2], [3, 4, 5]])
    np.testing.assert_array_equal(b1, [6, 7, 8])
    np.testing.assert_array_equal(W2, [[9, 10], [11, 12], [13, 14]])
    np.testing.assert_array_equal(b2, [15, 16])


@pytest.mark.parametrize("args, error, says", [
    (((3, 2),), ValueError, "at least one hidden layer"),
    (((3, 0, 2),), ValueError, r"sizes\[1\]"),
    (((3, 4, 1),), ValueError, "number of classes"),
    (((3, 4, 2), "sigmoid"), ValueError, "activation must be one of"),
    (("342",), ValueError, "sizes must be a tuple"),
])
def test_bad_architecture(args, error, says):
    with pytest.raises(error, match=says):
        MLP(*args)


def test_bad_data_and_parameters(rng):
    net = MLP((3, 4, 2))
    X, y = problem(rng, net.sizes)
    theta = net.init(rng)
    with pytest.raises(ValueError, match="theta must have D = 26"):
        net.loss(theta[:-1], X, y)
    with pytest.raises(ValueError, match=r"X must have shape \(n, 3\)"):
        net.loss(theta, X[:, :2], y)
    with pytest.raises(ValueError, match="y must be integer class labels"):
        net.loss(theta, X, y.astype(float))
    with pytest.raises(ValueError, match="labels in 0..1"):
        net.loss(theta, X, y + 2)
    with pytest.raises(ValueError, match="theta must be finite"):
        net.gradient(np.full(net.n_params, np.nan).tolist(), X, y)
    before = theta.copy()
    net.per_example_gradients(theta, X, y)
    np.testing.assert_array_equal(theta, before)
