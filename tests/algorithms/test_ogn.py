"""blrkit.algorithms.online_gauss_newton and .vogn against textbook loops with the same random draws.

Problem: L2-regularised logistic regression written as a sum of N per-example terms, each carrying its
share α/N of the prior (:class:`blrkit.classical.problems.LogisticRegression`), and least squares.
Mapping: ``means[t]``, ``precisions[t]`` are the textbook (x_t, s_t) of :mod:`blrkit.classical.ogn`,
fed a generator seeded like the driver's, so both draw the same minibatches and samples.
"""

import numpy as np
import pytest
from scipy.special import expit

from algorithms.tolerances import ITERATIVE, SAME_ARITHMETIC, assert_close
from algorithms.other_library import assert_same_result
from algorithms.tolerances_recipes import REORDERED
from blrkit.algorithms import diagonal_newton, online_gauss_newton, vogn
from blrkit.classical.ogn import online_gauss_newton as textbook_ogn
from blrkit.classical.ogn import vogn as textbook_vogn
from blrkit.classical.problems import LogisticRegression, logistic_problem

SEED = 5


def per_example(p):
    """``terms(θ, idx)``: ∇ℓ_i(θ) for i in idx, ``(..., M, D)``, of p's loss split into N terms."""
    N = p.X.shape[-2]

    def terms(theta, idx):
        X = p.X[..., idx, :]
        f = np.einsum("...d,...md->...m", theta, X)
        return (expit(f) - p.y[..., idx])[..., None] * X + p.alpha / N * theta[..., None, :]
    return terms


@pytest.mark.parametrize("rho, batch_size", [(1.0, 40), (0.3, 7), (0.05, 1)])
def test_ogn_equals_textbook_loop(rho, batch_size, rng):
    p = logistic_problem(rng, 40, 4)
    m0, s0 = rng.standard_normal(4), rng.uniform(20.0, 60.0, 4)
    res = online_gauss_newton(per_example(p), m0, rho=rho, n_steps=30, n_data=40, batch_size=batch_size,
                              precision0=s0, rng=SEED)
    assert res.means.shape == res.precisions.shape == (31, 4)
    xs, ss = textbook_ogn(per_example(p), m0, s0, rho, 30, 40, batch_size, np.random.default_rng(SEED))
    assert np.isfinite(xs).all()
    assert_close(res.means, xs, REORDERED)
    assert_close(res.precisions, ss, REORDERED)


@pytest.mark.parametrize("n_samples", [1, 3])
def test_vogn_equals_textbook_loop(n_samples, rng):
    p = logistic_problem(rng, 40, 4)
    m0, s0 = rng.standard_normal(4), rng.uniform(20.0, 60.0, 4)
    res = vogn(per_example(p), m0, rho=0.3, n_steps=30, n_data=40, batch_size=8, precision0=s0,
               n_samples=n_samples, rng=np.random.default_rng(SEED))
    xs, ss = textbook_vogn(per_example(p), m0, s0, 0.3, 30, 40, 8, n_samples, np.random.default_rng(SEED))
    assert_close(res.means, xs, REORDERED)
    assert_close(res.precisions, ss, REORDERED)


def test_full_batch_ogn_is_diagonal_newton_with_the_gauss_newton_diagonal(rng):
    """M = N: no sampling noise, OGN is diagonal Newton with diag H replaced by Σ_i ∇ℓ_i²."""
    p = logistic_problem(rng, 30, 3)
    terms, m0, s0 = per_example(p), rng.standard_normal(3), rng.uniform(5.0, 10.0, 3)
    every = np.arange(30)
    res = online_gauss_newton(terms, m0, rho=0.5, n_steps=20, n_data=30, batch_size=30, precision0=s0, rng=0)
    dn = diagonal_newton(lambda m: terms(m, every).sum(-2), lambda m: (terms(m, every) ** 2).sum(-2), m0,
                         n_steps=20, rho=0.5, precision0=s0)
    assert_close(res.means, dn.means, REORDERED)
    assert_close(res.precisions, dn.precisions, REORDERED)
    # its fixed point: the MAP (Σ_i ∇ℓ_i = ∇ℓ̄ = 0) and s = Σ_i ∇ℓ_i(m*)², not the Hessian's diagonal
    res = online_gauss_newton(terms, m0, rho=0.5, n_steps=300, n_data=30, batch_size=30, precision0=s0, rng=0)
    assert np.linalg.norm(p.grad(res.means[-1])) < 1e-8
    assert_close(res.precisions[-1], (terms(res.means[-1], every) ** 2).sum(-2), ITERATIVE)


def test_least_squares_one_full_step_gives_the_gauss_newton_sum(rng):
    """ℓ_i = (x_iᵀθ − y_i)²/2, M = N, ρ = 1: s₁ = Σ_i x_i² r_i² exactly, r_i = x_iᵀm₀ − y_i."""
    X, y, m0 = rng.standard_normal((25, 3)), rng.standard_normal(25), rng.standard_normal(3)
    terms = lambda th, idx: (th @ X[idx].T - y[idx])[..., None] * X[idx]  # noqa: E731
    res = online_gauss_newton(terms, m0, rho=1.0, n_steps=1, n_data=25, batch_size=25, precision0=1.0, rng=0)
    r = X @ m0 - y
    assert_close(res.precisions[1], (X ** 2 * r[:, None] ** 2).sum(0), SAME_ARITHMETIC)
    assert_close(res.means[1], m0 - (X * r[:, None]).sum(0) / res.precisions[1], SAME_ARITHMETIC)


class _OneProblemOfTheBatch:
    """A generator for the textbook loop of problem ``i`` of a batch: it draws exactly what the batched driver
    draws (the shared minibatch, then the normal vectors of the whole batch, ``(K, *batch, D)``) and hands on
    problem i's slice of the normals."""

    def __init__(self, seed, batch, i):
        self.rng, self.batch, self.i = np.random.default_rng(seed), batch, i

    def choice(self, *args, **kwargs):
        return self.rng.choice(*args, **kwargs)

    def standard_normal(self, shape):
        K, D = shape
        return self.rng.standard_normal((K, *self.batch, D))[:, self.i]


@pytest.mark.parametrize("driver", [online_gauss_newton, vogn])
def test_batch_equals_single_calls(driver, rng):
    """B problems (ρ per problem) in one call equal single calls: OGN exactly (the minibatches are shared);
    VOGN draws its samples for the whole batch at once, so each problem's run equals the textbook loop fed
    that problem's slice of the same draws, at every step."""
    batch = (3,)
    p = logistic_problem(rng, 30, 2, batch=batch)
    m0, s0 = rng.standard_normal(batch + (2,)), rng.uniform(10.0, 30.0, batch + (2,))
    rho = rng.uniform(0.2, 1.0, batch)
    res = driver(per_example(p), m0, rho=rho, n_steps=6, n_data=30, batch_size=5, precision0=s0, rng=SEED)
    assert res.means.shape == res.precisions.shape == (7,) + batch + (2,)
    for i in range(3):
        single = LogisticRegression(p.X[i], p.y[i], p.alpha)
        if driver is vogn:
            xs, ss = textbook_vogn(per_example(single), m0[i], s0[i], rho[i], 6, 30, 5, 1,
                                   _OneProblemOfTheBatch(SEED, batch, i))
            assert_close(res.means[:, i], xs, REORDERED)
            assert_close(res.precisions[:, i], ss, REORDERED)
            continue
        one = driver(per_example(single), m0[i], rho=rho[i], n_steps=6, n_data=30, batch_size=5,
                     precision0=s0[i], rng=SEED)
        assert_close(res.means[:, i], one.means, SAME_ARITHMETIC)
        assert_close(res.precisions[:, i], one.precisions, SAME_ARITHMETIC)


def test_vogn_uncertainty_shrinks_with_data(rng):
    """More data, larger precision: s grows about linearly in N for the same per-example terms."""
    s_last = []
    for n in (20, 80):
        p = logistic_problem(np.random.default_rng(1), n, 2)
        res = vogn(per_example(p), np.zeros(2), rho=0.1, n_steps=200, n_data=n, batch_size=10, precision0=1.0,
                   rng=SEED)
        s_last.append(res.precisions[-50:].mean(0))
    assert np.all(s_last[1] > 2 * s_last[0])


def test_inputs_not_modified():
    m0, s0 = np.ones(2), np.full(2, 3.0)
    keep = m0.copy(), s0.copy()
    terms = lambda th, idx: np.repeat(th[..., None, :], len(idx), axis=-2)  # noqa: E731
    online_gauss_newton(terms, m0, rho=0.5, n_steps=3, n_data=4, batch_size=2, precision0=s0, rng=0)
    vogn(terms, m0, rho=0.5, n_steps=3, n_data=4, batch_size=2, precision0=s0, rng=0)
    np.testing.assert_array_equal(m0, keep[0])
    np.testing.assert_array_equal(s0, keep[1])


def good_terms(th, idx):
    return np.repeat(th[..., None, :], len(idx), axis=-2) + 1.0


@pytest.mark.parametrize("driver", [online_gauss_newton, vogn])
@pytest.mark.parametrize("change, error, match", [
    (dict(rho=0.0), ValueError, "rho"), (dict(rho=2.0), ValueError, "rho"),
    (dict(n_steps=-1), ValueError, "n_steps"),
    (dict(n_data=0), ValueError, "n_data"), (dict(n_data=2.5), ValueError, "n_data"),
    (dict(batch_size=0), ValueError, "batch_size"), (dict(batch_size=5), ValueError, "batch_size"),
    (dict(batch_size=True), ValueError, "batch_size"),
    (dict(precision0=None), ValueError, "precision0"), (dict(precision0=[1.0, -1.0]), ValueError, "precision0"),
    (dict(precision0=np.ones(3)), ValueError, "precision0"), (dict(precision0=[np.nan, 1.0]), ValueError, "precision0"),
    (dict(m0=[np.inf, 0.0]), ValueError, "m0"),
    (dict(grad_terms=lambda th, idx: th), ValueError, "grad_terms"),
    (dict(grad_terms=lambda th, idx: good_terms(th, idx) * np.nan), ValueError, "grad_terms"),
    (dict(grad_terms=lambda th, idx: 0 * good_terms(th, idx), rho=1.0), ValueError, "non-positive"),
    (dict(grad_terms="not callable"), TypeError, "grad_terms"),
    (dict(rng="seed"), TypeError, "rng"),
])
def test_bad_arguments_raise_naming_them(driver, change, error, match):
    args = dict(grad_terms=good_terms, m0=np.ones(2), rho=0.5, n_steps=2, n_data=4, batch_size=2,
                precision0=np.ones(2)) | change
    with pytest.raises(error, match=match):
        driver(args.pop("grad_terms"), args.pop("m0"), **args)


@pytest.mark.parametrize("n_samples", [0, -1, 1.5, True])
def test_vogn_bad_n_samples(n_samples):
    with pytest.raises(ValueError, match="n_samples"):
        vogn(good_terms, np.ones(2), rho=0.5, n_steps=1, n_data=4, batch_size=2, precision0=1.0, n_samples=n_samples)


def test_vogn_improved_rule_equals_the_retraction_form_by_hand():
    """rule="improved": every iterate equals the hand-written loop with s ← s + ρG + ρ²/2 G²/s (same
    minibatches and draws); an unknown rule is refused."""
    from blrkit.algorithms import vogn
    from blrkit.classical.ogn import vogn as classical

    X = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0], [2.0, -1.0]])
    y = np.array([1.0, 2.0, 2.0, 0.5])

    def terms(th, idx):
        r = (th[..., None, :] * X[idx]).sum(-1) - y[idx]
        return r[..., None] * X[idx] + th[..., None, :] / 4

    res = vogn(terms, np.zeros(2), rho=0.7, n_steps=20, n_data=4, batch_size=2, precision0=np.ones(2),
               n_samples=2, rng=5, rule="improved")
    xs, ss = classical(terms, np.zeros(2), np.ones(2), 0.7, 20, 4, 2, 2, np.random.default_rng(5), rule="improved")
    np.testing.assert_allclose(res.means, xs, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(res.precisions, ss, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="rule must be"):
        vogn(terms, np.zeros(2), rho=0.7, n_steps=1, n_data=4, batch_size=2, precision0=np.ones(2), rule="x")


@pytest.mark.parametrize("driver", [online_gauss_newton, vogn])
@pytest.mark.parametrize("bad_step", [0, 31, 32, 40, 99])
def test_a_late_failure_is_reported_at_its_step(driver, bad_step):
    """Every call of grad_terms is checked (the iterates only in blocks of steps): a NaN from grad_terms at its
    call t + 1 (step t + 1; step 1 is the first) is reported at that step, on either side of a block's boundary
    (CHECK_EVERY = 32), and blames it."""
    calls = {"n": 0}

    def terms(th, idx):
        calls["n"] += 1
        return good_terms(th, idx) * (np.nan if calls["n"] == bad_step + 1 else 1.0)

    match = rf"grad_terms returned non-finite values \(NaN or inf\) at step {bad_step + 1}$"
    with pytest.raises(ValueError, match=match):
        driver(terms, np.ones(2), rho=0.5, n_steps=100, n_data=4, batch_size=2, precision0=np.ones(2), rng=0)


def test_grad_sums_gives_the_iterates_of_grad_terms():
    """The emitted steps take (Σ∇ℓ_i, Σ∇ℓ_i²); handing those sums directly (as a network computes them without
    per-example gradients) gives the same iterates as summing ``grad_terms``, and a wrong output is named."""
    from blrkit.algorithms import online_gauss_newton, vogn

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 3)), rng.normal(size=30)

    def terms(theta, idx):
        return ((theta @ X[idx].T) - y[idx])[..., None] * X[idx]

    def sums(theta, idx):
        G = terms(theta, idx)
        return G.sum(-2), (G ** 2).sum(-2)
    kw = dict(rho=0.3, n_steps=20, n_data=30, batch_size=8, precision0=30.0, rng=2)
    for driver, extra in ((online_gauss_newton, {}), (vogn, {"n_samples": 2})):
        a = driver(terms, np.zeros(3), **kw, **extra)
        b = driver(None, np.zeros(3), grad_sums=sums, **kw, **extra)
        np.testing.assert_allclose(b.means, a.means, rtol=1e-14)
        np.testing.assert_allclose(b.precisions, a.precisions, rtol=1e-14)
    with pytest.raises(ValueError, match="grad_sums must return two arrays of shape"):
        vogn(None, np.zeros(3), grad_sums=lambda th, idx: (th, th[..., :2]), **kw)
    with pytest.raises(TypeError, match="grad_terms must be callable \\(or give grad_sums\\)"):
        vogn(None, np.zeros(3), **kw)


def sums_of(terms):
    """``grad_sums(θ, idx)`` made from per-example gradients (a network would compute them without)."""
    def sums(theta, idx):
        G = terms(theta, idx)
        return G.sum(-2), (G ** 2).sum(-2)
    return sums


@pytest.mark.parametrize("driver, extra", [
    (online_gauss_newton, {}), (online_gauss_newton, {"oracle": "grad_sums"}),
    (vogn, {"n_samples": 2}), (vogn, {"n_samples": 2, "rule": "improved", "oracle": "grad_sums"})])
def test_another_array_library_computes_with_its_arrays(driver, extra, other_library, rng):
    """The same call on another library's arrays returns that library's arrays, equal to the NumPy run (the
    same minibatches and draws: the generator stays on the host). The user's callable works on the library's
    arrays, as a PyTorch model's would (a converting wrapper around the NumPy one), and receives the
    library's θ and index arrays. Two problems in a batch with one ρ each; 40 steps pass a block check."""
    lib, extra = other_library, dict(extra)
    p = logistic_problem(rng, 20, 3, batch=(2,))
    use_sums = extra.pop("oracle", None) == "grad_sums"
    m0, rho, s0 = rng.standard_normal((2, 3)), np.array([0.3, 0.8]), rng.uniform(20.0, 60.0, 3)
    kw = dict(n_steps=40, n_data=20, batch_size=6, rng=SEED, **extra)

    def run(m0, rho, s0, oracle):
        if use_sums:
            return driver(None, m0, rho=rho, precision0=s0, grad_sums=oracle, **kw)
        return driver(oracle, m0, rho=rho, precision0=s0, **kw)

    oracle = sums_of(per_example(p)) if use_sums else per_example(p)
    want = run(m0, rho, s0, oracle)
    seen = set()
    wrapped = lib.wrap(oracle)

    def spy(theta, idx):
        seen.update(isinstance(a, lib.array_type) for a in (theta, idx))
        return wrapped(theta, idx)
    got = run(lib.to(m0), lib.to(rho), lib.to(s0), spy)
    assert seen == {True}  # θ and the indices were the library's arrays
    assert_same_result(got, want, lib, ["means", "precisions"])


@pytest.mark.parametrize("driver", [online_gauss_newton, vogn])
def test_mixing_numpy_with_another_library_names_the_argument(driver):
    xp = pytest.importorskip("array_api_strict")
    with pytest.raises(TypeError, match=r"^precision0 comes from array_api_strict \(Array\) but m0 from NumPy"):
        driver(good_terms, np.zeros(2), rho=0.5, n_steps=2, n_data=4, batch_size=2, precision0=xp.ones(2))
    with pytest.raises(TypeError, match=r"^grad_terms returned a NumPy array \(ndarray\) for θ from array_api_strict"):
        driver(lambda th, idx: np.ones((2, 2)), xp.zeros(2), rho=0.5, n_steps=2, n_data=4, batch_size=2,
               precision0=xp.ones(2))


# -- the fast paths of the loop: each refuses what the exact tests refuse ----------------------------------------

def _corrupted_step(original, at_call, kind):
    """The emitted step, its output made bad at call ``at_call`` (1 = the first): a wrong step as
    ``blrkit.verify.variants`` installs one, so that every kind of bad iterate reaches the block check."""
    calls = {"n": 0}

    def step(*args):
        m, s = original(*args)
        calls["n"] += 1
        if calls["n"] == at_call:
            m, s = m.copy(), s.copy()
            target, value = {"m nan": (m, np.nan), "m inf": (m, -np.inf), "s inf": (s, np.inf), "s zero": (s, 0.0)}[kind]
            target[..., -1] = value
        return m, s
    return step


@pytest.mark.parametrize("driver, step_name", [(online_gauss_newton, "ogn_step"), (vogn, "vogn_step")])
@pytest.mark.parametrize("kind, match", [
    ("m nan", "the mean became non-finite"), ("m inf", "the mean became non-finite"),
    ("s inf", "the precision became non-finite"), ("s zero", "the precision became non-positive"),
])
@pytest.mark.parametrize("bad_step", [1, 32, 33])
def test_every_kind_of_bad_iterate_is_refused_at_its_step(monkeypatch, driver, step_name, kind, match, bad_step):
    """The iterates are checked in blocks of 32 steps by three reductions (the minimum of s, the sums of s and m)
    before any exact search: a NaN or inf in either, or a precision ≤ 0, at a step on either side of a block's
    boundary, is reported at that step, numbered as grad_terms' failures are (step 1 is the first).
    Fails on: a fast test without the sum of m (m nan, m inf pass), without the sum of s (s inf passes), with
    s.min() ≥ 0 (s zero passes), and on the old numbering (the first step was reported as step 0)."""
    import blrkit.algorithms.ogn as ogn_module

    monkeypatch.setattr(ogn_module, step_name, _corrupted_step(getattr(ogn_module, step_name), bad_step, kind))
    with pytest.raises(ValueError, match=rf"^{match} at step {bad_step}:"):
        driver(good_terms, np.ones(2), rho=0.5, n_steps=50, n_data=4, batch_size=2, precision0=np.ones(2), rng=0)


def test_finite_terms_whose_squares_overflow_the_fast_test_pass():
    """|∇ℓ_i| = 1e100: Σ g² = 2e200 is finite but its dot product with itself, the fast finiteness test, overflows;
    the exact test behind it passes the terms. One full-batch step by hand: s₁ = (1 − ρ)s₀ + ρ Σ g² and
    m₁ = m₀ − ρ Σ g / s₁, with Σ over N = M = 2 terms of g = 1e100 (ρ = 1/2, s₀ = 1, m₀ = 0).
    Fails on: the fast test taken as the check (a ValueError blaming grad_terms)."""
    big = lambda th, idx: np.full(th.shape[:-1] + (len(idx), th.shape[-1]), 1e100)  # noqa: E731
    res = online_gauss_newton(big, np.zeros(2), rho=0.5, n_steps=1, n_data=2, batch_size=2, precision0=1.0, rng=0)
    s1 = 0.5 * 1.0 + 0.5 * 2e200
    np.testing.assert_allclose(res.precisions[1], [s1, s1], rtol=1e-15)
    np.testing.assert_allclose(res.means[1], [-0.5 * 2e100 / s1] * 2, rtol=1e-15)


def test_terms_whose_squares_overflow_are_a_named_error_not_a_warning():
    """|∇ℓ_i| = 1e200 squares to inf: the precision of step 1 is not finite, a ValueError at that step (before: a
    NumPy RuntimeWarning 'overflow encountered in multiply' escaped first, and the error said step 0).
    Fails on: errstate without over='ignore' (the warning, an error under -W error), and the old numbering."""
    import warnings

    huge = lambda th, idx: np.full(th.shape[:-1] + (len(idx), th.shape[-1]), 1e200)  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"^the precision became non-finite at step 1: grad_terms returned"):
            online_gauss_newton(huge, np.zeros(2), rho=0.5, n_steps=3, n_data=2, batch_size=2, precision0=1.0, rng=0)


@pytest.mark.parametrize("driver", [online_gauss_newton, vogn])
def test_an_empty_batch_of_problems_runs(driver):
    """m0 of shape (0, D): no problems, every iterate empty (the block check's minimum has the identity inf).
    Fails on: s.min() without initial (NumPy's 'zero-size array to reduction operation minimum')."""
    res = driver(good_terms, np.zeros((0, 2)), rho=0.5, n_steps=40, n_data=4, batch_size=2, precision0=1.0, rng=0)
    assert res.means.shape == res.precisions.shape == (41, 0, 2)
