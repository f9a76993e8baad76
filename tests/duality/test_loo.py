"""Leave-one-out for free: exact against N ridge refits; the one-site approximation against Laplace
refits (its error shrinks with N); the predictive densities against quadrature."""

import numpy as np
import pytest
from scipy import integrate, stats

from blrkit.algorithms import ridge
from blrkit.duality import fit_glm, leave_one_out, local_parameters
from duality.problems import glm_data
from duality.tolerances import EXACT, QUADRATURE, assert_close


def test_gaussian_loo_equals_refits(rng):
    """All N cavities = ridge refitted without each example: predictive mean and variance, log predictive
    density N(y_i; η, v + σ²) by SciPy, and the cavity means (EXACT, the issue's 1e-10)."""
    N, D, s2, delta = 40, 4, 0.6, 1.3
    X, y = glm_data(rng, "gaussian", N, D)
    sites = local_parameters(X, y, ridge(X, y, delta, noise_variance=s2), likelihood="gaussian",
                             prior_precision=delta, noise_variance=s2)
    loo = leave_one_out(sites)
    means = loo.means()
    for i in range(N):
        keep = np.arange(N) != i
        r = ridge(X[keep], y[keep], delta, noise_variance=s2)
        v = X[i] @ np.linalg.solve(r.precision, X[i])
        assert_close(means[i], r.mean, EXACT)
        assert_close(loo.eta[i], X[i] @ r.mean, EXACT)
        assert_close(loo.variance[i], v, EXACT)
        assert_close(loo.log_predictive[i], stats.norm.logpdf(y[i], X[i] @ r.mean, np.sqrt(v + s2)), EXACT)


def _shift_error(name, N, rng, n_refits=25):
    """Median over examples of |m_{\\i} (one site) − m_{\\i} (refit)| / |m_{\\i} (refit) − m|."""
    X, y = glm_data(rng, name, N, 3)
    post = fit_glm(X, y, likelihood=name, prior_precision=1.0, tol=1e-12)
    means = leave_one_out(local_parameters(X, y, post, likelihood=name, prior_precision=1.0)).means()
    errs = []
    for i in range(n_refits):
        keep = np.arange(N) != i
        r = fit_glm(X[keep], y[keep], likelihood=name, prior_precision=1.0, tol=1e-12)
        errs.append(np.abs(means[i] - r.mean).max() / np.abs(r.mean - post.mean).max())
    return float(np.median(errs))


@pytest.mark.parametrize("name", ["logistic", "poisson"])
def test_one_site_approximation_improves_with_n(rng, name):
    """The cavity is one Newton step from the full-data solution: it captures the refit's shift of the
    mean up to a relative error that shrinks as N grows (measured: logistic 1.5e-2 at N = 50, 2.6e-3 at
    N = 400; Poisson 1e-3 and 6e-4). Bounds: smaller at N = 400 than at 50, and below 1e-2 there."""
    small, large = _shift_error(name, 50, rng), _shift_error(name, 400, rng)
    assert large < small
    assert large < 1e-2


@pytest.mark.parametrize("name", ["logistic", "poisson", "probit"])
def test_log_predictive_against_quad(rng, name):
    """log ∫ p(y_i | η) N(η; η_\\i, v_\\i) dη: Gauss–Hermite (logistic, Poisson) and the closed form
    Φ(sη/√(1+v)) (probit) against scipy.integrate.quad of SciPy's densities (QUADRATURE)."""
    X, y = glm_data(rng, name, 30, 2, scale=2.0)
    post = fit_glm(X, y, likelihood=name, prior_precision=0.5, tol=1e-12)
    loo = leave_one_out(local_parameters(X, y, post, likelihood=name, prior_precision=0.5), n_quadrature=128)
    pdf = {"logistic": lambda e, yy: stats.bernoulli.pmf(yy, 1 / (1 + np.exp(-e))),
           "poisson": lambda e, yy: stats.poisson.pmf(yy, np.exp(e)),
           "probit": lambda e, yy: stats.norm.cdf((2 * yy - 1) * e)}[name]
    for i in range(0, 30, 7):
        a, sd = loo.eta[i], np.sqrt(loo.variance[i])
        ref = integrate.quad(lambda e: pdf(e, y[i]) * stats.norm.pdf(e, a, sd), a - 30 * sd, a + 30 * sd,
                             epsabs=1e-14, limit=200)[0]
        assert abs(np.exp(loo.log_predictive[i]) - ref) <= QUADRATURE * max(ref, 1e-3)


def test_sites_required():
    with pytest.raises(TypeError, match="sites must be"):
        leave_one_out(np.zeros(3))
