"""Softmax sites: the Laplace fit against scikit-learn's multinomial logistic regression, the precision
against a Kronecker-product Hessian written with np.kron, the identity λ* = λ₀ + Σλ̃_i, the split and bad input."""

import numpy as np
import pytest

from blrkit.algorithms.results import GaussianPosterior
from blrkit.duality import fit_softmax, softmax_local_parameters
from duality.tolerances import FIXED_POINT, assert_close

#: scikit-learn's lbfgs at tol 1e-12 against Newton to ‖∇‖ ≤ 1e-10: the MAP agrees to ~1e-8; 1e-6 is the
#: bound for iterative solvers used across the tests.
ITERATIVE = 1e-6


@pytest.fixture
def problem(rng):
    N, D, K = 150, 3, 4
    X = np.c_[rng.standard_normal((N, D - 1)), np.ones(N)]
    W = rng.standard_normal((D, K)) * 2
    logits = X @ W
    y = np.array([rng.choice(K, p=np.exp(r - r.max()) / np.exp(r - r.max()).sum()) for r in logits])
    return X, y, K


def test_map_equals_sklearn_and_precision_equals_kron_hessian(problem):
    linear_model = pytest.importorskip("sklearn.linear_model")
    X, y, K = problem
    delta = 0.5
    post = fit_softmax(X, y, n_classes=K, prior_precision=delta)
    sk = linear_model.LogisticRegression(C=1 / delta, fit_intercept=False, tol=1e-12, max_iter=10000).fit(X, y)
    assert_close(post.mean.reshape(X.shape[1], K), sk.coef_.T, ITERATIVE)
    p = np.exp(X @ post.mean.reshape(-1, K))
    p /= p.sum(1, keepdims=True)
    H = sum(np.kron(np.outer(x, x), np.diag(q) - np.outer(q, q)) for x, q in zip(X, p)) + delta * np.eye(X.shape[1] * K)
    assert_close(post.precision, H, FIXED_POINT)


def test_identity(problem):
    X, y, K = problem
    post = fit_softmax(X, y, n_classes=K, prior_precision=0.5, tol=1e-12)
    sites = softmax_local_parameters(X, y, post, n_classes=K, prior_precision=0.5)
    lam1, lam2 = sites.site_sums()
    assert_close(lam1, post.precision @ post.mean, FIXED_POINT)
    assert_close(-0.25 * np.eye(len(post.mean)) + lam2, -0.5 * post.precision, FIXED_POINT)
    B = sites.curvature()
    assert np.abs(B.sum(-1)).max() < 1e-15  # each row of B_i sums to zero: softmax's shift invariance


def test_split_finds_a_planted_outlier(rng):
    X = np.c_[rng.standard_normal((120, 2)) * 3, np.ones(120)]
    y = np.argmax(X[:, :2] @ np.array([[1.0, -1.0, 0.0], [0.0, 1.0, -1.0]]), axis=1)
    far = int(np.argmax(np.abs(X[:, 0]) + np.abs(X[:, 1])))
    y[far] = (y[far] + 1) % 3
    post = fit_softmax(X, y, n_classes=3, prior_precision=1.0)
    mem = softmax_local_parameters(X, y, post, n_classes=3, prior_precision=1.0).memorable(k=3)
    assert mem.outlier[0] == far
    assert np.all(mem.memorability[mem.uncertain] > mem.memorability[mem.easy].max())


def test_bad_input(problem):
    X, y, K = problem
    post = fit_softmax(X, y, n_classes=K, prior_precision=0.5)
    with pytest.raises(ValueError, match="not a fixed point.*gradient norm"):
        softmax_local_parameters(X, y, GaussianPosterior(post.mean + 0.1, post.precision), n_classes=K,
                                 prior_precision=0.5)
    with pytest.raises(ValueError, match="class labels"):
        softmax_local_parameters(X, y + 1, post, n_classes=K, prior_precision=0.5)
    with pytest.raises(ValueError, match="posterior must have mean"):
        softmax_local_parameters(X, y, post, n_classes=K + 1, prior_precision=0.5)
    with pytest.raises(ValueError, match="n_classes"):
        fit_softmax(X, y, n_classes=1, prior_precision=0.5)
