"""blrkit.algorithms.conjugate against textbook updates written here, scipy.stats densities and
blrkit.classical.conjugate.

Bayes' rule check (scipy.stats): the posterior is proportional to prior × likelihood, so
log q(θ) − [log p(θ) + log p(y | θ)] (the log evidence, negated) is the same at every θ; it is
evaluated at several θ and its spread must vanish (CLOSED_FORM, relative to the log densities' size).
Mapping: ``alpha0, beta0`` etc. are the textbook prior parameters; Gamma and Normal–Gamma β is a rate
(scipy's ``scale = 1/β``); ``precision0`` and the Normal posterior's ``precision`` are 1/variance.
"""

import numpy as np
import pytest
import scipy.stats as st

from algorithms.other_library import assert_same_result, convert_all
from algorithms.tolerances import CLOSED_FORM, SAME_ARITHMETIC, assert_close
from blrkit.algorithms.conjugate import (
    beta_bernoulli,
    dirichlet_categorical,
    gamma_poisson,
    gaussian_mean,
    normal_gamma,
)
from blrkit.classical import conjugate as classical

N = 12


def assert_bayes_rule(log_post, log_prior_lik, thetas):
    """log posterior − log(prior × likelihood) is constant over ``thetas``."""
    diffs = np.array([log_post(t) - log_prior_lik(t) for t in thetas])
    scale = max(1.0, max(abs(log_post(t)) for t in thetas))
    assert np.ptp(diffs) <= CLOSED_FORM * scale, diffs


def test_beta_bernoulli(rng):
    y = (rng.random(N) < 0.3).astype(int)
    a0, b0 = 2.0, 3.5
    post = beta_bernoulli(y, alpha0=a0, beta0=b0)
    # textbook: α = α₀ + #ones, β = β₀ + #zeros
    assert_close([post.alpha, post.beta], [a0 + np.count_nonzero(y), b0 + np.count_nonzero(y == 0)], SAME_ARITHMETIC)
    assert_close([post.alpha, post.beta], classical.beta_bernoulli(a0, b0, y), SAME_ARITHMETIC)
    ref = st.beta(post.alpha, post.beta)
    assert_close([post.mean, post.variance], [ref.mean(), ref.var()], CLOSED_FORM)
    assert_bayes_rule(ref.logpdf, lambda p: st.beta(a0, b0).logpdf(p) + st.bernoulli(p).logpmf(y).sum(),
                      [0.05, 0.2, 0.5, 0.9])
    assert_close(beta_bernoulli(y).alpha, 1 + y.sum(), SAME_ARITHMETIC)  # default: the uniform prior


def test_gamma_poisson(rng):
    y = rng.poisson(3.0, N)
    a0, b0 = 1.5, 0.5
    post = gamma_poisson(y, alpha0=a0, beta0=b0)
    # textbook: α = α₀ + Σy, β = β₀ + N (rate)
    assert_close([post.alpha, post.beta], [a0 + y.sum(), b0 + N], SAME_ARITHMETIC)
    assert_close([post.alpha, post.beta], classical.gamma_poisson(a0, b0, y), SAME_ARITHMETIC)
    ref = st.gamma(post.alpha, scale=1 / post.beta)
    assert_close([post.mean, post.variance], [ref.mean(), ref.var()], CLOSED_FORM)
    assert_bayes_rule(ref.logpdf, lambda r: st.gamma(a0, scale=1 / b0).logpdf(r) + st.poisson(r).logpmf(y).sum(),
                      [0.5, 2.0, 3.0, 6.0])


def test_dirichlet_categorical(rng):
    K = 4
    y = rng.integers(0, K, N)
    a0 = rng.uniform(0.5, 2.0, K)
    post = dirichlet_categorical(y, alpha0=a0)
    # textbook: α_k = α₀_k + n_k
    assert_close(post.alpha, a0 + np.bincount(y, minlength=K), SAME_ARITHMETIC)
    assert_close(post.alpha, classical.dirichlet_categorical(a0, np.eye(K)[y]), SAME_ARITHMETIC)
    assert_close(post.mean, st.dirichlet(post.alpha).mean(), CLOSED_FORM)
    onehot = np.eye(K)[y]
    thetas = rng.dirichlet(np.ones(K), 4)
    assert_bayes_rule(st.dirichlet(post.alpha).logpdf,
                      lambda p: st.dirichlet(a0).logpdf(p) + st.multinomial(1, p).logpmf(onehot).sum(), thetas)


def test_gaussian_mean(rng):
    y = rng.normal(1.0, 2.0, N)
    m0, S0, s2 = -0.5, 0.25, 4.0
    post = gaussian_mean(y, m0=m0, precision0=S0, noise_variance=s2)
    # textbook: S = S₀ + N/σ², m = (S₀m₀ + Σy/σ²)/S
    S = S0 + N / s2
    assert_close([post.mean, post.precision], [(S0 * m0 + y.sum() / s2) / S, S], CLOSED_FORM)
    assert_close([post.mean, post.precision], classical.gaussian_mean(m0, S0, y, s2), CLOSED_FORM)
    ref = st.norm(post.mean, np.sqrt(post.variance))
    assert_bayes_rule(ref.logpdf,
                      lambda t: st.norm(m0, 1 / np.sqrt(S0)).logpdf(t) + st.norm(t, np.sqrt(s2)).logpdf(y).sum(),
                      [-2.0, 0.0, 1.0, 3.0])


def test_normal_gamma(rng):
    y = rng.normal(1.0, 0.7, N)
    m0, k0, a0, b0 = 0.3, 2.0, 1.5, 0.8
    post = normal_gamma(y, m0=m0, kappa0=k0, alpha0=a0, beta0=b0)
    # textbook (Murphy 2007, Eqs. 86–89)
    ybar = y.mean()
    want = [(k0 * m0 + N * ybar) / (k0 + N), k0 + N, a0 + N / 2,
            b0 + 0.5 * np.sum((y - ybar) ** 2) + k0 * N * (ybar - m0) ** 2 / (2 * (k0 + N))]
    assert_close([post.m, post.kappa, post.alpha, post.beta], want, CLOSED_FORM)
    assert_close([post.m, post.kappa, post.alpha, post.beta], classical.normal_gamma(m0, k0, a0, b0, y), CLOSED_FORM)
    assert_close([post.mean, post.precision_mean], [post.m, post.alpha / post.beta], SAME_ARITHMETIC)

    def log_ng(m, k, a, b):
        # N(μ | m, (κτ)⁻¹) Gamma(τ | a, rate b), by scipy.stats
        return lambda mt: st.norm(m, 1 / np.sqrt(k * mt[1])).logpdf(mt[0]) + st.gamma(a, scale=1 / b).logpdf(mt[1])

    prior = log_ng(m0, k0, a0, b0)
    assert_bayes_rule(log_ng(post.m, post.kappa, post.alpha, post.beta),
                      lambda mt: prior(mt) + st.norm(mt[0], 1 / np.sqrt(mt[1])).logpdf(y).sum(),
                      [(0.0, 0.5), (1.0, 2.0), (1.5, 1.0), (-0.5, 3.0)])


CASES = {
    "beta_bernoulli": (beta_bernoulli, lambda r, s: (r.random(s + (N,)) < 0.4).astype(float),
                       dict(alpha0=(0.5, 3.0), beta0=(0.5, 3.0))),
    "gamma_poisson": (gamma_poisson, lambda r, s: r.poisson(2.0, s + (N,)), dict(alpha0=(0.5, 3.0), beta0=(0.5, 3.0))),
    "gaussian_mean": (gaussian_mean, lambda r, s: r.normal(0.0, 1.0, s + (N,)),
                      dict(m0=(-1.0, 1.0), precision0=(0.5, 3.0), noise_variance=(0.5, 3.0))),
    "normal_gamma": (normal_gamma, lambda r, s: r.normal(0.0, 1.0, s + (N,)),
                     dict(m0=(-1.0, 1.0), kappa0=(0.5, 3.0), alpha0=(0.5, 3.0), beta0=(0.5, 3.0))),
}


def fields(post):
    return {k: np.asarray(v) for k, v in vars(post).items()}


@pytest.mark.parametrize("name", list(CASES))
def test_batch_equals_single_calls(name, rng):
    """(2, 3) data sets with per-problem priors equal single calls; a scalar prior broadcasts."""
    fn, data, ranges = CASES[name]
    batch = (2, 3)
    y = data(rng, batch)
    priors = {k: rng.uniform(lo, hi, batch) for k, (lo, hi) in ranges.items()}
    post = fields(fn(y, **priors))
    for v in post.values():
        assert v.shape == batch
    for i in np.ndindex(batch):
        one = fields(fn(y[i], **{k: v[i] for k, v in priors.items()}))
        for k in post:
            assert_close(post[k][i], one[k], SAME_ARITHMETIC)
    shared = fields(fn(y, **{k: v[0, 0] for k, v in priors.items()}))
    assert all(v.shape == batch for v in shared.values())
    assert_close(shared[next(iter(shared))][0, 0], post[next(iter(post))][0, 0], SAME_ARITHMETIC)


def test_dirichlet_batch(rng):
    y = rng.integers(0, 3, (4, N))
    a0 = rng.uniform(0.5, 2.0, (4, 3))
    post = dirichlet_categorical(y, alpha0=a0)
    assert post.alpha.shape == (4, 3)
    for b in range(4):
        assert_close(post.alpha[b], dirichlet_categorical(y[b], alpha0=a0[b]).alpha, SAME_ARITHMETIC)
    assert dirichlet_categorical(y, alpha0=np.ones(3)).alpha.shape == (4, 3)


def test_inputs_not_modified():
    y, a0 = np.array([0, 1, 1]), np.ones(2)
    dirichlet_categorical(y, alpha0=a0)
    beta_bernoulli(y)
    np.testing.assert_array_equal(y, [0, 1, 1])
    np.testing.assert_array_equal(a0, [1.0, 1.0])


@pytest.mark.parametrize("call, match", [
    (lambda: beta_bernoulli([0, 2]), "y"), (lambda: beta_bernoulli([0.5]), "y"), (lambda: beta_bernoulli([]), "y"),
    (lambda: beta_bernoulli([0, 1], alpha0=0.0), "alpha0"), (lambda: beta_bernoulli([1], beta0=-1.0), "beta0"),
    (lambda: beta_bernoulli([[0, 1], [1, 1]], alpha0=[1.0, 2.0, 3.0]), "alpha0"),
    (lambda: gamma_poisson([1, -1], alpha0=1.0, beta0=1.0), "y"),
    (lambda: gamma_poisson([1.5], alpha0=1.0, beta0=1.0), "y"),
    (lambda: gamma_poisson([1, np.inf], alpha0=1.0, beta0=1.0), "y"),
    (lambda: gamma_poisson([1], alpha0=1.0, beta0=0.0), "beta0"),
    (lambda: dirichlet_categorical([0, 3], alpha0=np.ones(3)), "y"),
    (lambda: dirichlet_categorical([0, 1.5], alpha0=np.ones(3)), "y"),
    (lambda: dirichlet_categorical([0], alpha0=[1.0]), "alpha0"),
    (lambda: dirichlet_categorical([0], alpha0=[1.0, -1.0]), "alpha0"),
    (lambda: gaussian_mean([np.nan], m0=0.0, precision0=1.0, noise_variance=1.0), "y"),
    (lambda: gaussian_mean([1.0], m0=np.inf, precision0=1.0, noise_variance=1.0), "m0"),
    (lambda: gaussian_mean([1.0], m0=0.0, precision0=0.0, noise_variance=1.0), "precision0"),
    (lambda: gaussian_mean([1.0], m0=0.0, precision0=1.0, noise_variance=-1.0), "noise_variance"),
    (lambda: normal_gamma([1.0], m0=0.0, kappa0=0.0, alpha0=1.0, beta0=1.0), "kappa0"),
    (lambda: normal_gamma([1.0], m0=0.0, kappa0=1.0, alpha0=-1.0, beta0=1.0), "alpha0"),
    (lambda: normal_gamma([1.0], m0=0.0, kappa0=1.0, alpha0=1.0, beta0=0.0), "beta0"),
])
def test_bad_arguments_raise_naming_them(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# -- arrays of another library (array-api-strict, PyTorch, JAX) ----------------------------------------

_r = np.random.default_rng(3)
_Y = _r.standard_normal((2, 7))


@pytest.mark.parametrize("posterior, kwargs, fields", [
    (beta_bernoulli, dict(y=_r.integers(0, 2, (2, 7))), ["alpha", "beta", "mean", "variance"]),
    (gamma_poisson, dict(y=_r.integers(0, 5, (2, 7)), alpha0=2.0, beta0=np.array([1.0, 3.0])),
     ["alpha", "beta", "mean", "variance"]),
    (dirichlet_categorical, dict(y=_r.integers(0, 3, (2, 7)), alpha0=np.array([1.0, 2.0, 0.5])), ["alpha", "mean"]),
    (gaussian_mean, dict(y=_Y, m0=np.array([0.0, 1.0]), precision0=2.0, noise_variance=0.5),
     ["mean", "precision", "variance"]),
    (normal_gamma, dict(y=100 + _Y, m0=100.0, kappa0=np.array([1.0, 2.0]), alpha0=2.0, beta0=1.0),
     ["m", "kappa", "alpha", "beta", "mean", "precision_mean"]),
], ids=["beta_bernoulli", "gamma_poisson", "dirichlet_categorical", "gaussian_mean", "normal_gamma"])
def test_on_another_array_library_equals_numpy(other_library, posterior, kwargs, fields):
    """Data (integer labels and counts as integer arrays) and array prior parameters in another library,
    scalar ones Python numbers (then moved to the data's library and device): the posterior is computed
    in it and equals NumPy's, derived quantities too."""
    want = posterior(**kwargs)
    got = posterior(**convert_all(other_library, kwargs))
    assert_same_result(got, want, other_library, fields)


def test_mixing_array_libraries_names_the_argument():
    xp = pytest.importorskip("array_api_strict")
    with pytest.raises(TypeError, match=r"^alpha0 comes from array_api_strict .* but y from NumPy"):
        gamma_poisson(np.array([1.0, 2.0]), alpha0=xp.asarray(1.0, dtype=xp.float64), beta0=1.0)
