"""Bad input on the models (issue #27): the MLP's fast paths (float64 arrays skip the conversion) still refuse NaN
and empty data, and the Objective names a bad minibatch index."""

import numpy as np
import pytest

from blrkit.models import MLP, Objective


@pytest.fixture
def net_and_data(rng):
    net = MLP((2, 3, 2))
    X = rng.normal(size=(5, 2))
    y = np.array([0, 1, 1, 0, 1])
    return net, net.init(rng), X, y


@pytest.mark.parametrize("method", ["loss", "gradient", "gradient_square_sums", "per_example_gradients"])
@pytest.mark.parametrize("where", ["theta", "X"])
def test_nan_in_a_float64_array_is_named(net_and_data, method, where):
    """Before: lists were checked, float64 arrays (the fast path) returned NaN."""
    net, theta, X, y = net_and_data
    bad = {"theta": theta.copy(), "X": X.copy()}
    bad[where].flat[1] = np.nan
    with pytest.raises(ValueError, match=f"^{where} must be finite"):
        getattr(net, method)(bad["theta"], bad["X"], y)


@pytest.mark.parametrize("method", ["loss", "gradient"])
def test_empty_data_is_refused(net_and_data, method):
    """Before: the mean over no examples was NaN."""
    net, theta, _, _ = net_and_data
    with pytest.raises(ValueError, match=r"^X must have shape \(n, 2\) with n >= 1 examples"):
        getattr(net, method)(theta, np.zeros((0, 2)), np.zeros(0, dtype=int))


def test_an_overflow_is_named(net_and_data):
    """Finite inputs whose forward pass overflows: the error says so (NumPy's own warnings silenced here)."""
    net, theta, X, y = net_and_data
    with np.errstate(all="ignore"), pytest.raises(ValueError, match="^the loss overflowed"):
        net.loss(np.full_like(theta, 1e308), X, y)


@pytest.mark.parametrize("idx", [[], [5], [-6], np.array([0, 7])])
def test_the_objective_names_a_bad_index(net_and_data, idx):
    """Before: an empty minibatch gave NaN (or blamed X); an index out of range was NumPy's IndexError."""
    net, theta, X, y = net_and_data
    obj = Objective(net, X, y, prior_precision=1.0)
    for method in (obj.grad_terms, obj.grad_sums, obj.grad_sum, obj.grad_batch):
        with pytest.raises(ValueError, match=r"^idx must hold at least one index in \[-5, 5\)"):
            method(theta, idx)
