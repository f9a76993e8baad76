"""Bad input on the duality layer (issue #27): GLM data checked before the fit so that errors name the user's
argument, one validator per hyperparameter (noise_variance, n_quadrature), symmetric matrices checked for
symmetry before definiteness, K-priors validated, and a custom likelihood's labels checked."""

import numpy as np
import pytest

from blrkit.duality import (
    fit_glm,
    gauss_hermite_expectation,
    glm_likelihood,
    kprior,
    local_parameters,
    quadratic_penalty,
)

#: Lower triangle [[1, 0], [0, 1]] (a Cholesky factor exists), upper entry 3: not symmetric.
NOT_SYMMETRIC = np.array([[1.0, 3.0], [0.0, 1.0]])


@pytest.fixture
def logistic(rng):
    X = rng.normal(size=(12, 2))
    y = (rng.random(12) > 0.5).astype(float)
    return X, y, fit_glm(X, y, likelihood="logistic", prior_precision=1.0)


def test_fit_glm_names_X_not_the_objective(logistic):
    """Before: 'grad returned non-finite values'."""
    X, y, _ = logistic
    X = X.copy()
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"^X must be finite"):
        fit_glm(X, y, likelihood="logistic", prior_precision=1.0)
    with pytest.raises(ValueError, match=r"^y must be finite"):
        fit_glm(X[:, :1] * 0 + 1, np.full(12, np.inf), likelihood="gaussian", prior_precision=1.0)


@pytest.mark.parametrize("value", [0.0, -1.0, np.nan, "1.0", np.ones(2)])
def test_noise_variance_is_validated_by_name(logistic, value):
    """Before: fit_glm blamed grad (0) or hess (negative); kprior never checked it (negative: a negative-definite
    Hessian; 0: NaN)."""
    X, y, post = logistic
    yg = X[:, 0]
    calls = [lambda: fit_glm(X, yg, likelihood="gaussian", prior_precision=1.0, noise_variance=value),
             lambda: kprior(X, np.zeros(2), likelihood="gaussian", prior_precision=1.0, noise_variance=value),
             lambda: quadratic_penalty(post, prior_precision=1.0, likelihood="gaussian", noise_variance=value)]
    for call in calls:
        with pytest.raises((ValueError, TypeError), match=r"^noise_variance must be"):
            call()


@pytest.mark.parametrize("n", [0, 2.5, 1000, True])
def test_n_quadrature_is_an_integer_in_range(logistic, n):
    """Before: NumPy's polynomial module raised ('deg must be a positive integer'); 1000 nodes gave NaN weights."""
    X, y, post = logistic
    with pytest.raises(ValueError, match=r"^n_quadrature must be an integer"):
        fit_glm(X, y, likelihood="logistic", prior_precision=1.0, method="variational", n_quadrature=n)
    with pytest.raises(ValueError, match=r"^n_quadrature must be an integer"):
        local_parameters(X, y, post, likelihood="logistic", prior_precision=1.0, method="variational", n_quadrature=n)
    with pytest.raises(ValueError, match=r"^n_nodes must be an integer"):
        gauss_hermite_expectation([lambda e, yy: e], np.zeros(1), np.ones(1), 0.0, n_nodes=n)


def test_the_largest_rule_accepted_is_finite_and_exact():
    """The bound is honest: 256 nodes integrate E[η²] = a² + v exactly (degree 2 < 2·256), with finite weights."""
    e, = gauss_hermite_expectation([lambda eta, yy: eta**2], np.array([1.0]), np.array([4.0]), 0.0, n_nodes=256)
    np.testing.assert_allclose(e, [5.0], rtol=1e-12)


def test_a_non_symmetric_prior_precision_is_named(logistic):
    """Before: fit_glm blamed hess; local_parameters said the posterior was not a fixed point."""
    X, y, post = logistic
    with pytest.raises(ValueError, match=r"^prior_precision must be symmetric$"):
        fit_glm(X, y, likelihood="logistic", prior_precision=NOT_SYMMETRIC)
    with pytest.raises(ValueError, match=r"^prior_precision must be symmetric$"):
        local_parameters(X, y, post, likelihood="logistic", prior_precision=NOT_SYMMETRIC)


def test_a_kprior_refuses_a_non_finite_theta(logistic):
    """Before: a NaN penalty, gradient and Hessian, silently."""
    X, _, post = logistic
    K = kprior(X, post.mean, likelihood="logistic", prior_precision=1.0)
    for method in (K.loss, K.grad, K.hess):
        with pytest.raises(ValueError, match=r"^theta must be finite"):
            method(np.array([np.nan, 0.0]))


def test_a_custom_likelihood_checks_its_labels():
    """Before: a custom glm_likelihood accepted any y. Declared labels are checked at every entry point, and a
    label where the loss is not finite is refused whatever the declaration."""
    X = np.array([[1.0], [-1.0], [2.0]])
    binary = glm_likelihood("log(1 + exp(-(2*y - 1)*eta))", "logistic (0/1)", labels="binary")
    with pytest.raises(ValueError, match=r"^y must hold labels 0 or 1 for the logistic \(0/1\) likelihood"):
        fit_glm(X, np.array([1.0, 0.0, 2.0]), likelihood=binary, prior_precision=1.0)
    poisson = glm_likelihood("exp(eta) - y*eta + loggamma(y + 1)", "my poisson")
    with pytest.raises(ValueError, match=r"^y holds a label outside the domain of the my poisson loss"):
        fit_glm(X, np.array([1.0, 0.0, -3.0]), likelihood=poisson, prior_precision=1.0)
    with pytest.raises(ValueError, match=r"^labels must be one of"):
        glm_likelihood("(y - eta)**2", labels="ordinal")
