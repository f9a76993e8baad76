"""em_gaussian_mixture: EM for a full-covariance Gaussian mixture, the BLR of Khan & Rue 2023, Sec. 5.2.

The independent counterparts: scikit-learn's ``GaussianMixture`` stepped one iteration per ``fit`` (its
own code: Cholesky factors of the precisions, centred covariances) and SciPy's Gaussian densities for the
log-likelihood.  Tolerance 1e-8 relative: both sides are exact algebra on the same data (measured ~1e-13);
the margin covers the different floating-point paths (second moments vs centred sums) over 20 iterations.
"""

import warnings

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from blrkit.algorithms import em_gaussian_mixture

sklearn_mixture = pytest.importorskip("sklearn.mixture")

RTOL = 1e-8


def _problem(seed=0, n=240, d=3, k=4, offset=0.0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(k, d))
    X = centres[rng.integers(k, size=n)] + rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) * 0.5 + offset
    w0 = rng.dirichlet(np.full(k, 5.0))
    m0 = X[rng.choice(n, k, replace=False)]
    A = rng.normal(size=(k, d, d))
    P0 = A @ np.swapaxes(A, -1, -2) / d + np.eye(d)
    return X, w0, m0, P0


def _sklearn_path(X, w0, m0, P0, n_steps):
    from sklearn.exceptions import ConvergenceWarning

    gm = sklearn_mixture.GaussianMixture(len(w0), covariance_type="full", reg_covar=0.0, max_iter=1, warm_start=True,
                                         weights_init=w0, means_init=m0, precisions_init=P0)
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(n_steps):
            gm.fit(X)
            out.append((gm.weights_.copy(), gm.means_.copy(), gm.precisions_.copy(), gm.lower_bound_ * len(X)))
    return out


def _rel(a, b):
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


@pytest.mark.parametrize("offset", [0.0, 1e4])
def test_iterates_equal_scikit_learn(offset):
    """Every iterate, and the log-likelihood before each M-step; an offset of 10⁴ (data far from the origin) too."""
    X, w0, m0, P0 = _problem(offset=offset)
    res = em_gaussian_mixture(X, weights0=w0, means0=m0, precisions0=P0, n_steps=20)
    for t, (w, m, P, ll) in enumerate(_sklearn_path(X, w0, m0, P0, 20), 1):
        assert _rel(res.weights[t], w) < RTOL
        assert _rel(res.means[t], m) < RTOL
        assert _rel(res.precisions[t], P) < RTOL
        assert abs(res.log_likelihood[t - 1] - ll) < RTOL * abs(ll)


def test_log_likelihood_against_scipy_and_never_decreasing():
    X, w0, m0, P0 = _problem(seed=1)
    res = em_gaussian_mixture(X, weights0=w0, means0=m0, precisions0=P0, n_steps=10)
    for t in range(11):
        comps = [np.log(res.weights[t, k]) + multivariate_normal(res.means[t, k],
                                                                 np.linalg.inv(res.precisions[t, k])).logpdf(X)
                 for k in range(4)]
        assert abs(res.log_likelihood[t] - logsumexp(comps, axis=0).sum()) < 1e-10 * abs(res.log_likelihood[t])
    assert np.all(np.diff(res.log_likelihood) >= -1e-9 * np.abs(res.log_likelihood[1:]))


def test_batched_problems_equal_one_at_a_time():
    problems = [_problem(seed=s, n=120) for s in range(3)]
    X, w0, m0, P0 = (np.stack(a) for a in zip(*problems))
    res = em_gaussian_mixture(X, weights0=w0, means0=m0, precisions0=P0, n_steps=8)
    assert res.weights.shape == (9, 3, 4) and res.means.shape == (9, 3, 4, 3)
    assert res.precisions.shape == (9, 3, 4, 3, 3) and res.log_likelihood.shape == (9, 3)
    for b, (x, w, m, P) in enumerate(problems):
        one = em_gaussian_mixture(x, weights0=w, means0=m, precisions0=P, n_steps=8)
        for k in ("weights", "means", "precisions", "log_likelihood"):
            np.testing.assert_allclose(getattr(res, k)[:, b], getattr(one, k), rtol=1e-12, atol=0)


def test_precisions_symmetric_positive_definite_and_inputs_untouched():
    X, w0, m0, P0 = _problem(seed=2)
    copies = [a.copy() for a in (X, w0, m0, P0)]
    res = em_gaussian_mixture(X, weights0=w0, means0=m0, precisions0=P0, n_steps=5)
    for a, c in zip((X, w0, m0, P0), copies):
        np.testing.assert_array_equal(a, c)
    P = res.precisions[-1]
    assert np.max(np.abs(P - np.swapaxes(P, -1, -2))) < 1e-12 * np.max(np.abs(P))
    assert np.all(np.linalg.eigvalsh(P) > 0)
    np.testing.assert_allclose(res.weights.sum(-1), 1.0, rtol=0, atol=1e-12)


def test_zero_steps_reports_the_start():
    X, w0, m0, P0 = _problem()
    res = em_gaussian_mixture(X, weights0=w0, means0=m0, precisions0=P0, n_steps=0)
    np.testing.assert_allclose(res.means[0], m0, rtol=1e-13)
    assert res.log_likelihood.shape == (1,)


@pytest.mark.parametrize("change, match", [
    (dict(weights0=np.full(300, 1 / 300), means0=np.zeros((300, 3)), precisions0=np.broadcast_to(np.eye(3), (300, 3, 3))),
     "exceeds the number of observations"),
    (dict(weights0=[0.5, 0.6, 0.1, -0.2]), "weights0 must lie on the simplex"),
    (dict(weights0=[0.2, 0.2, 0.2, 0.2]), "weights0 must lie on the simplex"),
    (dict(precisions0=np.zeros((4, 3, 3))), "precisions0 must be symmetric positive definite .*singular"),
    (dict(precisions0=np.ones((4, 3, 3))), "precisions0 must be symmetric positive definite"),
    (dict(means0=np.zeros((4, 2))), "means0 must be"),
    (dict(precisions0=np.broadcast_to(np.eye(2), (4, 2, 2))), "precisions0 must be"),
    (dict(weights0=[]), "at least one component"),
    (dict(n_steps=-1), "n_steps"),
])
def test_bad_input(change, match):
    X, w0, m0, P0 = _problem()
    kw = dict(weights0=w0, means0=m0, precisions0=P0, n_steps=3) | change
    with pytest.raises(ValueError, match=match):
        em_gaussian_mixture(X, **kw)


def test_non_finite_data_is_named():
    X, w0, m0, P0 = _problem()
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="X must be finite"):
        em_gaussian_mixture(X, weights0=w0, means0=m0, precisions0=P0, n_steps=3)


def test_a_collapsing_component_is_named():
    """Two identical points and a component started on them: its covariance goes singular (unbounded likelihood)."""
    X = np.array([[0.0, 0.0], [0.0, 0.0], [5.0, 5.0], [6.0, 4.0], [5.5, 6.0]])
    with pytest.raises(ValueError, match="EM step .*collapsed"):
        em_gaussian_mixture(X, weights0=[0.5, 0.5], means0=[[0.0, 0.0], [5.5, 5.0]],
                            precisions0=[np.eye(2) * 100, np.eye(2)], n_steps=5)


# -- another array library (issue #15) ------------------------------------------------------------------------

def test_on_another_array_library_equals_numpy(other_library):
    """Two problems in a batch, five iterations: the same result as on NumPy, in the other library's arrays
    (tolerances in algorithms.other_library)."""
    from algorithms.other_library import assert_same_result

    problems = [_problem(seed=s, n=60) for s in range(2)]
    X, w0, m0, P0 = (np.stack(a) for a in zip(*problems))
    args = dict(X=X, weights0=w0, means0=m0, precisions0=P0)
    want = em_gaussian_mixture(**args, n_steps=5)
    got = em_gaussian_mixture(**{k: other_library.convert(v) for k, v in args.items()}, n_steps=5)
    assert_same_result(got, want, other_library, ("weights", "means", "precisions", "log_likelihood"))


def test_mixing_numpy_with_another_library_names_the_argument():
    xp = pytest.importorskip("array_api_strict")
    X, w0, m0, P0 = _problem()
    with pytest.raises(TypeError, match=r"^means0 comes from array_api_strict \(Array\) but X from NumPy"):
        em_gaussian_mixture(X, weights0=w0, means0=xp.asarray(m0), precisions0=P0, n_steps=1)
