"""IVON: the driver runs the step the derive layer emits (recipe ``ivon``); its iterates equal the paper's
Algorithm 1 written by hand (``blrkit.classical.ivon``) on the same draws, its fixed point on linear
regression is the mean-field posterior (checked in ``blrkit table``'s row), the improved rule keeps the
precision positive, and bad input is named. ivon-opt (PyTorch) is compared when installed."""

import numpy as np
import pytest

from algorithms.other_library import assert_same_result, tolerance
from algorithms.tolerances import assert_close
from blrkit.algorithms import IVONResult, ivon
from blrkit.classical.ivon import ivon as classical_ivon

#: 200 steps of elementwise float64 arithmetic on O(1) numbers in two operation orders (ĥ = N(h + δ)·ḡ
#: against ḡ/σ² with σ recomputed by a square root): ~1e-15 per step, amplified by the momentum.
ITERATES = 1e-10


def logistic(rng, batch=(), N=60, D=3):
    X = rng.normal(size=batch + (N, D))
    y = (rng.uniform(size=batch + (N,)) < 0.5).astype(float)

    def grad_batch(theta, idx):  # θ (K, *batch, D) → mean over idx of the per-example gradients
        Xb = X[..., idx, :]
        p = 1 / (1 + np.exp(-np.einsum("...nd,...d->...n", Xb, theta)))
        return np.einsum("...nd,...n->...d", Xb, p - y[..., idx]) / len(idx)
    return grad_batch


HYPER = dict(lr=0.05, ess=60.0, beta1=0.9, beta2=0.99, hess_init=0.5, weight_decay=1e-2, n_samples=2,
             n_steps=200, n_data=60, batch_size=15)


@pytest.mark.parametrize("batch", [(), (3,), (2, 2)])
def test_iterates_equal_the_papers_algorithm(batch):
    grad = logistic(np.random.default_rng(0), batch)
    m0 = np.zeros(batch + (3,))
    res = ivon(grad, m0, rng=4, **HYPER)
    book = classical_ivon(grad, m0, rng=np.random.default_rng(4), **HYPER)
    assert isinstance(res, IVONResult) and res.means.shape == (201,) + batch + (3,)
    np.testing.assert_allclose(res.means, book.means, rtol=0, atol=ITERATES)
    np.testing.assert_allclose(res.hessians, book.hessians, rtol=ITERATES)
    np.testing.assert_allclose(res.precisions, 60.0 * (book.hessians + 1e-2), rtol=ITERATES)


def test_a_wrong_step_is_caught_by_the_counterpart():
    """The same check fails when the mean step uses the old Hessian (the improved BLR's choice matters)."""
    from blrkit.algorithms._generated import ivon as generated

    grad = logistic(np.random.default_rng(0))
    book = classical_ivon(grad, np.zeros(3), rng=np.random.default_rng(4), **HYPER)

    def old_hessian_step(m, h, g_avg, rho, lr, beta1, delta, ess, t, grad_mean, n_samples, rng):
        m_new, h_new, g_new = generated.ivon_step(m, h, g_avg, rho, lr, beta1, delta, ess, t, grad_mean, n_samples, rng)
        m_old = m - lr * (g_new / (1 - beta1**t) + delta * m) / (h + delta)
        return m_old, h_new, g_new

    import importlib

    module = importlib.import_module("blrkit.algorithms.ivon")  # the module, not the function it exports
    original = module.ivon_step
    module.ivon_step = old_hessian_step
    try:
        wrong = ivon(grad, np.zeros(3), rng=4, **HYPER)
    finally:
        module.ivon_step = original
    assert np.max(np.abs(wrong.means - book.means)) > 1e3 * ITERATES


def test_improved_rule_keeps_the_precision_positive_on_a_concave_loss():
    """ℓ̂(θ) = −θ²/2 at m = 0: ĥ = −ε² < 0 for every sample; with β₂ = 0.5 the plain average
    h ← β₂h + (1 − β₂)ĥ leaves h + δ > 0 within a few steps on these draws, the improved rule never."""
    res = ivon(lambda th, idx: -th, [0.0, 0.0], lr=1e-12, ess=10.0, beta2=0.5, hess_init=1.0, weight_decay=0.1,
               n_steps=100, n_data=1, batch_size=1, rng=0)
    assert np.all(res.hessians + 0.1 > 0) and np.all(res.precisions > 0)
    # the plain average of the same estimates (m stays at 0 to 1e-9: lr is tiny): ĥ = −ε², the draws
    # of the driver's generator in its order (a minibatch of one index, then ε)
    draws, plain = np.random.default_rng(0), np.full(2, 1.0)
    crossed = False
    for _ in range(100):
        draws.choice(1, 1, replace=False)
        plain = 0.5 * plain + 0.5 * -draws.standard_normal((1, 2))[0] ** 2
        crossed |= bool(np.any(plain + 0.1 <= 0))
    assert crossed


def test_sample_draws_from_the_last_iterate():
    grad = logistic(np.random.default_rng(0))
    res = ivon(grad, np.zeros(3), rng=1, **HYPER)
    draws = res.sample(20_000, rng=2)
    assert draws.shape == (20_000, 3)
    # mean and variance of 20,000 Gaussian draws: 5 standard errors
    sd = 1 / np.sqrt(res.precisions[-1])
    assert np.all(np.abs(draws.mean(0) - res.means[-1]) < 5 * sd / np.sqrt(20_000))
    assert np.all(np.abs(draws.var(0) / sd**2 - 1) < 5 * np.sqrt(2 / 20_000))


def test_inputs_are_not_mutated():
    grad = logistic(np.random.default_rng(0))
    m0, h0 = np.zeros(3), np.full(3, 0.5)
    ivon(grad, m0, rng=1, **{**HYPER, "hess_init": h0, "n_steps": 3})
    assert np.all(m0 == 0) and np.all(h0 == 0.5)


@pytest.mark.parametrize("change, match", [
    (dict(lr=0.0), "lr"), (dict(lr=np.nan), "lr"), (dict(ess=0.0), "ess"), (dict(ess=-1.0), "ess"),
    (dict(beta1=1.0), "beta1"), (dict(beta1=-0.1), "beta1"), (dict(beta2=1.0), "beta2"),
    (dict(hess_init=0.0), "hess_init"), (dict(hess_init=[1.0, 1.0]), "hess_init"),
    (dict(weight_decay=-1e-3), "weight_decay"), (dict(n_samples=0), "n_samples"),
    (dict(batch_size=100), "batch_size"), (dict(n_steps=-1), "n_steps"),
])
def test_bad_hyperparameters_are_named(change, match):
    with pytest.raises(ValueError, match=match):
        ivon(logistic(np.random.default_rng(0)), np.zeros(3), rng=0, **{**HYPER, **change})


def test_a_gradient_of_the_wrong_shape_or_nan_is_reported_with_its_step():
    with pytest.raises(ValueError, match="grad_batch must return.*shape"):
        ivon(lambda th, idx: th[..., :2], np.zeros(3), rng=0, **HYPER)
    calls = iter(range(10**6))

    def nan_at_third(theta, idx):
        return np.full_like(theta, np.nan) if next(calls) == 2 else theta
    with pytest.raises(ValueError, match="non-finite.*step 3"):
        ivon(nan_at_third, np.zeros(3), rng=0, **HYPER)
    with pytest.raises(TypeError, match="grad_batch must be callable"):
        ivon(None, np.zeros(3), rng=0, **HYPER)


def _ivon_opt_paths(torch, ivon_opt, X, y, *, replicas, n_steps, lr, seed, **hyper):
    """``replicas`` independent runs of the authors' optimiser on full-batch logistic regression, as one
    parameter of shape (replicas, D): IVON acts elementwise and the loss is a sum over the rows, so row r
    sees only its own gradient and noise. Returns every mean and every Hessian, (n_steps + 1, R, D)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: intra-op threads only contend (28 s with 2 on 2 busy cores, 1 s with 1)
    try:
        return _ivon_opt_run(torch, ivon_opt, X, y, replicas=replicas, n_steps=n_steps, lr=lr, seed=seed, **hyper)
    finally:
        torch.set_num_threads(threads)


def _ivon_opt_run(torch, ivon_opt, X, y, *, replicas, n_steps, lr, seed, **hyper):
    torch.manual_seed(seed)
    Xt, yt = torch.tensor(X), torch.tensor(y).expand(replicas, len(y))
    w = torch.zeros(replicas, X.shape[1], dtype=torch.float64, requires_grad=True)
    opt = ivon_opt.IVON([w], lr=lr, **hyper)
    group = opt.param_groups[0]
    means, hessians = [w.detach().numpy().copy()], [group["hess"].numpy().reshape(w.shape).copy()]
    for _ in range(n_steps):
        for _ in range(hyper["mc_samples"]):
            with opt.sampled_params(train=True):
                opt.zero_grad()
                torch.nn.functional.binary_cross_entropy_with_logits(
                    w @ Xt.T, yt, reduction="none").mean(-1).sum().backward()
        opt.step()
        means.append(w.detach().numpy().copy())
        hessians.append(group["hess"].numpy().reshape(w.shape).copy())
    return np.array(means), np.array(hessians)


@pytest.mark.optional_extras  # torch and ivon-opt: .ci/run's second stage
def test_against_ivon_opt_when_installed():
    """The authors' PyTorch optimiser (ivon-opt) on the same logistic regression with the same
    hyperparameters. The noise streams differ, so the check is statistical: 256 independent replicas of
    each, the replica averages of the mean m_t and of the Hessian h_t compared at 6 steps from the
    transient (t = 5) to the stationary phase (t = 400), each by the z-score of the difference (standard
    error from the two replica variances). Full batch: a minibatch shared by all replicas would be a
    common random effect that the replica variance does not see. 36 z-scores (6 steps, 3 coordinates,
    m and h) under 4.5: a false alarm has probability < 36 · 7e-6 ≈ 3e-4 for a correct driver (measured:
    max |z| = 2.5). ivon-opt's
    ``rescale_lr`` multiplies its lr by h₀ + δ, so it is given lr/(h₀ + δ). The check has power: the
    same comparison with ivon-opt's lr left unrescaled gives max |z| = 328, and β₂ = 0.995 for
    0.99 gives 18 (on the Hessian)."""
    torch = pytest.importorskip("torch")
    ivon_opt = pytest.importorskip("ivon")
    rng = np.random.default_rng(0)
    N, D, R, T = 60, 3, 256, 400
    X = rng.normal(size=(N, D))
    y = (rng.uniform(size=N) < 1 / (1 + np.exp(-X @ np.array([1.5, -1.0, 0.5])))).astype(float)
    lr, ess, wd, beta2, h0, K = 0.1, 60.0, 0.02, 0.99, 0.1, 2

    def grad_batch(theta, idx):
        p = 1 / (1 + np.exp(-(theta @ X[idx].T)))
        return ((p - y[idx])[..., None] * X[idx]).mean(-2)

    ours = ivon(grad_batch, np.zeros((R, D)), lr=lr, ess=ess, beta2=beta2, hess_init=h0, weight_decay=wd,
                n_samples=K, n_steps=T, n_data=N, batch_size=N, rng=1)
    hyper = dict(replicas=R, n_steps=T, seed=0, ess=ess, hess_init=h0, weight_decay=wd, beta2=beta2, mc_samples=K)
    steps = [5, 20, 50, 100, 200, 400]

    def worst_z(means, hessians):
        z = []
        for a, b in ((ours.means, means), (ours.hessians, hessians)):
            for t in steps:
                se = np.sqrt(a[t].var(0, ddof=1) / R + b[t].var(0, ddof=1) / R)
                z.append(np.max(np.abs(a[t].mean(0) - b[t].mean(0)) / se))
        return max(z)

    assert worst_z(*_ivon_opt_paths(torch, ivon_opt, X, y, lr=lr / (h0 + wd), **hyper)) < 4.5
    # power: the lr without ivon-opt's rescaling is a different optimiser, and the check says so
    assert worst_z(*_ivon_opt_paths(torch, ivon_opt, X, y, lr=lr, **hyper)) > 20


def test_another_array_library_computes_with_its_arrays(other_library):
    """The same run on another library's arrays (the start, a Hessian start per coordinate, a gradient callable
    taking θ and the minibatch indices as the library's arrays) gives that library's arrays, equal to the NumPy
    run: the same minibatches and samples, drawn on the host. Two problems in a batch, two samples a step;
    the posterior's precisions too."""
    lib = other_library
    grad = logistic(np.random.default_rng(0), (2,))
    m0, h0 = np.random.default_rng(1).normal(size=(2, 3)), np.array([0.5, 1.0, 2.0])
    hyper = HYPER | dict(n_steps=20)
    del hyper["hess_init"]
    want = ivon(grad, m0, hess_init=h0, rng=4, **hyper)
    kinds = set()

    def spy(theta, idx, wrapped=lib.wrap(grad)):
        kinds.update(isinstance(a, lib.array_type) for a in (theta, idx))
        return wrapped(theta, idx)
    got = ivon(spy, lib.to(m0), hess_init=lib.to(h0), rng=4, **hyper)
    assert kinds == {True}  # every argument was the library's array
    assert_same_result(got, want, lib, ["means", "hessians", "precisions"])


def test_sample_on_another_array_library(other_library):
    """Draws from the last iterate come as the library's arrays and equal NumPy's (the same host draws)."""
    lib = other_library
    grad = logistic(np.random.default_rng(0), (2,))
    m0 = np.random.default_rng(1).normal(size=(2, 3))
    hyper = HYPER | dict(n_steps=5)
    want = ivon(grad, m0, rng=4, **hyper).sample(3, rng=0)
    got = ivon(lib.wrap(grad), lib.to(m0), rng=4, **hyper).sample(3, rng=0)
    assert isinstance(got, lib.array_type)
    assert_close(lib.back(got), want, tolerance(lib))  # as the iterates


def test_mixing_numpy_with_another_library_names_the_argument():
    xp = pytest.importorskip("array_api_strict")
    with pytest.raises(TypeError, match=r"^hess_init comes from array_api_strict \(Array\) but m0 from NumPy"):
        ivon(logistic(np.random.default_rng(0)), np.zeros(3), rng=4, **HYPER | dict(hess_init=xp.ones(3)))
    with pytest.raises(TypeError, match=r"^grad_batch returned a NumPy array \(ndarray\) for θ from array_api_strict"):
        ivon(lambda th, idx: np.zeros((2, 3)), xp.zeros(3), rng=4, **HYPER)
