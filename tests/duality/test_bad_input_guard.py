"""Bad input on the duality layer (issue #27): GLM data checked before the fit so that errors name the user's
argument, one validator per hyperparameter (noise_variance, n_quadrature), symmetric matrices checked for
symmetry before definiteness, K-priors validated, and a custom likelihood's labels checked."""

import numpy as np
import pytest

from blrkit.algorithms import GaussianPosterior
from blrkit.duality import (
    fit_glm,
    fit_softmax,
    gauss_hermite_expectation,
    glm_likelihood,
    glm_objective,
    gp_predictive,
    kprior,
    leave_one_out,
    local_parameters,
    network_kernel,
    quadratic_penalty,
    select_memory,
    softmax_local_parameters,
)
from blrkit.models import MLP

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


# -- the classes closed in the second pass (each test failed before its fix) -------------------------------------


def test_a_penalty_is_checked_for_what_it_must_have(logistic):
    """Before: AttributeError ('float' object has no attribute 'grad') from inside the objective."""
    X, y, _ = logistic
    with pytest.raises(TypeError, match="^penalty must be None or have callable grad and hess"):
        fit_glm(X, y, likelihood="logistic", prior_precision=1.0, penalty=2.0)


@pytest.mark.parametrize("n", [2**70, 0, 2.5, np.inf])
def test_leave_one_out_checks_n_quadrature(logistic, n):
    """Before: NumPy's polynomial module (0, 2.5), an OverflowError (2**70, inf)."""
    X, y, post = logistic
    sites = local_parameters(X, y, post, likelihood="logistic", prior_precision=1.0)
    with pytest.raises(ValueError, match="^n_quadrature must be an integer"):
        leave_one_out(sites, n_quadrature=n)


def _not_symmetric(P):
    """P with 3 added above the diagonal: its lower triangle (all a Cholesky factorisation reads) is P's."""
    return P + np.triu(np.full(P.shape, 3.0), 1)


def test_posterior_and_kernel_precisions_are_checked_symmetric_first(logistic):
    """Before: the network kernel symmetrised a non-symmetric precision silently; local_parameters read the lower
    triangle only; softmax_local_parameters did not check the precision at all. All three returned answers."""
    X, y, post = logistic
    bad = GaussianPosterior(mean=post.mean, precision=_not_symmetric(post.precision))
    with pytest.raises(ValueError, match=r"^posterior.precision must be symmetric$"):
        local_parameters(X, y, bad, likelihood="logistic", prior_precision=1.0)
    labels = (X[:, 0] > 0).astype(int)
    spost = fit_softmax(X, labels, n_classes=2, prior_precision=1.0)
    sbad = GaussianPosterior(mean=spost.mean, precision=_not_symmetric(spost.precision))
    with pytest.raises(ValueError, match=r"^posterior.precision must be symmetric$"):
        softmax_local_parameters(X, labels, sbad, n_classes=2, prior_precision=1.0)
    net = MLP((2, 3, 2))
    with pytest.raises(ValueError, match=r"^precision must be symmetric$"):
        network_kernel(net, net.init(0), X[:3], precision=_not_symmetric(np.eye(net.n_params)))


def test_an_overflow_names_the_argument_and_its_scale(logistic):
    """Data scaled by 1e200: before, the objective's gradient was inf, fit_glm blamed 'hess' (a name the user never
    gave), the K-prior's loss and the Gauss–Hermite expectation were inf or NaN."""
    X, y, post = logistic
    yg = X[:, 0]
    grad, hess = glm_objective(X * 1e200, yg, likelihood="gaussian", prior_precision=1.0)
    with np.errstate(all="ignore"):
        with pytest.raises(ValueError, match=r"^the GLM objective's Hessian overflowed: \|X\| up to \d\.\d+e\+200"):
            hess(np.ones(2))       # XᵀX ~ 1e400
        with pytest.raises(ValueError, match=r"^the GLM objective's Hessian overflowed: \|X\| up to \d\.\d+e\+200"):
            fit_glm(X * 1e200, yg, likelihood="gaussian", prior_precision=1.0)   # was: 'hess returned non-finite
        K = kprior(X * 1e200, post.mean, likelihood="gaussian", prior_precision=1.0)
        with pytest.raises(ValueError, match=r"^the KPrior's loss overflowed: .*\|memory\| up to \d\.\d+e\+200"):
            K.loss(np.ones(2))
        with pytest.raises(ValueError, match=r"^the expectation of fns\[0\] is not finite.*\|mean\| up to 1e\+308"):
            gauss_hermite_expectation([lambda e, yy: e**2], np.array([1e308]), np.ones(1), 0.0)


def test_switches_counts_and_shapes_are_named(logistic):
    """Before: NumPy's 'truth value of an array is ambiguous' (method, by, name), Python's comparison error (tol),
    NumPy's matmul error (m0, θ of the wrong length), NumPy's 'maximum allowed dimension' (n_classes), a TypeError
    from NumPy's random module (n_samples)."""
    X, y, post = logistic
    sites = local_parameters(X, y, post, likelihood="logistic", prior_precision=1.0)
    labels = (X[:, 0] > 0).astype(int)
    spost = fit_softmax(X, labels, n_classes=2, prior_precision=1.0)
    net = MLP((2, 3, 2))
    gp = gp_predictive(net, net.init(0), X, labels, X[:2], prior_precision=1.0)
    grad, _ = glm_objective(X, y, likelihood="logistic", prior_precision=1.0)
    cases = {
        "method": lambda: fit_glm(X, y, likelihood="logistic", prior_precision=1.0, method=np.ones(2)),
        "by": lambda: select_memory(sites, 2, by=np.ones(2)),
        "name": lambda: glm_likelihood("(y - eta)**2", np.ones(2)),
        "tol": lambda: softmax_local_parameters(X, labels, spost, n_classes=2, prior_precision=1.0, tol=None),
        "m0": lambda: fit_glm(X, y, likelihood="logistic", prior_precision=1.0, m0=np.zeros(3)),
        "theta": lambda: grad(np.zeros(3)),
        "n_classes": lambda: fit_softmax(X, labels, n_classes=2**40, prior_precision=1.0),
        "n_samples": lambda: gp.probabilities(n_samples=np.inf),
    }
    for name, call in cases.items():
        with pytest.raises((ValueError, TypeError), match=f"^{name} must"):
            call()
