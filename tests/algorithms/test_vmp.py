"""VMP for a Gaussian with unknown mean and precision (vmp_normal_gamma): the lower bound against a
two-dimensional quadrature, coordinate ascent never lowering it, the fixed point, batching, bad input.
Its sweeps against Bishop's CAVI and BayesPy are the `vmp` row of `blrkit table`."""

import math

import numpy as np
import pytest
import scipy.integrate
import scipy.stats

from blrkit.algorithms import VMPResult, vmp_normal_gamma

PRIOR = dict(mean_prior=(0.5, 0.1), precision_prior=(2.0, 3.0))


def test_lower_bound_equals_quadrature():
    """ELBO = ∫∫ q(μ)q(τ) [log p(y, μ, τ) − log q(μ)q(τ)] dμ dτ by adaptive quadrature (scipy dblquad,
    epsabs 1e-10 on a box holding all but ~1e-12 of q's mass), against the closed form of the driver."""
    y = np.random.default_rng(4).normal(1.0, 1.5, size=15)
    res = vmp_normal_gamma(y, n_steps=5, **PRIOR)
    m, S, a, b = res.means[-1], res.precisions[-1], res.alphas[-1], res.betas[-1]
    qtau = scipy.stats.gamma(a, scale=1 / b)
    (m0, S0), (a0, b0) = PRIOR["mean_prior"], PRIOR["precision_prior"]
    n, sum_y, sum_y2 = y.size, y.sum(), (y**2).sum()

    # the log-densities written out (scipy.stats' frozen objects cost ~50 µs a call inside dblquad's
    # ~10⁵ evaluations); checked against scipy.stats at one point below
    def log_normal(x, mean, precision):
        return 0.5 * math.log(precision / (2 * math.pi)) - 0.5 * precision * (x - mean) ** 2

    def log_gamma(x, shape, rate):
        return shape * math.log(rate) - math.lgamma(shape) + (shape - 1) * math.log(x) - rate * x

    def integrand(mu, tau):
        log_lik = 0.5 * n * math.log(tau / (2 * math.pi)) - 0.5 * tau * (sum_y2 - 2 * mu * sum_y + n * mu**2)
        log_joint = log_lik + log_normal(mu, m0, S0) + log_gamma(tau, a0, b0)
        log_q = log_normal(mu, m, S) + log_gamma(tau, a, b)
        return math.exp(log_q) * (log_joint - log_q)

    mu1, tau1 = m + 0.3, a / b * 1.2
    reference = (scipy.stats.norm(mu1, 1 / np.sqrt(tau1)).logpdf(y).sum()
                 + scipy.stats.norm(m0, 1 / np.sqrt(S0)).logpdf(mu1) + scipy.stats.gamma(a0, scale=1 / b0).logpdf(tau1)
                 - scipy.stats.norm(m, 1 / np.sqrt(S)).logpdf(mu1) - qtau.logpdf(tau1))
    log_q1 = log_normal(mu1, m, S) + log_gamma(tau1, a, b)
    np.testing.assert_allclose(integrand(mu1, tau1) / math.exp(log_q1), reference, rtol=1e-12)
    lo, hi = qtau.ppf(1e-13), qtau.ppf(1 - 1e-13)
    value, _ = scipy.integrate.dblquad(integrand, lo, hi, m - 8 / np.sqrt(S), m + 8 / np.sqrt(S), epsabs=1e-10)
    np.testing.assert_allclose(res.elbo[-1], value, rtol=1e-8)


def test_coordinate_ascent_never_lowers_the_bound_and_stops_at_a_fixed_point():
    y = np.random.default_rng(1).normal(-2.0, 0.5, size=(3, 40))
    res = vmp_normal_gamma(y, n_steps=40, **PRIOR)
    assert isinstance(res, VMPResult) and res.means.shape == (41, 3)
    assert np.all(np.diff(res.elbo[1:], axis=0) >= -1e-10)
    again = vmp_normal_gamma(y, n_steps=1, precision_init=(res.alphas[-1], res.betas[-1]), **PRIOR)
    np.testing.assert_allclose(again.means[-1], res.means[-1], rtol=1e-12)
    np.testing.assert_allclose(again.betas[-1], res.betas[-1], rtol=1e-12)


def test_batches_are_independent_problems():
    y = np.random.default_rng(2).normal(size=(2, 25))
    both = vmp_normal_gamma(y, n_steps=6, **PRIOR)
    for b in range(2):
        one = vmp_normal_gamma(y[b], n_steps=6, **PRIOR)
        np.testing.assert_allclose(both.means[:, b], one.means, rtol=1e-14)
        np.testing.assert_allclose(both.elbo[:, b], one.elbo, rtol=1e-13)


@pytest.mark.parametrize("kwargs, match", [
    (dict(y=[]), "at least one observation"), (dict(y=[1.0, np.nan]), "y"),
    (dict(mean_prior=(0.0, 0.0)), "mean_prior must be positive"),
    (dict(precision_prior=(1.0, -1.0)), "precision_prior must be positive"),
    (dict(mean_prior=1.0), "mean_prior must be a pair"), (dict(n_steps=-1), "n_steps"),
])
def test_bad_input_is_named(kwargs, match):
    args = dict(y=[0.1, 0.2, 0.3], n_steps=2) | kwargs
    with pytest.raises(ValueError, match=match):
        vmp_normal_gamma(args.pop("y"), **args)


# -- Bayesian linear regression --------------------------------------------------------------------

def _regression(seed=0, n=40, d=3, batch=()):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=batch + (n, d))
    y = X @ np.linspace(-1.0, 1.0, d) + rng.normal(scale=0.5, size=batch + (n,))
    return X, y


def test_regression_equals_the_hand_written_cavi_every_sweep():
    """Against blrkit.classical.vmp (Bishop 10.3 written out separately); 1e-12: the same algebra, a few
    rounding steps apart."""
    from blrkit.algorithms import vmp_linear_regression
    from blrkit.classical.vmp import linear_regression_cavi

    X, y = _regression()
    res = vmp_linear_regression(X, y, alpha=0.3, noise_prior=(2.0, 1.0), n_steps=10)
    book = linear_regression_cavi(X, y, alpha=0.3, a0=2.0, b0=1.0, n_steps=10)
    for ours, theirs in ((res.means, book.means), (res.precisions, book.precisions), (res.alphas, book.shapes),
                         (res.betas, book.rates), (res.elbo, book.elbo)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)
    assert np.all(np.diff(res.elbo) >= -1e-10 * np.abs(res.elbo[1:]))


def test_regression_against_bayespy():
    pytest.importorskip("bayespy")
    from blrkit.algorithms import vmp_linear_regression
    from blrkit.classical.vmp import bayespy_linear_regression_iterates

    X, y = _regression(seed=3)
    res = vmp_linear_regression(X, y, alpha=0.3, noise_prior=(2.0, 1.0), n_steps=6)
    e_w, _, e_tau, _, bound = bayespy_linear_regression_iterates(X, y, alpha=0.3, a0=2.0, b0=1.0, n_steps=6)
    np.testing.assert_allclose(res.means[1:], e_w, rtol=1e-8)
    np.testing.assert_allclose(res.alphas[1:] / res.betas[1:], e_tau, rtol=1e-8)
    np.testing.assert_allclose(res.elbo[1:], bound, rtol=1e-8)


def test_regression_batched_equals_one_at_a_time_and_leaves_inputs_alone():
    from blrkit.algorithms import vmp_linear_regression

    X, y = _regression(batch=(2, 3))
    X0, y0 = X.copy(), y.copy()
    res = vmp_linear_regression(X, y, alpha=0.3, n_steps=4)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
    one = vmp_linear_regression(X[1, 2], y[1, 2], alpha=0.3, n_steps=4)
    np.testing.assert_allclose(res.means[:, 1, 2], one.means, rtol=1e-12)
    np.testing.assert_allclose(res.precisions[:, 1, 2], one.precisions, rtol=1e-12)


@pytest.mark.parametrize("kwargs, match", [
    (dict(alpha=0.0), "alpha"), (dict(alpha=-1.0), "alpha"), (dict(noise_prior=(0.0, 1.0)), "noise_prior"),
    (dict(noise_prior=1.0), "noise_prior"), (dict(noise_init=(1.0, -1.0)), "noise_init"), (dict(n_steps=-2), "n_steps"),
])
def test_regression_bad_input(kwargs, match):
    from blrkit.algorithms import vmp_linear_regression

    X, y = _regression()
    with pytest.raises(ValueError, match=match):
        vmp_linear_regression(X, y, **({"alpha": 1.0, "n_steps": 2} | kwargs))


def test_regression_bad_data():
    from blrkit.algorithms import vmp_linear_regression

    X, y = _regression()
    with pytest.raises(ValueError, match="must agree"):
        vmp_linear_regression(X, y[:-1], alpha=1.0, n_steps=1)
    y[0] = np.inf
    with pytest.raises(ValueError, match="y must be finite"):
        vmp_linear_regression(X, y, alpha=1.0, n_steps=1)


# -- another array library (issue #15) ------------------------------------------------------------------------

VMP_FIELDS = ("means", "precisions", "alphas", "betas", "elbo")

def test_on_another_array_library_equals_numpy(other_library):
    """Both drivers, a batch of two problems, a prior entry as an array and one as a number: the same result as on
    NumPy, in the other library's arrays, the lower bounds included (tolerances in algorithms.other_library)."""
    from algorithms.other_library import assert_same_result

    from blrkit.algorithms import vmp_linear_regression

    lib = other_library
    y = np.random.default_rng(2).normal(1.0, 1.5, size=(2, 15))
    kwargs = dict(mean_prior=(0.5, np.array([0.1, 0.2])), precision_prior=(2.0, 3.0), n_steps=4)
    got = vmp_normal_gamma(lib.to(y), **(kwargs | dict(mean_prior=(0.5, lib.to(np.array([0.1, 0.2]))))))
    assert_same_result(got, vmp_normal_gamma(y, **kwargs), lib, VMP_FIELDS)

    X, y = _regression(batch=(2,), n=20)
    want = vmp_linear_regression(X, y, alpha=np.array([0.5, 1.0]), noise_prior=(2.0, 3.0), n_steps=4)
    got = vmp_linear_regression(lib.to(X), lib.to(y), alpha=lib.to(np.array([0.5, 1.0])), noise_prior=(2.0, 3.0),
                                n_steps=4)
    assert_same_result(got, want, lib, VMP_FIELDS)


def test_mixing_numpy_with_another_library_names_the_argument():
    xp = pytest.importorskip("array_api_strict")
    from blrkit.algorithms import vmp_linear_regression

    with pytest.raises(TypeError, match=r"^precision_prior\[1\] comes from array_api_strict \(Array\) but y from NumPy"):
        vmp_normal_gamma(np.ones(5), precision_prior=(1.0, xp.asarray(2.0)), n_steps=1)
    X, y = _regression()
    with pytest.raises(TypeError, match=r"^alpha comes from array_api_strict \(Array\) but X from NumPy"):
        vmp_linear_regression(X, y, alpha=xp.asarray(1.0), n_steps=1)
