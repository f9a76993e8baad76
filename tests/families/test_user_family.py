"""A user-defined family gets everything derived: the inverse Gaussian and the von Mises.

Neither is shipped; each is built from a log density (or a log-partition) alone, and its μ, F,
entropy, KL, maps and LaTeX are checked against quadrature and scipy.stats (invgauss, vonmises).
"""

import numpy as np
import pytest
import sympy
from scipy import stats

from blrkit.families import ExponentialFamily, Parameter
from blrkit.families._integrate import moments
from families.tolerances import QUADRATURE, ROUND_TRIP, SCIPY, assert_close


@pytest.fixture(scope="module")
def inverse_gaussian():
    r"""IG(mean m, shape ν): log p = ½ log(ν/(2π x³)) − ν(x − m)²/(2m² x), η = (−ν/(2m²), −ν/2)."""
    x = sympy.Symbol("x", positive=True)
    e1, e2 = sympy.symbols("eta1 eta2", negative=True)
    m, nu = sympy.symbols("m nu", positive=True)
    logp = (-sympy.log(2 * sympy.pi * x**3) / 2 + e1 * x + e2 / x
            + 2 * sympy.sqrt(e1 * e2) + sympy.log(-2 * e2) / 2)
    return ExponentialFamily.from_log_density(
        "inverse Gaussian", (x,), logp, (e1, e2), support=(("positive", 1),),
        standard=(Parameter("m", m, "positive", "m"), Parameter("nu", nu, "positive", r"\nu")),
        standard_to_natural=(-nu / (2 * m**2), -nu / 2),
        natural_to_standard={"m": sympy.sqrt(e2 / e1), "nu": -2 * e2},
        closed_forms={"newton_start": (-0.5, -0.5)},  # λ = 0 is outside the domain: start at m = ν = 1
    )


@pytest.fixture(scope="module")
def von_mises():
    r"""vM(m, κ) on [−π, π]: λ = (κ cos m, κ sin m), A = log(2π I₀(‖λ‖))."""
    th = sympy.Symbol("theta", real=True)
    a, b = sympy.symbols("a b", real=True)
    return ExponentialFamily.from_log_partition(
        "von Mises", (th,), (sympy.cos(th), sympy.sin(th)), sympy.S.Zero, (a, b),
        sympy.log(2 * sympy.pi * sympy.besseli(0, sympy.sqrt(a**2 + b**2))), support=(("circle", 1),),
        closed_forms={"newton_start": (1.0, 0.0)})  # F is singular at λ = 0 (a removable 0/0)


def test_parsed_inverse_gaussian(inverse_gaussian):
    q = inverse_gaussian
    x = q.theta[0]
    assert q.statistics == (x, 1 / x)
    # constants free of θ and η are put in A, so log h keeps only its θ-dependent part
    assert sympy.simplify(q.log_base_measure - (-3 * sympy.log(x) / 2)) == 0
    assert q.natural == sympy.symbols("lambda_1 lambda_2", real=True)
    assert not q.has_constant_base_measure and q.entropy is None


@pytest.mark.parametrize("mean, shape", [(1.0, 1.0), (0.5, 3.0), (2.0, 7.0)])
def test_inverse_gaussian_against_scipy_and_quadrature(inverse_gaussian, mean, shape):
    q = inverse_gaussian
    lam = q.to_natural(m=mean, nu=shape)
    d = stats.invgauss(mean / shape, scale=shape)  # SciPy's IG(μ/ν, scale ν) is IG(mean μ, shape ν)
    xs = np.array([0.1, 0.7, 1.3, 4.0])
    assert_close(q.log_density_value(xs[:, None], lam), d.logpdf(xs), SCIPY)
    mu = q.to_expectation(lam)
    assert_close(mu, [d.mean(), 1 / mean + 1 / shape], SCIPY)  # E[1/x] = 1/m + 1/ν
    assert_close(q.fisher_information(lam)[0, 0], d.var(), SCIPY)
    mean_t, cov_t, _, _, method = moments(q, lam)
    assert method == "quadrature"
    assert_close(mean_t, mu, QUADRATURE)
    assert_close(cov_t, q.fisher_information(lam), QUADRATURE)
    assert_close(q.entropy_value(lam), d.entropy(), SCIPY)  # E[log h] by quadrature
    back = q.to_standard(q.from_expectation(mu))
    assert_close([back["m"], back["nu"]], [mean, shape], ROUND_TRIP)


@pytest.mark.parametrize("loc, kappa", [(0.3, 0.5), (-2.0, 4.0)])
def test_von_mises_against_scipy_and_quadrature(von_mises, loc, kappa):
    q = von_mises
    lam = np.array([kappa * np.cos(loc), kappa * np.sin(loc)])
    d = stats.vonmises(kappa, loc=loc)
    xs = np.array([-3.0, -1.0, 0.2, 2.5])
    assert_close(q.log_density_value(xs[:, None], lam), d.logpdf(xs), SCIPY)
    assert_close(q.entropy_value(lam), d.entropy(), SCIPY)
    mean_t, cov_t, _, _, _ = moments(q, lam)
    assert_close(q.to_expectation(lam), mean_t, QUADRATURE)
    assert_close(q.fisher_information(lam), cov_t, QUADRATURE)
    # no closed μ → λ: Newton on ∇A(λ) = μ (inverse of the Bessel ratio)
    assert_close(q.from_expectation(mean_t), lam, ROUND_TRIP)
    other = np.array([0.5, -1.0])
    log_ratio = lambda th: (q.log_density_value(th, lam) - q.log_density_value(th, other))[:, None]  # noqa: E731
    from blrkit.families._integrate import expectation

    kl, _, _ = expectation(q, lam, log_ratio)
    assert_close(q.kl_value(lam, other), kl[0], QUADRATURE)


def test_user_family_display(von_mises):
    tex = von_mises.latex()
    assert r"\lambda_{1}" in tex and "I_{0}" in tex
    assert von_mises.summary().startswith("von Mises [von-mises]")


def test_from_log_density_rejects_non_exponential_family_forms():
    x = sympy.Symbol("x", real=True)
    e = sympy.Symbol("eta", real=True)
    with pytest.raises(ValueError, match="not linear in eta"):
        ExponentialFamily.from_log_density("bad", (x,), e**2 * x - e, (e,))
    with pytest.raises(ValueError, match="couples theta"):
        ExponentialFamily.from_log_density("bad", (x,), e * x + sympy.log(e * x), (e,))
