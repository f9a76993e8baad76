"""Quadrature for a one-dimensional family without a sampler (issue 23, item 8), and samplers declared by families.

The oracles are independent of :mod:`blrkit.derive.score`: the closed form of a Gamma's E[θ³] (and its derivatives
in α, β, with the trigamma Fisher matrix), and ``scipy.integrate.quad`` over the density for the von Mises (on the
circle), the inverse Gaussian (on (0, ∞)) and the Beta (on (0, 1)).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import sympy as sp
from scipy import integrate
from scipy.special import polygamma

from blrkit._array_api import device, on_device
from blrkit.derive import derive
from blrkit.derive.candidates import Binary, ExponentialCandidate, Gaussian, candidate_of_family
from blrkit.derive.errors import DerivationError
from blrkit.derive.printing import node_code
from blrkit.derive.score import QUADRATURE_NODES, QuadratureEstimator
from blrkit.derive.support import user_family
from blrkit.families import Bernoulli, Beta, DiagonalGaussian, Draw, Gamma, Poisson

#: Gauss–Legendre with 256 nodes after the recentring pass: measured ≤ 2e-11 relative on these cases (the
#: module's docstring); 1e-9 leaves room for rounding across NumPy versions, and a wrong weight fails by far more
QUADRATURE_RTOL = 1e-9


def _estimate(family, f, point, n=QUADRATURE_NODES):
    """The quadrature node's ``dmu_mc`` at the standard parameters ``point``, run from its printed code."""
    to_state = {l: sp.sympify(x) for l, x in zip(family.natural, family.standard_to_natural)}
    code = "\n".join(line for node in QuadratureEstimator(family, n).nodes(f, to_state) for line in node_code(node))
    env = {"xp": np, "np": np, "math": math, "on_device": on_device, "device": device, "dtype": float,
           **{k: np.asarray(v, float) for k, v in point.items()}}
    exec(code, env)  # noqa: S102 -- the printed code of one IR node, the object under test
    return env["dmu_mc"]


def _no_sampler(family):
    return dataclasses.replace(family, draw=None)


@pytest.mark.parametrize("alpha, beta", [(2.0, 1.5), (0.3, 1.0), (5.0, 0.2), (1.5, 0.01), (1.5, 100.0)])
def test_gamma_third_moment_against_its_closed_form(alpha, beta):
    """∇_μ E[θ³] = F⁻¹ ∇_λ E[θ³] with E[θ³] = α(α+1)(α+2)/β³, λ = (α − 1, −β), F = [[ψ'(α), 1/β], [1/β, α/β²]]."""
    gamma = _no_sampler(Gamma())
    grad_lam = np.array([(3 * alpha**2 + 6 * alpha + 2) / beta**3, 3 * alpha * (alpha + 1) * (alpha + 2) / beta**4])
    fisher = np.array([[polygamma(1, alpha), 1 / beta], [1 / beta, alpha / beta**2]])
    exact = np.linalg.solve(fisher, grad_lam)
    got = _estimate(gamma, gamma.theta[0] ** 3, {"alpha": alpha, "beta": beta})
    np.testing.assert_allclose(got, exact, rtol=QUADRATURE_RTOL)


def test_without_the_recentring_pass_the_error_is_large():
    """The measured need for the second pass (and for 256 nodes): 128 nodes leave 6e-6 at α = 0.3."""
    gamma = _no_sampler(Gamma())
    grad_lam = np.array([(3 * 0.09 + 1.8 + 2), 3 * 0.3 * 1.3 * 2.3])
    fisher = np.array([[polygamma(1, 0.3), 1.0], [1.0, 0.3]])
    exact = np.linalg.solve(fisher, grad_lam)
    err = np.max(np.abs(_estimate(gamma, gamma.theta[0] ** 3, {"alpha": 0.3, "beta": 1.0}, n=128) / exact - 1))
    assert 1e-7 < err < 1e-4


def _quad_natural_gradient(log_kernel, f, stats, lo, hi):
    """Cov_q[T]⁻¹ Cov_q[T, f] by scipy.integrate.quad over q ∝ exp(log_kernel) on (lo, hi)."""
    opts = dict(epsabs=0, epsrel=1e-12, limit=400)
    z = integrate.quad(lambda x: np.exp(log_kernel(x)), lo, hi, **opts)[0]
    e = lambda g: integrate.quad(lambda x: g(x) * np.exp(log_kernel(x)), lo, hi, **opts)[0] / z  # noqa: E731
    mean = np.array([e(t) for t in stats])
    k = len(stats)
    cov = np.array([[e(lambda x, i=i, j=j: (stats[i](x) - mean[i]) * (stats[j](x) - mean[j])) for j in range(k)]
                    for i in range(k)])
    cross = np.array([e(lambda x, i=i: (stats[i](x) - mean[i]) * f(x)) for i in range(k)])
    return np.linalg.solve(cov, cross)


def test_von_mises_against_scipy_quad():
    vm = user_family("von-mises")
    (th,) = vm.theta
    point = {"loc": 2.5, "kappa": 1.4}  # λ = (κ cos loc, κ sin loc): the bulk near the ends ±π
    l1, l2 = 1.4 * np.cos(2.5), 1.4 * np.sin(2.5)
    exact = _quad_natural_gradient(lambda x: l1 * np.cos(x) + l2 * np.sin(x), lambda x: x**2, (np.cos, np.sin),
                                   -np.pi, np.pi)
    np.testing.assert_allclose(_estimate(vm, th**2, point), exact, rtol=QUADRATURE_RTOL)


def test_inverse_gaussian_against_scipy_quad():
    ig = user_family("inverse-gaussian")
    (th,) = ig.theta
    values = {"m": 0.8, "nu": 2.5}
    lam = [float(sp.sympify(x).subs({p.symbols: values[p.name] for p in ig.standard})) for x in ig.standard_to_natural]
    exact = _quad_natural_gradient(lambda x: -1.5 * np.log(x) + lam[0] * x + lam[1] / x, np.log,
                                   (lambda x: x, lambda x: 1 / x), 0, np.inf)
    np.testing.assert_allclose(_estimate(ig, sp.log(th), values), exact, rtol=QUADRATURE_RTOL)


# α = 0.6: nodes near θ = 1 round onto it and take weight 0; the step must not warn about the log(0) there
@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_beta_on_the_unit_interval_against_scipy_quad():
    beta = _no_sampler(Beta())
    (th,) = beta.theta
    a, b = 0.6, 3.0
    exact = _quad_natural_gradient(lambda x: (a - 1) * np.log(x) + (b - 1) * np.log1p(-x), np.exp,
                                   (np.log, lambda x: np.log1p(-x)), 0, 1)
    np.testing.assert_allclose(_estimate(beta, sp.exp(th), {"alpha": a, "beta": b}), exact, rtol=QUADRATURE_RTOL)


def test_a_shipped_family_without_its_sampler_derives_by_quadrature():
    """Gamma with sin θ: sampled before (rng, n_samples); without its Draw, quadrature (no rng), printed as such,
    and its step (ρ = 1: α' = α₀ − ∇_μ₁, β' = β₀ + ∇_μ₂) equals the quad oracle."""
    gamma = _no_sampler(Gamma())
    (th,) = gamma.theta
    d = derive(gamma, sp.sin(th), None, ["rho=1"])
    assert [a.name for a in d.arguments] == ["alpha", "beta", "alpha_0", "beta_0"]
    assert "Gauss–Legendre quadrature" in d.latex() and "K$ draws" not in d.latex()
    alpha, beta = 2.0, 1.5
    g = _quad_natural_gradient(lambda x: (alpha - 1) * np.log(x) - beta * x, np.sin, (np.log, lambda x: x), 0, np.inf)
    out = d.compile()(alpha=alpha, beta=beta, alpha_0=1.0, beta_0=1.0)
    np.testing.assert_allclose(out, (1.0 - g[0], 1.0 + g[1]), rtol=QUADRATURE_RTOL)
    sampled = derive(Gamma(), sp.sin(th), None, ["rho=1"])
    assert {"rng", "n_samples"} <= {a.name for a in sampled.arguments}


def test_a_family_declares_its_sampler_and_printing_reads_it():
    """The emitted draw is the family's own Draw, not a table keyed by its name."""
    gamma = Gamma()
    a, b = (p.symbols for p in gamma.standard)
    mine = dataclasses.replace(gamma, draw=Draw("gamma", (a, 2 / b)))
    src = derive(mine, sp.sin(gamma.theta[0]), None, ["rho=1"]).emit()
    assert "rng.gamma(alpha, 2/beta, size=(n_samples, *(alpha * beta).shape))" in src


def test_a_discrete_family_without_a_sampler_is_refused_by_name():
    poisson = _no_sampler(Poisson())
    with pytest.raises(DerivationError, match=r"E_q\[sqrt\(theta \+ 1\)\] has no closed form .* no sampler"):
        derive(poisson, sp.sqrt(1 + poisson.theta[0]))


def test_the_candidate_follows_the_traits_not_the_key():
    """A family made from a shipped one keeps its traits under another key; a key alone makes nothing."""
    assert isinstance(candidate_of_family(dataclasses.replace(Bernoulli(), key="coin")), Binary)
    assert type(candidate_of_family(dataclasses.replace(Beta(), key="bernoulli"))) is ExponentialCandidate
    assert candidate_of_family(dataclasses.replace(DiagonalGaussian(), key="mine")).kind == "diagonal"


def test_an_approximation_applies_by_traits_and_says_so_in_words():
    with pytest.raises(DerivationError, match=r"Gauss-Newton Hessian does not apply to the multivariate-gaussian "
                                              r"family \(it applies to: a Gaussian N\(m, diag\(s\)⁻¹\)"):
        derive("multivariate-gaussian", None, None, ["gauss-newton"])
    with pytest.raises(DerivationError, match=r"does not apply to the bernoulli family \(it applies to: binary"):
        derive(dataclasses.replace(Beta(), key="bernoulli"), None, None, ["relaxation"])
    assert Gaussian("diagonal").traits == DiagonalGaussian().traits
