"""The closed-form GLM derivatives against SciPy's log-densities (finite differences), the probit
ratio far in the tails against mpmath, and Gauss–Hermite against scipy.integrate.quad."""

import mpmath
import numpy as np
import pytest
from scipy import integrate, stats

from blrkit.duality import LIKELIHOODS, gauss_hermite_expectation
from duality.tolerances import FINITE_DIFFERENCE, QUADRATURE, assert_close

S2 = 0.7

#: independent log-densities log p(y | η)
SCIPY = {
    "gaussian": lambda eta, y: stats.norm.logpdf(y, loc=eta, scale=np.sqrt(S2)),
    "logistic": lambda eta, y: stats.bernoulli.logpmf(y, 1 / (1 + np.exp(-eta))),
    "poisson": lambda eta, y: stats.poisson.logpmf(y, np.exp(eta)),
    "probit": lambda eta, y: stats.norm.logcdf((2 * y - 1) * eta),
}
Y = {"gaussian": np.array([-1.3, 0.2, 2.5]), "logistic": np.array([0.0, 1.0, 1.0]),
     "poisson": np.array([0.0, 2.0, 7.0]), "probit": np.array([0.0, 1.0, 1.0])}


@pytest.mark.parametrize("name", sorted(LIKELIHOODS))
def test_log_density_and_derivatives(name):
    lik, eta, y, h = LIKELIHOODS[name], np.array([-1.5, 0.3, 1.2]), Y[name], 1e-5
    assert_close(lik.log_density(eta, y, S2), SCIPY[name](eta, y), 1e-12)
    f = lambda e: -SCIPY[name](e, y)  # noqa: E731 -- the loss
    fd1 = (f(eta + h) - f(eta - h)) / (2 * h)
    fd2 = (f(eta + h) - 2 * f(eta) + f(eta - h)) / h ** 2
    assert_close(lik.d1(eta, y, S2), fd1, FINITE_DIFFERENCE)
    assert_close(lik.d2(eta, y, S2), fd2, 1e-4)  # second differences: rounding eps/h² ≈ 2e-6 relative


def test_derivative_sign_flip_is_caught():
    """A mutation of the probit derivative (a dropped sign) fails the same comparison."""
    eta, y, h = np.array([-1.5, 0.3]), np.array([0.0, 1.0]), 1e-5
    f = lambda e: -SCIPY["probit"](e, y)  # noqa: E731
    fd1 = (f(eta + h) - f(eta - h)) / (2 * h)
    with pytest.raises(AssertionError):
        assert_close(-LIKELIHOODS["probit"].d1(eta, y, S2), fd1, FINITE_DIFFERENCE)


@pytest.mark.parametrize("z", [-40.0, -8.0, 0.0, 8.0, 40.0])
def test_probit_tails_against_mpmath(z):
    """f'(η) and f''(η) of −log Φ(η) (y = 1) stay accurate deep in both tails (no 0/0, no overflow)."""
    mpmath.mp.dps = 50
    zz = mpmath.mpf(z)
    r = mpmath.npdf(zz) / mpmath.ncdf(zz)
    d1, d2 = -r, r * (zz + r)
    lik = LIKELIHOODS["probit"]
    assert np.isclose(lik.d1(np.array(z), 1.0, 1.0), float(d1), rtol=1e-12, atol=1e-300)
    # z + r cancels for z → −∞: relative error ~ eps·z² (≈ 4e-13 at z = −40)
    assert np.isclose(lik.d2(np.array(z), 1.0, 1.0), float(d2), rtol=1e-9, atol=1e-300)


@pytest.mark.parametrize("name", sorted(LIKELIHOODS))
def test_gauss_hermite_against_quad(name):
    lik, y = LIKELIHOODS[name], Y[name]
    a, v = np.array([-0.8, 0.1, 1.1]), np.array([0.3, 1.0, 4.0])
    e1, e2 = gauss_hermite_expectation([lambda e, yy: lik.d1(e, yy, S2), lambda e, yy: lik.d2(e, yy, S2)],
                                       a, v, y, n_nodes=128)
    for i in range(3):
        dens = stats.norm(a[i], np.sqrt(v[i])).pdf
        for got, g in ((e1[i], lik.d1), (e2[i], lik.d2)):
            ref = integrate.quad(lambda t: g(np.array(t), y[i], S2) * dens(t), a[i] - 30 * np.sqrt(v[i]),
                                 a[i] + 30 * np.sqrt(v[i]), epsabs=1e-13, limit=200)[0]
            assert abs(got - ref) <= QUADRATURE * max(1.0, abs(ref))


def test_a_likelihood_from_an_expression_gives_the_same_sites():
    """f(η, y) typed as text, differentiated by the derive engine: the sites of a logistic MAP equal those of
    the built-in closed forms (written by hand in blrkit.duality.likelihoods)."""
    from blrkit.duality import fit_glm, glm_likelihood, local_parameters

    rng = np.random.default_rng(2)
    X = rng.normal(size=(50, 3))
    y = (rng.uniform(size=50) < 1 / (1 + np.exp(-X @ [1.0, -0.5, 0.2]))).astype(float)
    post = fit_glm(X, y, likelihood="logistic", prior_precision=1.0)
    own = glm_likelihood("log(1 + exp(-(2*y - 1)*eta))")
    a = local_parameters(X, y, post, likelihood="logistic", prior_precision=1.0)
    b = local_parameters(X, y, post, likelihood=own, prior_precision=1.0)
    np.testing.assert_allclose(b.alpha, a.alpha, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(b.beta, a.beta, rtol=1e-12)
    np.testing.assert_allclose(own.log_density(X @ post.mean, y, 1.0),
                               LIKELIHOODS["logistic"].log_density(X @ post.mean, y, 1.0), rtol=1e-12)
