"""The network as a Gaussian process: the Jacobian against finite differences, and the GP predictive (function
space, prior kernel and pseudo-data) against the linearised-Laplace predictive computed in weight space from
finite-difference Jacobians and an explicit linear-Gaussian model."""

import numpy as np
import pytest
from scipy import optimize

from blrkit.duality import ggn_precision, gp_predictive, network_jacobian, network_kernel
from blrkit.models import MLP
from duality.tolerances import EXACT, FINITE_DIFFERENCE, assert_close

DELTA = 1.5          # prior precision


def _setup(rng):
    net = MLP((2, 4, 3))
    X = rng.normal(size=(12, 2))
    y = (np.arange(12) % 3).astype(int)
    X_test = rng.normal(size=(5, 2)) * 2.0
    return net, X, y, X_test


def _fd_jacobian(net, theta, X, h=1e-6):
    """∂z/∂θ by central differences of the network's own logits, (n, K, P)."""
    cols = []
    for j in range(net.n_params):
        e = np.zeros(net.n_params)
        e[j] = h
        cols.append((net.logits(theta + e, X) - net.logits(theta - e, X)) / (2 * h))
    return np.stack(cols, -1)


def _map(net, X, y):
    """argmin Σ_i ℓ_i(θ) + δ/2 ‖θ‖² by SciPy's L-BFGS."""
    N = len(y)
    fun = lambda t: N * net.loss(t, X, y) + 0.5 * DELTA * t @ t  # noqa: E731
    jac = lambda t: N * net.gradient(t, X, y) + DELTA * t  # noqa: E731
    res = optimize.minimize(fun, net.init(1), jac=jac, method="L-BFGS-B", options={"gtol": 1e-12, "ftol": 0.0,
                                                                                     "maxiter": 5000})
    return res.x, jac(res.x)


def _linearised_laplace(net, theta, X, y, X_test):
    """Weight space: S = δI + Σ J_iᵀΛ_iJ_i from finite-difference Jacobians; the linear-Gaussian model with
    information vector Σ J_iᵀ(Λ_iJ_iθ − r_i) has mean m = S⁻¹(...); predictive z* − J*θ + J*m, J* S⁻¹ J*ᵀ."""
    J, Js = _fd_jacobian(net, theta, X), _fd_jacobian(net, theta, X_test)
    p = net.predict_proba(theta, X)
    Lam = np.stack([np.diag(pi) - np.outer(pi, pi) for pi in p])
    r = p - np.eye(3)[y]
    S = DELTA * np.eye(net.n_params) + sum(J[i].T @ Lam[i] @ J[i] for i in range(len(y)))
    info = sum(J[i].T @ (Lam[i] @ J[i] @ theta - r[i]) for i in range(len(y)))
    m = np.linalg.solve(S, info)
    mean = net.logits(theta, X_test) - Js @ theta + Js @ m
    cov = np.stack([Js[i] @ np.linalg.solve(S, Js[i].T) for i in range(len(X_test))])
    return mean, cov, S, Js


def test_jacobian_against_finite_differences(rng):
    """Backpropagated J(x) = central differences of the logits (FINITE_DIFFERENCE), tanh and ReLU."""
    for act in ("tanh", "relu"):
        net = MLP((3, 5, 4, 3), activation=act)
        theta, X = net.init(rng), rng.normal(size=(6, 3))
        assert_close(network_jacobian(net, theta, X), _fd_jacobian(net, theta, X), FINITE_DIFFERENCE)


@pytest.mark.parametrize("at_map", [True, False])
def test_gp_predictive_equals_linearised_laplace(rng, at_map):
    """Function-space GP regression on the pseudo-data = the weight-space linearised-Laplace predictive, mean
    and covariance (FINITE_DIFFERENCE), at a MAP and at a random θ (the identity holds for any θ). At the MAP
    the GP mean is the network's logits shifted by one Gauss–Newton step −J*S⁻¹∇ℓ̄, small there."""
    net, X, y, X_test = _setup(rng)
    theta, grad = _map(net, X, y) if at_map else (net.init(rng), None)
    gp = gp_predictive(net, theta, X, y, X_test, prior_precision=DELTA)
    mean, cov, S, Js = _linearised_laplace(net, theta, X, y, X_test)
    assert_close(gp.mean, mean, FINITE_DIFFERENCE)
    assert_close(gp.covariance, cov, FINITE_DIFFERENCE)
    if at_map:
        assert_close(gp.mean - net.logits(theta, X_test), -Js @ np.linalg.solve(S, grad), FINITE_DIFFERENCE)
        assert np.linalg.norm(grad) < 1e-6 * np.linalg.norm(theta)      # a MAP indeed (L-BFGS's own precision)


def test_posterior_kernel_is_the_gp_covariance(rng):
    """κ(x, x') = J Σ Jᵀ with Σ⁻¹ the Laplace–GGN precision: its diagonal blocks at the test inputs are the GP
    predictive's covariance (Woodbury; EXACT), and ggn_precision is the finite-difference S (FINITE_DIFFERENCE)."""
    net, X, y, X_test = _setup(rng)
    theta = net.init(rng)
    S = ggn_precision(net, theta, X, y, prior_precision=DELTA)
    kappa = network_kernel(net, theta, X_test, precision=S)
    gp = gp_predictive(net, theta, X, y, X_test, prior_precision=DELTA)
    n = len(X_test)
    assert_close(kappa[np.arange(n), :, np.arange(n), :], gp.covariance, EXACT)
    assert_close(S, _linearised_laplace(net, theta, X, y, X_test)[2], FINITE_DIFFERENCE)
    assert_close(kappa, np.swapaxes(np.swapaxes(kappa, 0, 2), 1, 3), EXACT)          # symmetric


def test_prior_and_diagonal_kernels(rng):
    """A scalar precision δ gives J J'ᵀ/δ; a (P,) diagonal equals the same diagonal as a matrix (EXACT)."""
    net, X, _, X_test = _setup(rng)
    theta = net.init(rng)
    J1, J2 = network_jacobian(net, theta, X), network_jacobian(net, theta, X_test)
    assert_close(network_kernel(net, theta, X, X_test, precision=DELTA),
                 np.einsum("ikp,jlp->ikjl", J1, J2) / DELTA, EXACT)
    s = rng.uniform(0.5, 2.0, net.n_params)
    assert_close(network_kernel(net, theta, X, X_test, precision=s),
                 network_kernel(net, theta, X, X_test, precision=np.diag(s)), EXACT)


def test_bad_input(rng):
    net, X, y, X_test = _setup(rng)
    theta = net.init(rng)
    with pytest.raises(TypeError, match="net must be a blrkit.models.MLP"):
        network_kernel("mlp", theta, X, precision=1.0)
    with pytest.raises(ValueError, match=r"theta must be one parameter vector of shape \(27,\)"):
        network_kernel(net, theta[:-1], X, precision=1.0)
    with pytest.raises(ValueError, match=r"precision must be a scalar, a \(27,\) diagonal"):
        network_kernel(net, theta, X, precision=np.eye(3))
    with pytest.raises(ValueError, match="precision must be symmetric positive definite"):
        network_kernel(net, theta, X, precision=-np.eye(27))
    with pytest.raises(ValueError, match="precision must be positive"):
        network_kernel(net, theta, X, precision=0.0)
    with pytest.raises(ValueError, match="X must have shape"):
        network_kernel(net, theta, X[:, :1], precision=1.0)
    with pytest.raises(ValueError, match="y must hold labels"):
        gp_predictive(net, theta, X, y + 5, X_test, prior_precision=1.0)
    X0 = X.copy()
    gp_predictive(net, theta, X, y, X_test, prior_precision=1.0)
    assert np.array_equal(X, X0)
