"""RMSprop and Adam: the drivers run the BLR's emitted steps; their iterates equal the textbook loops in
``blrkit.classical`` (written without the derive layer) and PyTorch's optimisers when torch is installed."""

import numpy as np
import pytest

from algorithms.other_library import assert_same_result
from blrkit.algorithms import (
    adam,
    adam_from_blr,
    blr_from_adam,
    blr_from_rmsprop,
    rmsprop,
    rmsprop_from_blr,
)
from blrkit.classical.adam import adam as classical_adam
from blrkit.classical.rmsprop import rmsprop as classical_rmsprop

#: 50 steps of elementwise float64 arithmetic on O(1) numbers: the two loops differ only in the order
#: of a few operations (the BLR's (1 − ρ)v + ρḡ² against αv + (1 − α)g²), ~1e-15 per step.
ITERATES = 1e-12


def minibatch_logistic(rng, batch=()):
    """A logistic-regression loss whose gradient at step k uses minibatch k (a fixed, seeded schedule):
    the same sequence of stochastic gradients for every caller that calls it once per step."""
    X = rng.normal(size=batch + (40, 3))
    y = (rng.uniform(size=batch + (40,)) < 0.5).astype(float)
    batches = [rng.choice(40, size=8, replace=False) for _ in range(60)]

    def make():
        calls = iter(batches)

        def grad(m):
            idx = next(calls)
            Xb, yb = X[..., idx, :], y[..., idx]
            p = 1 / (1 + np.exp(-np.einsum("...nd,...d->...n", Xb, m)))
            return np.einsum("...nd,...n->...d", Xb, p - yb) / len(idx)
        return grad
    return make


@pytest.mark.parametrize("batch", [(), (3,)])
def test_rmsprop_equals_the_textbook_loop(rng, batch):
    make = minibatch_logistic(rng, batch)
    m0 = rng.normal(size=batch + (3,))
    got = rmsprop(make(), m0, lr=0.05, alpha=0.9, eps=1e-6, n_steps=50).means
    if batch:
        want = np.stack([classical_rmsprop(lambda m, g=make(), b=b: g(np.broadcast_to(m, batch + (3,)))[b],
                                           m0[b], lr=0.05, alpha=0.9, eps=1e-6, n_steps=50)
                         for b in range(batch[0])], axis=1)
    else:
        want = classical_rmsprop(make(), m0, lr=0.05, alpha=0.9, eps=1e-6, n_steps=50)
    np.testing.assert_allclose(got, want, rtol=ITERATES, atol=ITERATES)


def test_adam_equals_the_textbook_loop(rng):
    make = minibatch_logistic(rng)
    m0 = rng.normal(size=3)
    got = adam(make(), m0, lr=0.02, betas=(0.8, 0.95), eps=1e-7, n_steps=50).means
    want = classical_adam(make(), m0, lr=0.02, betas=(0.8, 0.95), eps=1e-7, n_steps=50)
    np.testing.assert_allclose(got, want, rtol=ITERATES, atol=ITERATES)
    # the check sees a wrong variant: without the bias correction the iterates differ
    no_bc = classical_adam(make(), m0, lr=0.02, betas=(0.8, 0.0), eps=1e-7, n_steps=50)
    assert np.max(np.abs(no_bc - want)) > 1e3 * ITERATES


def test_defaults_are_pytorchs(rng):
    make = minibatch_logistic(rng)
    m0 = rng.normal(size=3)
    np.testing.assert_allclose(adam(make(), m0, n_steps=20).means,
                               classical_adam(make(), m0, lr=0.001, betas=(0.9, 0.999), eps=1e-8, n_steps=20),
                               rtol=ITERATES, atol=ITERATES)
    np.testing.assert_allclose(rmsprop(make(), m0, n_steps=20).means,
                               classical_rmsprop(make(), m0, lr=0.01, alpha=0.99, eps=1e-8, n_steps=20),
                               rtol=ITERATES, atol=ITERATES)


@pytest.mark.optional_extras  # torch: .ci/run's second stage
@pytest.mark.parametrize("name", ["RMSprop", "Adam"])
def test_against_pytorch(rng, name):
    """``torch.optim.RMSprop``/``Adam`` in float64 fed the same gradient sequence: the same iterates to
    ``ITERATES`` (measured: 2.7e-13 and 1.5e-13 worst relative over 20 seeds of 50 steps)."""
    torch = pytest.importorskip("torch")
    make = minibatch_logistic(rng)
    m0 = rng.normal(size=3)
    p = torch.tensor(m0, dtype=torch.float64, requires_grad=True)
    opt = (torch.optim.RMSprop([p], lr=0.05, alpha=0.9, eps=1e-6) if name == "RMSprop"
           else torch.optim.Adam([p], lr=0.02, betas=(0.8, 0.95), eps=1e-7))
    grad, path = make(), [m0]
    for _ in range(50):
        opt.zero_grad()
        p.grad = torch.tensor(grad(p.detach().numpy().copy()))
        opt.step()
        path.append(p.detach().numpy().copy())
    ours = (rmsprop(make(), m0, lr=0.05, alpha=0.9, eps=1e-6, n_steps=50) if name == "RMSprop"
            else adam(make(), m0, lr=0.02, betas=(0.8, 0.95), eps=1e-7, n_steps=50)).means
    np.testing.assert_allclose(ours, np.array(path), rtol=ITERATES, atol=ITERATES)


@pytest.mark.optional_extras  # torch: .ci/run's second stage
def test_defaults_are_the_installed_pytorchs():
    """The drivers' keyword defaults are read off torch's own optimisers (not typed from its docs)."""
    import inspect

    torch = pytest.importorskip("torch")
    p = [torch.zeros(1, dtype=torch.float64)]
    for driver, opt, names in [(adam, torch.optim.Adam, ("lr", "betas", "eps")),
                               (rmsprop, torch.optim.RMSprop, ("lr", "alpha", "eps"))]:
        ours = {k: v.default for k, v in inspect.signature(driver).parameters.items() if k in names}
        theirs = opt(p).defaults
        assert ours == {k: theirs[k] for k in names}, (driver.__name__, ours, theirs)


@pytest.mark.parametrize("beta2", [0.5, 0.9, 0.99, 0.999, 0.9999, 0.75, 0.123456 + 0.5])
def test_hyperparameter_maps_round_trip_exactly(beta2):
    """1 − β is exact for β in [0.5, 1) (Sterbenz), so both maps invert each other bit for bit."""
    blr = blr_from_adam(lr=1e-3, betas=(0.9, beta2), eps=1e-8)
    assert adam_from_blr(**blr) == {"lr": 1e-3, "betas": (0.9, beta2), "eps": 1e-8}
    assert blr_from_adam(**adam_from_blr(**blr)) == blr
    r = blr_from_rmsprop(lr=0.01, alpha=beta2, eps=1e-8)
    assert rmsprop_from_blr(**r) == {"lr": 0.01, "alpha": beta2, "eps": 1e-8}


@pytest.mark.parametrize("kwargs, says", [
    (dict(lr=0.0), "lr must lie in"), (dict(lr=-1.0), "lr must lie in"), (dict(eps=-1e-8), "eps must lie in"),
    (dict(betas=(1.0, 0.9)), r"betas\[0\] must lie in"), (dict(betas=(0.9, 1.5)), r"betas\[1\] must lie in"),
    (dict(betas=0.9), "betas must be a pair"),
])
def test_adam_bad_hyperparameters(kwargs, says):
    with pytest.raises(ValueError, match=says):
        adam(lambda m: m, [1.0], n_steps=1, **kwargs)


def test_rmsprop_bad_alpha_and_grads():
    with pytest.raises(ValueError, match="alpha must lie in"):
        rmsprop(lambda m: m, [1.0], alpha=1.0, n_steps=1)
    with pytest.raises(ValueError, match="grad must return a gradient of shape"):
        rmsprop(lambda m: np.ones(3), [1.0, 2.0], n_steps=1)
    calls = iter(range(10))
    with pytest.raises(ValueError, match=r"grad returned non-finite values \(NaN or inf\) at step 3"):
        rmsprop(lambda m: m if next(calls) < 2 else m * np.nan, [1.0], n_steps=5)


def test_inputs_are_not_mutated(rng):
    m0 = rng.normal(size=(2, 3))
    before = m0.copy()
    adam(lambda m: m, m0, n_steps=3)
    np.testing.assert_array_equal(m0, before)


@pytest.mark.parametrize("driver, kw", [
    (rmsprop, dict(lr=0.05, alpha=0.9, eps=1e-6)), (adam, dict(lr=0.02, betas=(0.8, 0.95), eps=1e-7)),
    (adam, dict(lr=np.array([0.02, 0.05]), betas=(np.array(0.8), 0.95), eps=1e-7))])
def test_another_array_library_computes_with_its_arrays(driver, kw, other_library, rng):
    """The same run on another library's arrays (the start, array hyperparameters, a gradient callable taking
    and returning them) gives that library's arrays, equal to the NumPy run. Two problems in a batch; in the
    last case ``lr`` has one value per problem and β₁ is a 0-d array."""
    lib = other_library
    make = minibatch_logistic(rng, (2,))
    m0 = rng.normal(size=(2, 3))
    want = driver(make(), m0, n_steps=20, **kw)
    other = {k: lib.convert(v) if k != "betas" else tuple(lib.convert(b) for b in v) for k, v in kw.items()}
    got = driver(lib.wrap(make()), lib.to(m0), n_steps=20, **other)
    assert_same_result(got, want, lib, ["means"])


def test_mixing_numpy_with_another_library_names_the_argument():
    xp = pytest.importorskip("array_api_strict")
    with pytest.raises(TypeError, match=r"^lr comes from array_api_strict \(Array\) but m0 from NumPy"):
        rmsprop(lambda m: m, np.zeros(2), lr=xp.asarray(0.1), n_steps=2)
    with pytest.raises(TypeError, match=r"^betas\[1\] comes from array_api_strict \(Array\) but m0 from NumPy"):
        adam(lambda m: m, np.zeros(2), betas=(0.9, xp.asarray(0.99)), n_steps=2)
