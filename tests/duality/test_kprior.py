"""K-priors: faithful gradient reconstruction with the full past data as memory (against the old
objective's gradient written independently), the adaptation tasks against retraining, memorable vs
random memories, and bad input."""

import numpy as np
import pytest
from scipy.special import expit

from blrkit.duality import fit_glm, kprior, local_parameters, quadratic_penalty, select_memory
from duality.problems import glm_data, oracle
from duality.tolerances import assert_close

#: The old model is fitted to ‖∇ℓ̄(θ*)‖ ≤ 1e-12; the reconstruction differs from the old gradient by exactly
#: that residual (derivations §4), for every θ: the issue's 1e-10.
RECONSTRUCTION = 1e-10

#: Two Newton solves of the same convex objective written two ways, each to ‖∇‖ ≤ 1e-12: the minimisers
#: agree to ‖∇‖ / λ_min(S) ≲ 1e-11; 1e-8 leaves room for the conditioning.
SAME_OPTIMUM = 1e-8


@pytest.mark.parametrize("name", ["gaussian", "logistic", "poisson"])
def test_full_memory_reconstructs_the_past_gradient(rng, name):
    X, y = glm_data(rng, name, 120, 4)
    old = fit_glm(X, y, likelihood=name, prior_precision=0.7, tol=1e-12)
    K = kprior(X, old.mean, likelihood=name, prior_precision=0.7)
    g_old, h_old = oracle(name, X, y, 0.7)
    for theta in rng.standard_normal((5, 4)) * 0.5:
        assert np.max(np.abs(K.grad(theta) - g_old(theta))) <= RECONSTRUCTION * max(1.0, np.max(np.abs(g_old(theta))))
        assert_close(K.hess(theta), h_old(theta), 1e-12)
    # batched θ and finite differences of the loss
    th = rng.standard_normal((3, 4)) * 0.5
    assert K.grad(th).shape == (3, 4) and K.hess(th).shape == (3, 4, 4)
    e = np.eye(4)[0] * 1e-6
    fd = (K.loss(th[0] + e) - K.loss(th[0] - e)) / 2e-6
    assert abs(fd - K.grad(th[0])[0]) <= 1e-6 * max(1.0, abs(fd))
    assert abs(K.loss(old.mean)) <= 1e-12


def test_a_partial_memory_does_not_reconstruct(rng):
    """The check is meaningful: dropping half the memory breaks the reconstruction by far more than 1e-10."""
    X, y = glm_data(rng, "logistic", 120, 4)
    old = fit_glm(X, y, likelihood="logistic", prior_precision=0.7, tol=1e-12)
    K = kprior(X[:60], old.mean, likelihood="logistic", prior_precision=0.7)
    g_old, _ = oracle("logistic", X, y, 0.7)
    theta = rng.standard_normal(4)
    assert np.max(np.abs(K.grad(theta) - g_old(theta))) > 1e-3


def _old_and_new(rng, N=300, D=5):
    w = rng.standard_normal(D) * 4  # high-margin data, as in derivations §4
    X = rng.standard_normal((N, D))
    y = (rng.random(N) < expit(X @ w)).astype(float)
    Xn = rng.standard_normal((20, D))
    yn = (rng.random(20) < expit(Xn @ w)).astype(float)
    return X, y, Xn, yn


def test_adaptation_tasks_with_full_memory_equal_retraining(rng):
    """Add data, remove data, change the regulariser: K-prior with M = N lands on the retrained model
    (SAME_OPTIMUM); the EWC-like diagonal penalty does not (its error is reported below as > 1e-3)."""
    X, y, Xn, yn = _old_and_new(rng)
    old = fit_glm(X, y, likelihood="logistic", prior_precision=1.0, tol=1e-12)
    K = kprior(X, old.mean, likelihood="logistic", prior_precision=1.0)
    ewc = quadratic_penalty(old, prior_precision=1.0, likelihood="logistic")
    empty_X, empty_y = np.zeros((0, 5)), np.zeros(0)
    tasks = {
        "add": ((Xn, yn, K), (Xn, yn, ewc), (np.r_[X, Xn], np.r_[y, yn], 1.0)),
        "remove": ((empty_X, empty_y, K.without(X[:30], y[:30])), (empty_X, empty_y, ewc.without(X[:30], y[:30])),
                   (X[30:], y[30:], 1.0)),
        "regulariser": ((empty_X, empty_y, K.with_prior(4.0)), (empty_X, empty_y, ewc.with_prior(4.0)), (X, y, 4.0)),
    }
    for task, ((Xk, yk, pk), (Xe, ye, pe), (Xr, yr, delta)) in tasks.items():
        adapted = fit_glm(Xk, yk, likelihood="logistic", prior_precision=None, penalty=pk, tol=1e-12)
        retrained = fit_glm(Xr, yr, likelihood="logistic", prior_precision=delta, tol=1e-12)
        assert_close(adapted.mean, retrained.mean, SAME_OPTIMUM)
        weight_space = fit_glm(Xe, ye, likelihood="logistic", prior_precision=None, penalty=pe, tol=1e-12)
        assert np.max(np.abs(weight_space.mean - retrained.mean)) > 1e-3 * np.max(np.abs(retrained.mean)), task


def test_memorable_memory_beats_random(rng):
    """With M = 20 of 300 examples, the memory of the largest site precisions β_i reconstructs the
    retrained model better than a random memory does on average: its error is below the mean over 10 random
    memories by more than 3 standard errors of that mean (computed from the 10 draws), so the ordering is not
    a chance of the draws (measured: 0.057 against 0.076 ± 0.003; the memory of the 20 smallest β_i, 0.114,
    fails).  The errors themselves have no closed form, and no bound is set on them."""
    X, y, Xn, yn = _old_and_new(rng)
    old = fit_glm(X, y, likelihood="logistic", prior_precision=1.0, tol=1e-12)
    sites = local_parameters(X, y, old, likelihood="logistic", prior_precision=1.0)
    target = fit_glm(np.r_[X, Xn], np.r_[y, yn], likelihood="logistic", prior_precision=1.0, tol=1e-12).mean

    def error(idx):
        K = kprior(X[idx], old.mean, likelihood="logistic", prior_precision=1.0)
        new = fit_glm(Xn, yn, likelihood="logistic", prior_precision=None, penalty=K, tol=1e-10).mean
        return np.linalg.norm(new - target) / np.linalg.norm(target)

    memorable = error(select_memory(sites, 20))
    random = np.array([error(select_memory(sites, 20, by="random", rng=r)) for r in range(10)])
    standard_error = random.std(ddof=1) / np.sqrt(len(random))
    assert memorable < random.mean() - 3 * standard_error, (memorable, random.mean(), standard_error)


def test_empty_memory_is_the_weight_regulariser(rng):
    K = kprior(np.zeros((0, 3)), np.ones(3), likelihood="logistic", prior_precision=2.0)
    theta = rng.standard_normal(3)
    assert_close(K.grad(theta), 2.0 * (theta - 1.0), 1e-15)


def test_bad_input():
    with pytest.raises(ValueError, match="canonical link"):
        kprior(np.zeros((2, 3)), np.zeros(3), likelihood="probit", prior_precision=1.0)
    with pytest.raises(ValueError, match="memory must be"):
        kprior(np.zeros((2, 3)), np.zeros(4), likelihood="logistic", prior_precision=1.0)
    with pytest.raises(ValueError, match="finite"):
        kprior(np.full((2, 3), np.nan), np.zeros(3), likelihood="logistic", prior_precision=1.0)
    K = kprior(np.zeros((2, 3)), np.zeros(3), likelihood="logistic", prior_precision=1.0)
    with pytest.raises(ValueError, match="X_removed must be"):
        K.without(np.zeros((2, 4)), np.zeros(2))
    with pytest.raises(ValueError, match="prior_precision is required"):
        fit_glm(np.zeros((2, 3)), np.zeros(2), likelihood="logistic", prior_precision=None)
