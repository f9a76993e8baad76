"""Log density, entropy and moments of every family against scipy.stats at random valid parameters.

Hypothesis draws the standard parameters (a bounded number of examples keeps the suite fast);
scipy.stats supplies the oracle: ``norm``, ``multivariate_normal``, ``bernoulli``, ``multinomial``
(categorical), ``beta``, ``gamma``, ``expon``, ``poisson``, ``dirichlet``; the Normal-Gamma as
``norm × gamma`` and the mixture's joint as ``π_z · norm``.  Moments of T(θ) that SciPy does
not provide directly come from their textbook closed forms in scipy.special (E[log θ] = ψ(α) − …;
``dist.expect`` is too slow and, near a singular density, too inaccurate for the tolerance).
"""

from typing import Callable, NamedTuple

import numpy as np
import pytest
import scipy.special as sc
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from blrkit.families import (
    Bernoulli,
    Beta,
    Categorical,
    DiagonalGaussian,
    Dirichlet,
    Exponential,
    FixedCovarianceGaussian,
    Gamma,
    GaussianMixture,
    MultivariateGaussian,
    NormalGamma,
    Poisson,
    UnivariateGaussian,
)
from families.tolerances import SCIPY, assert_close

EXAMPLES = settings(max_examples=8, deadline=None, derandomize=True)


def _floats(lo, hi):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def _vectors(lo, hi, n):
    return st.lists(_floats(lo, hi), min_size=n, max_size=n).map(np.array)


@st.composite
def _spd(draw, d):
    """A random SPD matrix: eigenvalues in [0.1, 10], random rotation."""
    eig = draw(_vectors(0.1, 10.0, d))
    q, _ = np.linalg.qr(np.random.default_rng(draw(st.integers(0, 2**32 - 1))).normal(size=(d, d)))
    s = (q * eig) @ q.T
    return (s + s.T) / 2


@st.composite
def _simplex(draw, k):
    w = draw(_vectors(0.05, 1.0, k))
    return w / w.sum()


class Oracle(NamedTuple):
    """SciPy's view of one parameter point: samples θ, their log density, the entropy, and moments.

    ``mu`` and ``fisher`` pair an index into μ (or F) with the value SciPy gives there.
    """

    theta: np.ndarray
    logpdf: np.ndarray
    entropy: float
    mu: list
    fisher: list


def _gaussian(std, rng):
    d = stats.norm(std["m"], 1 / np.sqrt(std["S"]))
    x = d.rvs(size=20, random_state=rng)
    return Oracle(x[:, None], d.logpdf(x), d.entropy(), [(0, d.mean()), (1, d.var() + d.mean() ** 2)], [((0, 0), d.var())])


def _mvn(mean, cov, rng):
    d = stats.multivariate_normal(mean, cov)
    x = d.rvs(size=20, random_state=rng).reshape(20, len(mean))
    return d, x


def _fixed(std, rng):
    d, x = _mvn(std["m"], 0.5 * np.eye(2), rng)
    return Oracle(x, d.logpdf(x), d.entropy(), [(slice(0, 2), std["m"])], [((slice(0, 2), slice(0, 2)), 0.5 * np.eye(2))])


def _full(std, rng, dim):
    cov = np.linalg.inv(std["S"])
    d, x = _mvn(std["m"], cov, rng)
    return Oracle(x, d.logpdf(x), d.entropy(), [(slice(0, dim), std["m"])],
                  [((slice(0, dim), slice(0, dim)), cov)])


def _diagonal(std, rng):
    var = 1 / std["s"]
    d, x = _mvn(std["m"], np.diag(var), rng)
    return Oracle(x, d.logpdf(x), d.entropy(), [(slice(0, 2), std["m"]), (slice(2, 4), var + std["m"] ** 2)],
                  [((slice(0, 2), slice(0, 2)), np.diag(var))])


def _bernoulli(std, rng):
    d = stats.bernoulli(std["p"])
    x = np.array([0.0, 1.0])
    return Oracle(x[:, None], d.logpmf(x), d.entropy(), [(0, d.mean())], [((0, 0), d.var())])


def _categorical(std, rng):
    p = std["p"]
    d = stats.multinomial(1, p)
    onehot = np.eye(3)
    return Oracle(onehot[:, :2], d.logpmf(onehot), float(d.entropy()), [(slice(0, 2), p[:2])],
                  [((slice(0, 2), slice(0, 2)), d.cov()[:2, :2])])


def _beta(std, rng):
    a, b = std["alpha"], std["beta"]
    d = stats.beta(a, b)
    x = d.rvs(size=20, random_state=rng)
    return Oracle(x[:, None], d.logpdf(x), d.entropy(),
                  [(0, sc.digamma(a) - sc.digamma(a + b)), (1, sc.digamma(b) - sc.digamma(a + b))],
                  [((0, 0), sc.polygamma(1, a) - sc.polygamma(1, a + b)), ((0, 1), -sc.polygamma(1, a + b))])


def _gamma(std, rng):
    d = stats.gamma(std["alpha"], scale=1 / std["beta"])
    x = d.rvs(size=20, random_state=rng)
    return Oracle(x[:, None], d.logpdf(x), d.entropy(), [(0, sc.digamma(std["alpha"]) - np.log(std["beta"])), (1, d.mean())],
                  [((1, 1), d.var()), ((0, 1), 1 / std["beta"])])  # Cov(log θ, θ) = 1/β


def _exponential(std, rng):
    d = stats.expon(scale=1 / std["rate"])
    x = d.rvs(size=20, random_state=rng)
    return Oracle(x[:, None], d.logpdf(x), d.entropy(), [(0, d.mean())], [((0, 0), d.var())])


def _poisson(std, rng):
    d = stats.poisson(std["rate"])
    x = d.rvs(size=20, random_state=rng).astype(float)
    return Oracle(x[:, None], d.logpmf(x), float(d.entropy()), [(0, d.mean())], [((0, 0), d.var())])


def _dirichlet(std, rng):
    a = std["alpha"]
    d = stats.dirichlet(a)
    x = d.rvs(size=20, random_state=rng)
    fisher = np.diag(sc.polygamma(1, a)) - sc.polygamma(1, a.sum())
    return Oracle(x, np.array([d.logpdf(xi) for xi in x]), d.entropy(),
                  [(slice(0, 3), sc.digamma(a) - sc.digamma(a.sum()))], [((slice(0, 3), slice(0, 3)), fisher)])


def _normal_gamma(std, rng):
    g = stats.gamma(std["alpha"], scale=1 / std["beta"])
    tau = g.rvs(size=20, random_state=rng)
    x = stats.norm(std["m"], 1 / np.sqrt(std["kappa"] * tau)).rvs(random_state=rng)
    logpdf = stats.norm(std["m"], 1 / np.sqrt(std["kappa"] * tau)).logpdf(x) + g.logpdf(tau)
    # H = H(τ) + E_τ[H(x | τ)], with H(x | τ) = ½ log(2πe/(κτ))
    e_log_tau = sc.digamma(std["alpha"]) - np.log(std["beta"])
    entropy = g.entropy() + 0.5 * np.log(2 * np.pi * np.e / std["kappa"]) - 0.5 * e_log_tau
    return Oracle(np.column_stack([x, tau]), logpdf, entropy,
                  [(0, std["m"] * g.mean()), (2, g.mean()), (3, e_log_tau)], [((2, 2), g.var())])


def _mixture(std, rng):
    pi, m, s = std["pi"], std["m"], std["S"]
    comps = [stats.norm(m[k], 1 / np.sqrt(s[k])) for k in range(2)]
    z = np.array([0, 1, 0, 1])
    x = np.array([comps[k].rvs(random_state=rng) for k in z])
    theta = np.column_stack([x, (z == 0).astype(float)])
    logpdf = np.log(pi[z]) + np.array([comps[k].logpdf(xi) for k, xi in zip(z, x)])
    entropy = float(stats.multinomial(1, pi).entropy()) + sum(pi[k] * comps[k].entropy() for k in range(2))
    mu = [(0, pi[0]), (1, pi[0] * comps[0].mean()), (2, pi[0] * (comps[0].var() + comps[0].mean() ** 2)), (3, pi[1] * comps[1].mean()), (4, pi[1] * (comps[1].var() + comps[1].mean() ** 2))]
    return Oracle(theta, logpdf, entropy, mu, [((0, 0), pi[0] * pi[1])])


class Spec(NamedTuple):
    factory: Callable
    params: st.SearchStrategy
    oracle: Callable


SPECS = {
    "gaussian": Spec(UnivariateGaussian, st.fixed_dictionaries({"m": _floats(-5, 5), "S": _floats(0.05, 20)}),
                     _gaussian),
    "gaussian-fixed-covariance": Spec(lambda: FixedCovarianceGaussian(2, sigma2=0.5),
                                      st.fixed_dictionaries({"m": _vectors(-5, 5, 2)}), _fixed),
    "multivariate-gaussian": Spec(lambda: MultivariateGaussian(2),
                                  st.fixed_dictionaries({"m": _vectors(-5, 5, 2), "S": _spd(2)}),
                                  lambda std, rng: _full(std, rng, 2)),
    "multivariate-gaussian-D3": Spec(lambda: MultivariateGaussian(3),
                                     st.fixed_dictionaries({"m": _vectors(-5, 5, 3), "S": _spd(3)}),
                                     lambda std, rng: _full(std, rng, 3)),
    "diagonal-gaussian": Spec(lambda: DiagonalGaussian(2),
                              st.fixed_dictionaries({"m": _vectors(-5, 5, 2), "s": _vectors(0.05, 20, 2)}),
                              _diagonal),
    "bernoulli": Spec(Bernoulli, st.fixed_dictionaries({"p": _floats(0.01, 0.99)}), _bernoulli),
    "categorical": Spec(lambda: Categorical(3), st.fixed_dictionaries({"p": _simplex(3)}), _categorical),
    "beta": Spec(Beta, st.fixed_dictionaries({"alpha": _floats(0.5, 20), "beta": _floats(0.5, 20)}), _beta),
    "gamma": Spec(Gamma, st.fixed_dictionaries({"alpha": _floats(0.5, 20), "beta": _floats(0.1, 10)}), _gamma),
    "exponential": Spec(Exponential, st.fixed_dictionaries({"rate": _floats(0.1, 10)}), _exponential),
    "poisson": Spec(Poisson, st.fixed_dictionaries({"rate": _floats(0.1, 50)}), _poisson),
    "dirichlet": Spec(lambda: Dirichlet(3), st.fixed_dictionaries({"alpha": _vectors(0.5, 20, 3)}), _dirichlet),
    "normal-gamma": Spec(NormalGamma, st.fixed_dictionaries(
        {"m": _floats(-5, 5), "kappa": _floats(0.1, 10), "alpha": _floats(0.5, 20), "beta": _floats(0.1, 10)}),
        _normal_gamma),
    "gaussian-mixture": Spec(lambda: GaussianMixture(2), st.fixed_dictionaries(
        {"pi": _simplex(2), "m": _vectors(-5, 5, 2), "S": _vectors(0.1, 10, 2)}), _mixture),
}


def test_every_registered_family_has_a_scipy_oracle():
    from blrkit.families import FAMILIES

    assert set(FAMILIES) <= set(SPECS)


@pytest.mark.parametrize("key", list(SPECS))
def test_against_scipy(key):
    spec = SPECS[key]
    family = spec.factory()

    @EXAMPLES
    @given(std=spec.params, seed=st.integers(0, 2**32 - 1))
    def check(std, seed):
        lam = family.to_natural(**std)
        oracle = spec.oracle(std, np.random.default_rng(seed))
        assert_close(family.log_density_value(oracle.theta, lam), oracle.logpdf, SCIPY, "log density")
        assert_close(family.entropy_value(lam), oracle.entropy, SCIPY, "entropy")
        mu, fisher = family.to_expectation(lam), family.fisher_information(lam)
        for index, value in oracle.mu:
            assert_close(mu[index], value, SCIPY, f"mu[{index}]")
        for index, value in oracle.fisher:
            assert_close(fisher[index], value, SCIPY, f"F[{index}]")

    check()
