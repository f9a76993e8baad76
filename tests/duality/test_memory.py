"""Memorable examples: the split on a problem with a planted outlier, and the largest dual weights
against scikit-learn's linear-SVM support vectors on a separable 2-D problem."""

import numpy as np
import pytest

from blrkit.duality import fit_glm, local_parameters, memorable_examples, select_memory


def separable(seed, N=80):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, 2))
    f = X @ np.array([1.0, -0.7]) + 0.3
    keep = np.abs(f) > 0.4  # a margin of width 0.8/‖w‖ between the classes
    return X[keep], (f[keep] > 0).astype(float)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_largest_dual_weights_are_the_support_vectors(seed):
    """Logistic regression with a weak prior (δ = 1e-3) approaches the max-margin direction, and its dual
    weights |α_i| = |y_i − σ(x_iᵀm)| = σ(−s_i x_iᵀm) (s_i = 2y_i − 1, every example on its side) decrease with
    the margin s_i x_iᵀm̂ along m̂ = m/‖m‖ (x_i with a 1 appended for the bias).  The SVC's support vectors
    (C = 1e4: hard margin) have the smallest margin along the SVM's (w, b)/‖(w, b)‖ = v̂, and the two margins of
    an example differ by at most ε_i = ‖x_i‖‖v̂ − m̂‖.  So a support vector s outranks every other example j
    whose SVM margin exceeds s's by more than ε_j + ε_s: |α_s| > |α_j| for each such pair (no measured bound)."""
    svm = pytest.importorskip("sklearn.svm")
    X, y = separable(seed)
    fit = svm.SVC(kernel="linear", C=1e4).fit(X, y)
    sv = set(fit.support_)
    Xb = np.c_[X, np.ones(len(X))]
    post = fit_glm(Xb, y, likelihood="logistic", prior_precision=1e-3, tol=1e-9, max_steps=500)
    sites = local_parameters(Xb, y, post, likelihood="logistic", prior_precision=1e-3)
    np.testing.assert_allclose(sites.alpha, y - 1 / (1 + np.exp(-Xb @ post.mean)), rtol=1e-12, atol=1e-15)
    v = np.r_[fit.coef_[0], fit.intercept_[0]]
    v_hat, m_hat = v / np.linalg.norm(v), post.mean / np.linalg.norm(post.mean)
    svm_margin = (2 * y - 1) * (Xb @ v_hat)
    eps = np.linalg.norm(Xb, axis=1) * np.linalg.norm(v_hat - m_hat)
    weight = np.abs(sites.alpha)
    pairs = [(s, j) for s in sv for j in set(range(len(y))) - sv if svm_margin[j] - svm_margin[s] > eps[j] + eps[s]]
    assert pairs  # the bound decides some pairs (measured: 150 of 156, 156 of 165, 171 of 174)
    assert all(weight[s] > weight[j] for s, j in pairs), [(s, j) for s, j in pairs if weight[s] <= weight[j]]
    order = np.argsort(-weight)
    assert not sv & set(order[-len(sv):])  # and the ranking reversed starts far from them


def test_split_finds_the_planted_outlier(rng):
    """A label flipped far from the boundary is the top outlier; uncertain examples sit nearest the
    boundary (largest β_i = p_i(1 − p_i)); easy ones farthest and on the right side."""
    X = rng.standard_normal((200, 2))
    y = (X[:, 0] > 0).astype(float)
    far = int(np.argmax(X[:, 0]))
    y[far] = 0.0
    post = fit_glm(X, y, likelihood="logistic", prior_precision=1.0)
    sites = local_parameters(X, y, post, likelihood="logistic", prior_precision=1.0)
    mem = memorable_examples(sites, k=5)
    assert mem.outlier[0] == far
    p = 1 / (1 + np.exp(-sites.eta))
    assert np.all(np.abs(p[mem.uncertain] - 0.5) < np.min(np.abs(p[mem.easy] - 0.5)))
    assert len(set(mem.easy) | set(mem.outlier) | set(mem.uncertain)) == 15
    assert 0 <= mem.memorability.min() and mem.memorability.max() < 1


def test_select_memory(rng):
    X = rng.standard_normal((50, 2))
    y = (X[:, 0] > 0).astype(float)
    sites = local_parameters(X, y, fit_glm(X, y, likelihood="logistic", prior_precision=1.0), likelihood="logistic",
                             prior_precision=1.0)
    idx = select_memory(sites, 10)
    assert np.min(sites.beta[idx]) >= np.max(np.delete(sites.beta, idx))
    r = select_memory(sites, 10, by="random", rng=0)
    assert len(set(r)) == 10
    with pytest.raises(ValueError, match="size must be"):
        select_memory(sites, 0)
    with pytest.raises(ValueError, match="by must be"):
        select_memory(sites, 3, by="largest")
    with pytest.raises(ValueError, match="k must be"):
        memorable_examples(sites, k=51)
