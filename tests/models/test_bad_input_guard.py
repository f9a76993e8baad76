"""Bad input on the models (issue #27): the MLP's fast paths (float64 arrays skip the conversion) still refuse NaN
and empty data, and the Objective names a bad minibatch index."""

import numpy as np
import pytest

from blrkit.models import (
    MLP,
    BinaryMLP,
    Objective,
    binary_model_average,
    moons,
    sample_binary_weights,
    sample_diagonal_gaussian,
)
from blrkit.models.binary_comparison import BinarySettings, compare_binary, train_binary
from blrkit.models.comparison import Settings, compare_optimisers, train


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


# -- the classes closed in the second pass (each test failed before its fix) -------------------------------------


def test_objects_are_named(net_and_data):
    """Before: AttributeError ('float' object has no attribute 'net', 'n_data', 'batch_size')."""
    net, theta, X, y = net_and_data
    obj = Objective(net, X, y, prior_precision=1.0)
    bnet = BinaryMLP((2, 3, 2))
    fast, fast_binary = Settings(n_steps=1, batch_size=2), BinarySettings(n_steps=1, batch_size=2)
    cases = [
        ("bnet", lambda: binary_model_average(2.0, np.zeros(bnet.n_weights), np.zeros(bnet.n_biases), X, 2, 0)),
        ("objective", lambda: train("sgd", 2.0, theta, fast)),
        ("settings", lambda: train("sgd", obj, theta, 2.0)),
        ("objective", lambda: compare_optimisers(2.0, theta, X, y, settings=fast)),
        ("bnet", lambda: compare_binary(2.0, X, y, X, y, settings=fast_binary)),
        ("settings", lambda: train_binary("ste", bnet, X, y, np.ones(bnet.n_weights), 2.0)),
    ]
    for name, call in cases:
        with pytest.raises(TypeError, match=f"^{name} must be a blrkit"):
            call()


def test_seeds_are_named(net_and_data):
    """Before: NumPy's SeedSequence errors ('SeedSequence expects int or sequence of ints', 'expected non-negative
    integer'), which name no argument."""
    net, theta, X, y = net_and_data
    obj = Objective(net, X, y, prior_precision=1.0)
    bnet = BinaryMLP((2, 3, 2))
    cases = [lambda: sample_diagonal_gaussian(np.zeros(2), np.ones(2), 2, -1.0),
             lambda: sample_binary_weights(np.zeros(2), 2, np.nan),
             lambda: net.init(np.nan),
             lambda: train("sgd", obj, theta, Settings(n_steps=1, batch_size=2), rng=np.nan),
             lambda: compare_binary(bnet, X, y, X, y, settings=BinarySettings(n_steps=1, batch_size=2), rng=-1)]
    for call in cases:
        with pytest.raises((ValueError, TypeError), match="^rng must be a numpy.random.Generator"):
            call()


def test_nan_is_refused_by_the_public_views(net_and_data):
    """Before: MLP.unflatten and BinaryMLP.theta returned the NaN of a float64 array (their fast path skips the scan
    that the forward pass does on its output)."""
    net, theta, _, _ = net_and_data
    bad = theta.copy()
    bad[0] = np.nan
    with pytest.raises(ValueError, match="^theta must be finite"):
        net.unflatten(bad)
    bnet = BinaryMLP((2, 3, 2))
    w, b = np.ones(bnet.n_weights), np.zeros(bnet.n_biases)
    w[1] = np.nan
    with pytest.raises(ValueError, match="^w must be finite"):
        bnet.theta(w, b)


def test_an_overflow_of_the_prior_term_is_named(net_and_data):
    """Before: inf sums of squared gradients (α θ / N squared overflows) and an inf value, returned."""
    net, theta, X, y = net_and_data
    obj = Objective(net, X, y, prior_precision=1e308)
    with np.errstate(all="ignore"):
        with pytest.raises(ValueError, match=r"^the objective's sum of squared gradients overflowed: .*"
                                             r"\|prior_precision\| up to 1e\+308"):
            obj.grad_sums(theta, [0, 1])
        with pytest.raises(ValueError, match=r"^the objective's value overflowed"):
            Objective(net, X, y, prior_precision=1.0).value(theta * 1e200)


def test_data_set_arguments_are_named():
    """Before: Gaussian noise of scale 1e308 gave inf inputs; arrays or text as test_fraction and noise were NumPy's
    or Python's comparison errors; a float seed was scikit-learn's InvalidParameterError."""
    cases = {"noise": [dict(noise=1e308), dict(noise=np.ones(2)), dict(noise="0.1")],
             "test_fraction": [dict(test_fraction=np.ones(2)), dict(test_fraction=None)],
             "seed": [dict(seed=2.5), dict(seed=-1)]}
    for name, kws in cases.items():
        for kw in kws:
            with pytest.raises((ValueError, TypeError), match=f"^{name}"):
                moons(20, **kw)


def test_switches_and_shapes_are_named(net_and_data):
    """Before: NumPy's 'truth value of an array is ambiguous' (activation), 'only 0-dimensional arrays can be
    converted' (scales), its broadcast error (precision against mean), an IndexError (X of train_binary)."""
    net, theta, X, y = net_and_data
    bnet = BinaryMLP((2, 3, 2))
    cases = {
        "activation": lambda: MLP((2, 3, 2), np.ones(2)),
        "scales": lambda: BinaryMLP((2, 3, 2), scales=np.ones((2, 2, 2))),
        "precision": lambda: sample_diagonal_gaussian(np.zeros(3), np.ones(2), 2, 0),
        "X": lambda: train_binary("ste", bnet, np.ones((2, 2, 2)), y, np.ones(bnet.n_weights),
                                  BinarySettings(n_steps=1, batch_size=2)),
    }
    for name, call in cases.items():
        with pytest.raises((ValueError, TypeError), match=f"^{name} must"):
            call()
