"""Bad input to the families: a clear error naming what is wrong, never a silent family."""

import numpy as np
import pytest
import sympy

from blrkit.families import (
    Beta, Categorical, DiagonalGaussian, Dirichlet, ExponentialFamily, FixedCovarianceGaussian, GaussianMixture,
    MultivariateGaussian,
)


@pytest.mark.parametrize("factory, arg, name, minimum", [
    (DiagonalGaussian, -1, "D", 1), (DiagonalGaussian, 1.5, "D", 1), (FixedCovarianceGaussian, 0, "D", 1),
    (MultivariateGaussian, True, "D", 1), (Dirichlet, 1, "K", 2), (Categorical, "3", "K", 2),
    (GaussianMixture, 0, "K", 2),
])
def test_sizes_must_be_integers(factory, arg, name, minimum):
    with pytest.raises(ValueError, match=f"^{name} must be an integer >= {minimum}, got {arg!r}"):
        factory(arg)


def test_non_broadcasting_shapes_name_the_arguments():
    q = Beta()
    lam = np.array([[1.0, 2.0], [2.0, 3.0], [1.0, 1.0]])
    with pytest.raises(ValueError, match=r"do not broadcast: lam_q \(3,\), lam_p \(2,\)"):
        q.kl_value(lam, lam[:2])
    with pytest.raises(ValueError, match=r"do not broadcast: theta \(2,\), lam \(3,\)"):
        q.log_density_value(np.full((2, 1), 0.5), lam)


X = sympy.Symbol("x", real=True)
E1, E2 = sympy.Symbol("eta1", real=True), sympy.Symbol("eta2", negative=True)
#: log N(x | m, v) in natural parameters, with its log-partition: a valid density
GAUSSIAN = E1 * X + E2 * X**2 + E1**2 / (4 * E2) + sympy.log(-2 * E2) / 2 - sympy.log(2 * sympy.pi) / 2


def test_a_normalised_density_is_accepted():
    q = ExponentialFamily.from_log_density("gaussian", (X,), GAUSSIAN, (E1, E2))
    assert q.statistics == (X, X**2)


def test_a_string_density_is_refused():
    with pytest.raises(TypeError, match="not strings"):
        ExponentialFamily.from_log_density("gaussian", (X,), str(GAUSSIAN), (E1, E2))


def test_a_natural_parameter_or_theta_absent_from_the_density_is_refused():
    eta3 = sympy.Symbol("eta3", real=True)
    with pytest.raises(ValueError, match="natural parameter eta3 does not appear"):
        ExponentialFamily.from_log_density("gaussian", (X,), GAUSSIAN, (E1, E2, eta3))
    y = sympy.Symbol("y", real=True)
    with pytest.raises(ValueError, match="theta y does not appear"):
        ExponentialFamily.from_log_density("gaussian", (X, y), GAUSSIAN, (E1, E2), support=(("real", 2),))


def test_a_statistic_that_is_zero_is_refused():
    c = sympy.Symbol("c", negative=True)
    # c enters only through a θ-free term: T_c ≡ 0
    with pytest.raises(ValueError, match="T ≡ 0"):
        ExponentialFamily.from_log_density("gaussian", (X,), GAUSSIAN + sympy.log(-c), (E1, E2, c))


def test_an_unnormalised_density_is_refused():
    with pytest.raises(ValueError, match="does not integrate to one"):  # the log-partition left out
        ExponentialFamily.from_log_density("gaussian", (X,), E1 * X + E2 * X**2, (E1, E2))
    with pytest.raises(ValueError, match="does not integrate to one"):  # twice the density
        ExponentialFamily.from_log_density("gaussian", (X,), GAUSSIAN + sympy.log(2), (E1, E2))


def test_a_non_normalisable_density_is_refused():
    e = sympy.Symbol("eta", positive=True)
    # exp(ηx)/η on the whole real line: no A(η) makes it a density
    with pytest.raises(ValueError, match="does not integrate to one"):
        ExponentialFamily.from_log_density("exp", (X,), e * X - sympy.log(e), (e,))
