"""BayesBiNN and STE (blrkit.algorithms.binary): the relaxed BLR's fixed point approaches the mean-field
optimum found by enumerating all 2^P weight vectors (coordinate ascent, blrkit.classical.binary) as the
temperature falls; STE on minibatches equals BinaryConnect by hand; bad input. The full-batch iterates against
Algorithm 1 of Meng et al. and BinaryConnect are the `bayesbinn` and `ste` rows of `blrkit table`."""

import numpy as np
import pytest

from algorithms.other_library import assert_same_result
from blrkit.algorithms import bayesbinn, ste
from blrkit.classical.binary import mean_field_vi
from blrkit.classical.binary import ste as classical_ste

rng = np.random.default_rng(0)
P, N = 4, 30
X = rng.normal(size=(N, P)) / 2
Y = np.where(rng.normal(size=N) > 0, 1.0, -1.0)


def loss(W):  # the total logistic loss at weight vectors (..., P)
    return np.sum(np.logaddexp(0, -Y * (W @ X.T)), axis=-1)


def grad_batch(w, idx):  # its mean minibatch gradient
    return (-Y[idx] / (1 + np.exp(Y[idx] * (w @ X[idx].T)))) @ X[idx] / len(idx)


def test_relaxed_fixed_point_approaches_the_enumerated_optimum_as_tau_falls():
    """Distance of the time-averaged μ (second half of 3,000 steps, 32 samples, ρ = 0.02) to the mean-field
    optimum: measured 0.21, 0.093, 0.035 at τ = 1, 0.3, 0.1 (the relaxation's bias, ≈ 0.3τ); asserted to fall
    and to end below 0.07 (twice the measured value: Monte-Carlo noise of the average)."""
    mu_star = np.tanh(mean_field_vi(loss, np.zeros(P)))
    distances = []
    for tau in (1.0, 0.3, 0.1):
        res = bayesbinn(grad_batch, np.zeros(P), lr=0.02, temperature=tau, n_steps=3000, n_data=N, batch_size=N,
                        n_samples=32, rng=1)
        distances.append(np.abs(res.means[1500:].mean(0) - mu_star).max())
    assert distances[0] > distances[1] > distances[2] and distances[2] < 0.07, distances


def test_ste_on_minibatches_is_binaryconnect():
    draws = np.random.default_rng(3)
    batches = [np.sort(draws.choice(N, 8, replace=False)) for _ in range(25)]
    it = iter(batches)
    book = classical_ste(lambda w: grad_batch(w, next(it)), np.full(P, 0.01), lr=0.2, n_steps=25)
    res = ste(grad_batch, np.full(P, 0.01), lr=0.2, n_steps=25, n_data=N, batch_size=8, rng=3)
    np.testing.assert_array_equal(res.natural, book)


@pytest.mark.parametrize("kwargs, match", [
    (dict(temperature=0.0), "temperature"), (dict(lr=1.5), "lr"), (dict(n_samples=0), "n_samples"),
    (dict(batch_size=40), "batch_size"), (dict(momentum=1.0), "momentum"), (dict(momentum=-0.1), "momentum"),
])
def test_bayesbinn_bad_input_is_named(kwargs, match):
    args = dict(lr=0.1, temperature=0.5, n_steps=2, n_data=N, batch_size=N, rng=0) | kwargs
    with pytest.raises(ValueError, match=match):
        bayesbinn(grad_batch, np.zeros(P), **args)


def test_a_gradient_of_the_wrong_shape_or_nan_is_reported_with_its_step():
    with pytest.raises(ValueError, match="grad_batch must return .* shape"):
        ste(lambda w, idx: w[..., :2], np.zeros(P), lr=0.1, n_steps=2, n_data=N, batch_size=N)
    calls = iter(range(100))
    with pytest.raises(ValueError, match="non-finite .* step 2"):
        ste(lambda w, idx: w * (np.nan if next(calls) == 1 else 1.0), np.zeros(P), lr=0.1, n_steps=3, n_data=N,
            batch_size=N)
    with pytest.raises(ValueError, match="lr"):
        ste(grad_batch, np.zeros(P), lr=0.0, n_steps=2, n_data=N, batch_size=N)


def test_momentum_zero_is_the_blr_bit_for_bit():
    """The default (no momentum) and an explicit momentum=0 run the same emitted step on the same draws."""
    args = dict(lr=0.05, temperature=0.5, n_steps=40, n_data=N, batch_size=8, n_samples=3, rng=4)
    np.testing.assert_array_equal(bayesbinn(grad_batch, np.zeros(P), **args).natural,
                                  bayesbinn(grad_batch, np.zeros(P), momentum=0.0, **args).natural)


def test_momentum_is_the_authors_average_of_the_blr_direction():
    """Momentum β = 0.9 on minibatches against a loop written here from the update of the authors' code
    (BayesBiNN repository, optimizers/BayesBiNN.py): v ← βv + (1−β)(N·mean_k ŝ_k ḡ(w_k) + λ − λ₀),
    λ ← λ − ρ v/(1 − β^t), with the driver's draws (minibatch, then uniforms) replayed from the same seed.
    ŝ is written here as sech²((λ+ε)/τ)/(τ sech² λ), not in the emitted step's log form; rtol 1e-9 allows
    for that rounding over 60 steps (measured 1.5e-15)."""
    beta, rho, tau, K, M, prior = 0.9, 0.03, 0.7, 2, 8, 0.3
    lam0 = np.linspace(-0.5, 0.5, P)
    res = bayesbinn(grad_batch, lam0, lr=rho, temperature=tau, n_steps=60, n_data=N, batch_size=M, n_samples=K,
                    prior=prior, momentum=beta, rng=11)
    draws = np.random.default_rng(11)
    lam, v, path = lam0.copy(), np.zeros(P), [lam0]
    for t in range(1, 61):
        idx = np.sort(draws.choice(N, M, replace=False))
        u = draws.uniform(size=(K, P))
        z = (lam + 0.5 * np.log(u / (1 - u))) / tau
        s = (1 / np.cosh(z) ** 2) / (tau / np.cosh(lam) ** 2)
        g_hat = N * np.mean([s[k] * grad_batch(np.tanh(z[k]), idx) for k in range(K)], axis=0)
        v = beta * v + (1 - beta) * (g_hat + lam - prior)
        lam = lam - rho * v / (1 - beta**t)
        path.append(lam)
    np.testing.assert_allclose(res.natural, np.array(path), rtol=1e-9, atol=1e-12)
    # and it is not the BLR without momentum
    plain = bayesbinn(grad_batch, lam0, lr=rho, temperature=tau, n_steps=60, n_data=N, batch_size=M, n_samples=K,
                      prior=prior, rng=11)
    assert np.abs(plain.natural[-1] - res.natural[-1]).max() > 1e-3


# -- the exact natural gradient by enumeration ------------------------------------------------------

def test_exact_blr_converges_to_the_mean_field_optimum_for_P_10():
    """P = 10 (1,024 vectors): the exact-gradient BLR at ρ = 0.5 reaches the optimum of coordinate ascent on the
    objective (blrkit.classical.binary.mean_field_vi, no BLR) to 1e-9 (its own tolerance is 1e-13)."""
    from blrkit.algorithms import bernoulli_blr

    rng = np.random.default_rng(4)
    A = rng.normal(size=(10, 10)) / 10
    b = rng.normal(size=10)
    loss = lambda W: np.einsum("...i,ij,...j->...", W, A, W) / 2 + W @ b  # noqa: E731 -- a coupled quadratic
    res = bernoulli_blr(loss, np.zeros(10), rho=0.5, n_steps=150, prior=0.1)
    np.testing.assert_allclose(res.natural[-1], mean_field_vi(loss, np.full(10, 0.1)), rtol=0, atol=1e-9)


def test_exact_blr_batched_and_bad_input():
    from blrkit.algorithms import bernoulli_blr

    loss = lambda W: 2.0 * W[:, 0] - W[:, 0] * W[:, 1]  # noqa: E731
    lam = np.array([[0.0, 0.0], [1.0, -1.0]])
    res = bernoulli_blr(loss, lam, rho=0.5, n_steps=5)
    np.testing.assert_allclose(res.natural[:, 1], bernoulli_blr(loss, lam[1], rho=0.5, n_steps=5).natural, rtol=1e-14)
    with pytest.raises(ValueError, match="rho"):
        bernoulli_blr(loss, lam, rho=1.5, n_steps=5)
    with pytest.raises(ValueError, match="P \\(the last axis of lam0\\)"):
        bernoulli_blr(loss, np.zeros(21), rho=0.5, n_steps=1)
    with pytest.raises(ValueError, match="non-finite"):
        bernoulli_blr(lambda W: np.full(len(W), np.nan), lam, rho=0.5, n_steps=1)
    with pytest.raises(ValueError, match="one value per weight vector"):
        bernoulli_blr(lambda W: W, lam, rho=0.5, n_steps=1)


# -- another array library ---------------------------------------------------------------------------

LAM0 = np.linspace(-0.5, 0.5, 2 * P).reshape(2, P)   # two problems in a batch
CALLS = {
    "bayesbinn": (bayesbinn, grad_batch, dict(lr=np.array([0.03, 0.05]), temperature=0.7, n_steps=12, n_data=N,
                                              batch_size=8, n_samples=2, prior=np.full(P, 0.3), rng=11)),
    "bayesbinn with momentum": (bayesbinn, grad_batch, dict(lr=0.03, temperature=0.7, n_steps=12, n_data=N,
                                                            batch_size=N, momentum=0.9, rng=11)),
    "ste": (ste, grad_batch, dict(lr=0.1, n_steps=12, n_data=N, batch_size=8, rng=11)),
    "bernoulli_blr": (None, loss, dict(rho=0.5, n_steps=12, prior=np.full(P, 0.1))),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_another_array_library_computes_with_its_arrays(name, other_library):
    """The same run on another library's arrays (the start, array hyperparameters, the user's callable taking
    the weights, and the minibatch indices, as the library's arrays) gives that library's arrays, equal to the
    NumPy run: the same minibatches and uniforms, drawn on the host. μ = tanh λ and q(w = +1) too."""
    from blrkit.algorithms import bernoulli_blr

    lib = other_library
    driver, fn, kw = CALLS[name]
    driver = driver or bernoulli_blr
    want = driver(fn, LAM0, **kw)
    kinds = set()

    def spy(*args, wrapped=lib.wrap(fn)):
        kinds.update(isinstance(a, lib.array_type) for a in args)
        return wrapped(*args)
    got = driver(spy, lib.to(LAM0), **{k: lib.convert(v) for k, v in kw.items()})
    assert kinds == {True}  # every argument was the library's array
    assert_same_result(got, want, lib, ["natural", "means", "probabilities"])


def test_mixing_numpy_with_another_library_names_the_argument():
    from blrkit.algorithms import bernoulli_blr

    xp = pytest.importorskip("array_api_strict")
    with pytest.raises(TypeError, match=r"^prior comes from array_api_strict \(Array\) but lam0 from NumPy"):
        bayesbinn(grad_batch, np.zeros(P), lr=0.1, temperature=0.5, n_steps=1, n_data=N, batch_size=N,
                  prior=xp.zeros(P))
    with pytest.raises(TypeError, match=r"^lr comes from array_api_strict \(Array\) but latent0 from NumPy"):
        ste(grad_batch, np.zeros(P), lr=xp.asarray(0.1), n_steps=1, n_data=N, batch_size=N)
    with pytest.raises(TypeError, match=r"^lam0 comes from array_api_strict \(Array\) but rho from NumPy"):
        bernoulli_blr(loss, xp.zeros(P), rho=np.asarray(0.5), n_steps=1)
    with pytest.raises(TypeError, match=r"^loss returned a NumPy array \(ndarray\) for W from array_api_strict"):
        bernoulli_blr(lambda W: np.zeros(2 ** P), xp.zeros(P), rho=0.5, n_steps=1)
