"""Non-conjugate VMP (ncvmp_logistic): the same derivation as variational Newton at ρ = 1 but for the
expectation rule, a fixed point equal to exact Gaussian VI in one dimension (the ELBO maximised by SciPy on
an adaptive-quadrature objective), batching and bad input."""

import numpy as np
import pytest
import scipy.integrate
import scipy.optimize
import scipy.special

from blrkit.algorithms import ncvmp_logistic
from blrkit.derive import derive, glm_loss


def test_it_is_variational_newton_at_rho_one_with_quadrature_for_monte_carlo():
    mc = derive("multivariate-gaussian", glm_loss("logistic"), "isotropic", ["rho=1"])
    gh = derive("multivariate-gaussian", glm_loss("logistic"), "isotropic", ["gauss-hermite", "rho=1"])
    assert [eq.latex() for eq in mc.update] == [eq.latex() for eq in gh.update]
    assert any("Monte Carlo" in s.label for s in mc.steps) and any("Gauss-Hermite" in s.label for s in gh.steps)


def test_fixed_point_is_exact_gaussian_vi_in_one_dimension():
    """ELBO(m, s) = −Σ E[log(1 + e^{xθ}) − y xθ] − α(m² + 1/s)/2 − ½ log s (labels y in {0, 1}), each
    expectation by adaptive quadrature, maximised by SciPy (Nelder–Mead on (m, log s), xatol 1e-10): the same (m, s)."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=12)
    y = np.where(rng.uniform(size=12) < 1 / (1 + np.exp(-0.8 * x)), 1.0, 0.0)
    alpha = 0.7
    res = ncvmp_logistic(x[:, None], y, alpha=alpha, n_steps=40)

    def neg_elbo(p):
        m, s = p[0], np.exp(p[1])
        sd = 1 / np.sqrt(s)
        e = sum(scipy.integrate.quad(lambda t, xi=xi, yi=yi: (np.logaddexp(0, xi * t) - yi * xi * t)
                                     * np.exp(-(t - m) ** 2 / (2 * sd**2)) / (sd * np.sqrt(2 * np.pi)),
                                     m - 12 * sd, m + 12 * sd, epsabs=1e-13)[0] for xi, yi in zip(x, y))
        return e + alpha * (m**2 + 1 / s) / 2 + 0.5 * np.log(s)
    best = scipy.optimize.minimize(neg_elbo, [0.0, np.log(alpha)], method="Nelder-Mead",
                                   options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 4000})
    np.testing.assert_allclose(res.means[-1, 0], best.x[0], rtol=1e-6)
    np.testing.assert_allclose(res.precisions[-1, 0, 0], np.exp(best.x[1]), rtol=1e-6)


def test_batches_are_independent_problems():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(2, 20, 2)), np.where(rng.uniform(size=(2, 20)) < 0.5, 1.0, 0.0)
    both = ncvmp_logistic(X, y, alpha=np.array([1.0, 2.0]), n_steps=5)
    for b, a in enumerate((1.0, 2.0)):
        one = ncvmp_logistic(X[b], y[b], alpha=a, n_steps=5)
        np.testing.assert_allclose(both.means[:, b], one.means, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("kwargs, match", [
    (dict(y=np.array([-1.0, 1.0, 1.0])), "^y must hold labels 0 or 1"), (dict(alpha=0.0), "alpha"),
    (dict(y=np.ones(2)), "one label per row"), (dict(precision0=-np.eye(2)), "precision0"),
])
def test_bad_input_is_named(kwargs, match):
    args = dict(X=np.ones((3, 2)), y=np.array([1.0, 0.0, 1.0]), alpha=1.0, n_steps=2) | kwargs
    with pytest.raises(ValueError, match=match):
        ncvmp_logistic(args.pop("X"), args.pop("y"), **args)


def test_on_another_array_library_equals_numpy(other_library):
    """A batch of two problems with their own α and start, five steps: the same result as on NumPy, in the
    other library's arrays (tolerances in algorithms.other_library)."""
    from algorithms.other_library import assert_same_result

    rng = np.random.default_rng(0)
    args = dict(X=rng.normal(size=(2, 20, 2)), y=np.where(rng.uniform(size=(2, 20)) < 0.5, 1.0, 0.0),
                alpha=np.array([1.0, 2.0]), m0=np.array([0.5, -0.5]), precision0=3.0 * np.eye(2))
    want = ncvmp_logistic(**args, n_steps=5)
    got = ncvmp_logistic(**{k: other_library.convert(v) for k, v in args.items()}, n_steps=5)
    assert_same_result(got, want, other_library, ("means", "precisions"))
    # the defaults (m0 = 0, precision0 = αI) made beside X, α a Python number
    want = ncvmp_logistic(args["X"], args["y"], alpha=0.5, n_steps=3)
    got = ncvmp_logistic(other_library.to(args["X"]), other_library.to(args["y"]), alpha=0.5, n_steps=3)
    assert_same_result(got, want, other_library, ("means", "precisions"))


def test_mixing_numpy_with_another_library_names_the_argument():
    xp = pytest.importorskip("array_api_strict")
    with pytest.raises(TypeError, match=r"^y comes from array_api_strict \(Array\) but X from NumPy"):
        ncvmp_logistic(np.ones((3, 2)), xp.asarray([1.0, 0.0, 1.0]), alpha=1.0, n_steps=1)
