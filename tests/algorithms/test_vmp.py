"""VMP for a Gaussian with unknown mean and precision (vmp_normal_gamma): the lower bound against a
two-dimensional quadrature, coordinate ascent never lowering it, the fixed point, batching, bad input.
Its sweeps against Bishop's CAVI and BayesPy are the `vmp` row of `blrkit table`."""

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
    qmu, qtau = scipy.stats.norm(m, 1 / np.sqrt(S)), scipy.stats.gamma(a, scale=1 / b)
    (m0, S0), (a0, b0) = PRIOR["mean_prior"], PRIOR["precision_prior"]
    prior_mu, prior_tau = scipy.stats.norm(m0, 1 / np.sqrt(S0)), scipy.stats.gamma(a0, scale=1 / b0)

    def integrand(mu, tau):
        log_joint = scipy.stats.norm(mu, 1 / np.sqrt(tau)).logpdf(y).sum() + prior_mu.logpdf(mu) + prior_tau.logpdf(tau)
        return qmu.pdf(mu) * qtau.pdf(tau) * (log_joint - qmu.logpdf(mu) - qtau.logpdf(tau))
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
