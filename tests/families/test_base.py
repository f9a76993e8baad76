"""The base abstraction: construction errors, validation messages, the inverse map, display forms."""

import subprocess
import sys

import numpy as np
import pytest
import sympy

from blrkit.families import (
    Beta,
    Categorical,
    ExponentialFamily,
    Gamma,
    GaussianMixture,
    MultivariateGaussian,
    Parameter,
    UnivariateGaussian,
)
from blrkit.families.base import check_constraint
from families.tolerances import SAME_MATHS, assert_close


def test_parameter_rejects_unknown_constraint():
    with pytest.raises(ValueError, match="unknown constraint"):
        Parameter("x", sympy.Symbol("x"), "bounded", "x")


def test_family_requires_one_statistic_per_natural_parameter():
    th = sympy.Symbol("theta")
    with pytest.raises(ValueError, match="one statistic"):
        ExponentialFamily("bad", "bad", (th,), (th,), 0, sympy.symbols("lambda_1 lambda_2"),
                          sympy.symbols("mu_1 mu_2"), 0)


@pytest.mark.parametrize("value, constraint, shape, message", [
    (-1.0, "positive", (), "S must be > 0"),
    ([[1.0, 2.0], [2.0, 1.0]], "spd", (2, 2), "S must be symmetric positive definite"),
    ([[1.0, 0.5], [0.0, 1.0]], "spd", (2, 2), "S must be symmetric"),
    (1.0, "probability", (), r"S must lie in the open interval \(0, 1\)"),
    ([1.0, 2.0, 3.0], "real", (2,), r"S must have shape \(..., 2\)"),
    (np.inf, "real", (), "S must be finite"),
])
def test_check_constraint_messages(value, constraint, shape, message):
    with pytest.raises(ValueError, match=message):
        check_constraint(value, "S", constraint, shape)


def test_errors_name_the_parameter():
    with pytest.raises(ValueError, match="S must be > 0"):
        UnivariateGaussian().to_natural(m=0.0, S=0.0)
    with pytest.raises(ValueError, match="S must be symmetric positive definite"):
        MultivariateGaussian(2).to_natural(m=[0.0, 0.0], S=[[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(ValueError, match="p must be on the probability simplex"):
        Categorical(3).to_natural(p=[0.5, 0.5, 0.5])
    with pytest.raises(TypeError, match="standard parameters"):
        Beta().to_natural(alpha=1.0)
    with pytest.raises(ValueError, match="broadcastable batch shapes"):
        Beta().to_natural(alpha=[1.0, 2.0], beta=[1.0, 2.0, 3.0])


def test_natural_parameters_outside_the_domain():
    with pytest.raises(ValueError, match="lam lies outside the natural-parameter domain of Gaussian: S must be > 0"):
        UnivariateGaussian().to_expectation([0.0, 1.0])
    with pytest.raises(ValueError, match="lam_p lies outside"):
        Gamma().kl_value([0.0, -1.0], [0.0, 1.0])


def test_invalid_expectation_parameters():
    with pytest.raises(ValueError, match="mu is not a valid expectation parameter of Gaussian"):
        UnivariateGaussian().from_expectation([1.0, 0.5])  # E[θ²] < E[θ]²
    with pytest.raises(ValueError, match="mu is not a valid expectation parameter of Beta"):
        Beta().from_expectation([0.5, 0.5])  # E[log θ] must be < 0
    with pytest.raises(ValueError, match="mu must have shape"):
        Beta().from_expectation([-1.0])


def test_newton_inverse_reaches_extreme_parameters():
    """Newton from a fixed start reaches far-away points (α = 500, β = 0.02)."""
    q = Gamma()
    lam = q.to_natural(alpha=np.array([500.0, 0.05]), beta=np.array([0.02, 30.0]))
    assert_close(q.from_expectation(q.to_expectation(lam)), lam, 1e-9)


def test_numeric_functions_are_compiled_lazily():
    code = ("import blrkit.families as f; q = f.FAMILIES['beta'](); assert '_num' not in q.__dict__; "
            "q.to_natural(alpha=1.0, beta=2.0); assert '_num' in q.__dict__")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_symbolic_quantities_are_cached():
    q = Beta()
    assert q.fisher is q.fisher and q.generic_mean_map is q.generic_mean_map
    assert Beta() is q


def test_mixture_weight_parameters_and_marginal():
    q = GaussianMixture(2)
    pi, m, s = np.array([0.3, 0.7]), np.array([-1.0, 2.0]), np.array([0.5, 4.0])
    lam = q.to_natural(pi=pi, m=m, S=s)
    v = float(q.extras["weight_natural"][0].xreplace(dict(zip(q.natural, lam))))
    assert_close(v, np.log(pi[0] / pi[1]), SAME_MATHS)
    x = 0.4
    joint = q.log_density_value(np.array([[x, 1.0], [x, 0.0]]), lam)
    marginal = np.logaddexp(*joint)
    normal = pi * np.sqrt(s / (2 * np.pi)) * np.exp(-s * (x - m) ** 2 / 2)
    assert_close(marginal, np.log(normal.sum()), SAME_MATHS)


def test_multivariate_gaussian_d1_is_the_univariate_gaussian():
    one, uni = MultivariateGaussian(1), UnivariateGaussian()
    lam = uni.to_natural(m=0.7, S=2.5)
    assert_close(one.to_natural(m=[0.7], S=[[2.5]]), lam, SAME_MATHS)
    subs = dict(zip(one.natural, uni.natural))
    assert sympy.simplify(one.log_partition.xreplace(subs) - uni.log_partition) == 0


def test_matrix_form_display():
    form = MultivariateGaussian(None)
    tex = form.latex()
    assert r"\Sigma + m m^\top" in tex and r"\log\det" in tex and "S m" in tex
    assert form._repr_latex_().startswith("$$")
