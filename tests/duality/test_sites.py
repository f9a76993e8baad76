"""The local natural parameters: λ* = λ₀ + Σ λ̃_i at every kind of solution (ridge, Newton, Laplace,
variational), the sites against the posterior computed by the algorithms layer (independent code),
cavities against refits, and bad input."""

import numpy as np
import pytest
from scipy import optimize
from scipy.special import log_ndtr

from blrkit.algorithms import laplace, newton, ridge, variational_newton
from blrkit.algorithms.results import GaussianPosterior
from blrkit.duality import LIKELIHOODS, fit_glm, local_parameters
from duality.problems import glm_data, oracle
from duality.tolerances import ELBO, EXACT, FIXED_POINT, assert_close

DELTA = 0.8


def identity_residuals(sites, P0, m0=None):
    """λ* − (λ₀ + Σλ̃_i) from the materialised per-example sites, both halves."""
    lam1, lam2 = sites.natural()
    D = P0.shape[-1]
    m0 = np.zeros(D) if m0 is None else m0
    post1, post2 = sites.precision @ sites.mean, -0.5 * sites.precision
    return (post1, P0 @ m0 + lam1.sum(axis=0)), (post2, -0.5 * P0 + lam2.sum(axis=0))


def assert_identity(sites, P0, rtol, m0=None):
    (a1, b1), (a2, b2) = identity_residuals(sites, P0, m0)
    assert_close(b1, a1, rtol)
    assert_close(b2, a2, rtol)


def test_identity_at_ridge(rng):
    """Ridge: the posterior from the emitted ridge step is prior + sites (EXACT), β_i = 1/σ²."""
    X, y = glm_data(rng, "gaussian", 60, 4)
    post = ridge(X, y, DELTA, noise_variance=0.5)
    sites = local_parameters(X, y, post, likelihood="gaussian", prior_precision=DELTA, noise_variance=0.5)
    assert_identity(sites, DELTA * np.eye(4), EXACT)
    assert_close(sites.beta, np.full(60, 2.0), 1e-15)
    # the site's natural parameter is the likelihood's own (x_i y_i/σ², −x_i x_iᵀ/(2σ²))
    lam1, lam2 = sites.natural()
    assert_close(lam1, X * y[:, None] / 0.5, EXACT)


def test_a_dropped_factor_is_caught(rng):
    """A wrong variant (the ½ of λ̃⁽²⁾ dropped) breaks the identity check."""
    X, y = glm_data(rng, "gaussian", 30, 3)
    sites = local_parameters(X, y, ridge(X, y, DELTA), likelihood="gaussian", prior_precision=DELTA)
    lam1, lam2 = sites.natural()
    with pytest.raises(AssertionError):
        assert_close(-0.5 * DELTA * np.eye(3) + 2 * lam2.sum(axis=0), -0.5 * sites.precision, EXACT)


@pytest.mark.parametrize("name", ["logistic", "poisson", "probit"])
def test_identity_at_laplace(rng, name):
    """Laplace (laplace driver on a hand-written loss): λ* = λ₀ + Σλ̃_i (FIXED_POINT)."""
    X, y = glm_data(rng, name, 80, 3, scale=2.0)
    grad, hess = oracle(name, X, y, DELTA)
    post = laplace(grad, hess, np.zeros(3), tol=1e-12)
    sites = local_parameters(X, y, post, likelihood=name, prior_precision=DELTA)
    assert_identity(sites, DELTA * np.eye(3), FIXED_POINT)
    # O(N·D) sums agree with the materialised ones
    s1, s2 = sites.site_sums()
    lam1, lam2 = sites.natural()
    assert_close(s1, lam1.sum(0), 1e-12)
    assert_close(s2, lam2.sum(0), 1e-12)


def test_identity_at_newton_last_iterate(rng):
    X, y = glm_data(rng, "logistic", 100, 3, scale=2.0)
    grad, hess = oracle("logistic", X, y, DELTA)
    res = newton(grad, hess, np.zeros(3), n_steps=25)
    sites = local_parameters(X, y, res, likelihood="logistic", prior_precision=DELTA)
    assert_identity(sites, DELTA * np.eye(3), FIXED_POINT)


def test_identity_with_a_prior_mean_and_matrix(rng):
    """A general prior N(m₀, P₀⁻¹): λ₀ = (P₀m₀, −½P₀)."""
    X, y = glm_data(rng, "poisson", 70, 3)
    A = rng.standard_normal((3, 3))
    P0, m0 = A @ A.T + np.eye(3), rng.standard_normal(3)
    g0, h0 = oracle("poisson", X, y, 0.0)
    post = laplace(lambda t: g0(t) + P0 @ (t - m0), lambda t: h0(t) + P0, np.zeros(3), tol=1e-12)
    sites = local_parameters(X, y, post, likelihood="poisson", prior_precision=P0, prior_mean=m0)
    assert_identity(sites, P0, FIXED_POINT, m0)


def elbo_optimum(X, y, name, delta):
    """The Gaussian variational posterior by BFGS on the negative ELBO (E_q[Σℓ_i] by an independent 80-point
    Gauss–Hermite sum, plus KL(q ‖ N(0, δ⁻¹I))), parametrised by m and the Cholesky factor of Σ."""
    D = X.shape[1]
    t, w = np.polynomial.hermite.hermgauss(80)
    w = w / np.sqrt(np.pi)
    loss = {"logistic": lambda e, yy: np.logaddexp(0, e) - yy * e,
            "poisson": lambda e, yy: np.exp(e) - yy * e,
            "probit": lambda e, yy: -log_ndtr((2 * yy - 1) * e)}[name]
    tril = np.tril_indices(D)

    def negelbo(z):
        m, L = z[:D], np.zeros((D, D))
        L[tril] = z[D:]
        Sig = L @ L.T
        a, v = X @ m, np.einsum("nd,de,ne->n", X, Sig, X)
        e = a[:, None] + np.sqrt(2 * v)[:, None] * t
        data = (loss(e, y[:, None]) @ w).sum()
        kl = 0.5 * (delta * np.trace(Sig) + delta * m @ m - D - D * np.log(delta)
                    - 2 * np.sum(np.log(np.abs(np.diag(L)))))
        return data + kl

    z0 = np.concatenate([np.zeros(D), np.eye(D)[tril] * 0.5])
    z = optimize.minimize(negelbo, z0, method="BFGS", options={"gtol": 1e-9, "maxiter": 5000}).x
    L = np.zeros((D, D))
    L[tril] = z[D:]
    return z[:D], np.linalg.inv(L @ L.T)


@pytest.mark.parametrize("name", ["logistic", "poisson", "probit"])
def test_identity_at_the_variational_solution(rng, name):
    """fit_glm(method="variational") is the ELBO's optimum (found by BFGS: ELBO) and there
    λ* = λ₀ + Σλ̃_i with the expectations under q (FIXED_POINT)."""
    X, y = glm_data(rng, name, 40, 2, scale=2.0)
    post = fit_glm(X, y, likelihood=name, prior_precision=DELTA, method="variational", tol=1e-12)
    m, S = elbo_optimum(X, y, name, DELTA)
    assert_close(post.mean, m, ELBO)
    assert_close(post.precision, S, ELBO)
    sites = local_parameters(X, y, post, likelihood=name, prior_precision=DELTA, method="variational")
    assert_identity(sites, DELTA * np.eye(2), FIXED_POINT)
    # and the delta-method sites of the same posterior do not satisfy it: the method matters
    with pytest.raises(ValueError, match="not a fixed point"):
        local_parameters(X, y, post, likelihood=name, prior_precision=DELTA, method="delta")


def test_monte_carlo_variational_newton_is_close(rng):
    """variational_newton (Monte Carlo, K = 1000 samples, ρ = 0.3, 40 steps) ends near the variational fixed
    point, off it by its Monte-Carlo noise.  Near the fixed point S_{t+1} − H̄ = (1 − ρ)(S_t − H̄) + ρ(Ĥ_t − H̄)
    and, linearised, H̄(m_{t+1} − m*) = (1 − ρ)H̄(m_t − m*) − ρ(ĝ_t − ḡ_t), with H̄ = E_q[∇²ℓ̄], ḡ = E_q[∇ℓ̄] and
    independent K-sample averages Ĥ_t, ĝ_t; the stationary standard deviation of each is
    √(ρ/(2 − ρ)) · sd_q/√K.  The identity's residuals are −½(S − H̄) and (S − H̄)m + ḡ(m), so each entry must lie
    within 5 such standard deviations (adding the two terms' deviations: a bound), and so must the gradient norm
    that gates local_parameters (its ``tol``).  The start's pull, (1 − ρ)⁴⁰ ≈ 6e-7 of it, is below the noise.
    sd_q of ∇ℓ̄ and ∇²ℓ̄ under the final q is estimated from 20,000 independent draws."""
    X, y = glm_data(rng, "logistic", 60, 2, scale=2.0)
    grad, hess = oracle("logistic", X, y, DELTA)
    rho, K = 0.3, 1000
    res = variational_newton(grad, hess, np.zeros(2), n_steps=40, rho=rho, precision0=np.eye(2) * 10,
                             n_samples=K, rng=1)
    m, S = res.means[-1], res.precisions[-1]
    draws = np.random.default_rng(2).multivariate_normal(m, np.linalg.inv(S), size=20_000)
    sd_g = np.std([grad(t) for t in draws], axis=0)
    sd_H = np.std([hess(t) for t in draws], axis=0)
    f = 5 * np.sqrt(rho / (2 - rho) / K)
    sites = local_parameters(X, y, res, likelihood="logistic", prior_precision=DELTA, method="variational",
                             tol=f * np.linalg.norm(sd_g))
    (post1, sum1), (post2, sum2) = identity_residuals(sites, DELTA * np.eye(2))
    assert np.all(np.abs(sum1 - post1) <= f * (sd_H @ np.abs(m) + sd_g))
    assert np.all(np.abs(sum2 - post2) <= f * 0.5 * sd_H)


def test_gaussian_delta_equals_variational(rng):
    X, y = glm_data(rng, "gaussian", 30, 3)
    post = ridge(X, y, DELTA)
    a = local_parameters(X, y, post, likelihood="gaussian", prior_precision=DELTA)
    b = local_parameters(X, y, post, likelihood="gaussian", prior_precision=DELTA, method="variational")
    assert_close(b.alpha, a.alpha, 1e-12)
    assert_close(b.beta, a.beta, 1e-12)


def test_remove_is_an_exact_refit_for_ridge(rng):
    """Cavity = ridge refitted without the example(s), to EXACT (the issue's 1e-10)."""
    X, y = glm_data(rng, "gaussian", 50, 4)
    sites = local_parameters(X, y, ridge(X, y, DELTA, noise_variance=0.3), likelihood="gaussian",
                             prior_precision=DELTA, noise_variance=0.3)
    for drop in (7, -1, np.array([0, 3, 11])):
        keep = np.setdiff1d(np.arange(50), np.arange(50)[drop])
        refit = ridge(X[keep], y[keep], DELTA, noise_variance=0.3)
        cav = sites.remove(drop)
        assert isinstance(cav, GaussianPosterior)
        assert_close(cav.mean, refit.mean, EXACT)
        assert_close(cav.precision, refit.precision, EXACT)


def test_batched_sites_equal_one_by_one(rng):
    X = rng.standard_normal((2, 40, 3))
    y = rng.standard_normal((2, 40))
    post = ridge(X, y, DELTA)
    both = local_parameters(X, y, post, likelihood="gaussian", prior_precision=DELTA)
    for b in range(2):
        one = local_parameters(X[b], y[b], ridge(X[b], y[b], DELTA), likelihood="gaussian", prior_precision=DELTA)
        assert_close(both.alpha[b], one.alpha, 1e-12)
        assert_close(both.variance[b], one.variance, 1e-12)
        assert_close(both.remove(4).mean[b], one.remove(4).mean, 1e-12)


def test_memory_and_immutability(rng):
    """No copy of X is held (O(N·D) memory means the caller's X plus O(N) arrays); nothing is writable;
    the caller's arrays are untouched."""
    X, y = glm_data(rng, "logistic", 200, 3)
    X0, y0 = X.copy(), y.copy()
    post = fit_glm(X, y, likelihood="logistic", prior_precision=DELTA)
    sites = local_parameters(X, y, post, likelihood="logistic", prior_precision=DELTA)
    assert np.shares_memory(sites.X, X)
    for a in (sites.X, sites.y, sites.alpha, sites.beta, sites.eta, sites.mean, sites.precision):
        assert not a.flags.writeable
    sites.remove([1, 2]), sites.natural(), sites.variance
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
    with pytest.raises(AttributeError):
        sites.beta = None


class TestBadInput:
    @pytest.fixture
    def problem(self, rng):
        X, y = glm_data(rng, "logistic", 30, 2)
        return X, y, fit_glm(X, y, likelihood="logistic", prior_precision=DELTA)

    def call(self, X, y, post, **kw):
        kw = {"likelihood": "logistic", "prior_precision": DELTA} | kw
        return local_parameters(X, y, post, **kw)

    def test_not_a_fixed_point_names_the_norm(self, problem):
        X, y, post = problem
        moved = GaussianPosterior(post.mean + 0.1, post.precision)
        with pytest.raises(ValueError, match=r"not a fixed point.*gradient norm at its mean is \d"):
            self.call(X, y, moved)
        with pytest.raises(ValueError, match="not a fixed point"):
            self.call(X, y, post, prior_precision=2 * DELTA)  # the wrong prior

    @pytest.mark.parametrize("kw, match", [
        ({"likelihood": "cauchy"}, "likelihood must be one of"),
        ({"method": "mc"}, "method must be one of"),
        ({"tol": -1.0}, "tol must be"),
        ({"noise_variance": 0.0}, "noise_variance must be"),
        ({"prior_precision": -1.0}, "prior_precision must be positive"),
        ({"prior_precision": np.ones((3, 3))}, "prior_precision must be"),
        ({"prior_mean": np.ones(3)}, "prior_mean must be"),
        ({"n_quadrature": 0}, "n_quadrature must be"),
    ])
    def test_bad_keywords(self, problem, kw, match):
        X, y, post = problem
        with pytest.raises(ValueError, match=match):
            self.call(X, y, post, **kw)

    def test_shapes_labels_and_values(self, problem):
        X, y, post = problem
        with pytest.raises(ValueError, match="y must have shape"):
            self.call(X, y[:-1], post)
        with pytest.raises(ValueError, match="posterior must have mean"):
            self.call(X[:, :1], y, post)
        with pytest.raises(ValueError, match="labels 0 or 1"):
            self.call(X, 2 * y - 1, post)
        with pytest.raises(ValueError, match="counts"):
            self.call(X, y - 0.5, post, likelihood="poisson")
        bad = X.copy()
        bad[0, 0] = np.nan
        with pytest.raises(ValueError, match="X must be finite"):
            self.call(bad, y, post)
        with pytest.raises(ValueError, match=r"posterior.precision must be symmetric positive definite"):
            self.call(X, y, GaussianPosterior(post.mean, -post.precision), method="variational")
        with pytest.raises(TypeError, match="posterior must be"):
            self.call(X, y, (post.mean, post.precision))
        with pytest.raises(TypeError, match="X must be an array of real numbers"):
            self.call(X + 0j, y, post)

    @pytest.mark.parametrize("i", [30, -31, 2.0, True, [1, 1], [], [[1]]])
    def test_remove_bad_index(self, problem, i):
        sites = self.call(*problem)
        with pytest.raises(ValueError, match="i must"):
            sites.remove(i)


def test_every_likelihood_is_tested():
    assert set(LIKELIHOODS) == {"gaussian", "logistic", "poisson", "probit"}


def test_a_likelihood_of_ones_own(rng):
    """A per-example loss f(η, y) given as a Likelihood (here the logistic loss in the ±1 convention,
    f = log(1 + e^{−yη}), written from scratch) works like a built-in one: identity at its Laplace
    solution (FIXED_POINT), and its sites equal the built-in logistic ones on the 0/1 labels."""
    from blrkit.duality import Likelihood

    def check_pm1(y, name):
        if not np.all(np.abs(y) == 1):
            raise ValueError(f"y must hold labels -1 or +1 for the {name} likelihood")

    pm1 = Likelihood("logistic-pm1", log_density=lambda e, y, s2: -np.logaddexp(0, -y * e),
                     d1=lambda e, y, s2: -y / (1 + np.exp(y * e)),
                     d2=lambda e, y, s2: 1 / (2 + np.exp(e) + np.exp(-e)) + 0 * y, check_y=check_pm1)
    X, y01 = glm_data(rng, "logistic", 80, 3, scale=2.0)
    ypm = 2 * y01 - 1
    post = fit_glm(X, ypm, likelihood=pm1, prior_precision=DELTA, tol=1e-12)
    mine = local_parameters(X, ypm, post, likelihood=pm1, prior_precision=DELTA)
    assert_identity(mine, DELTA * np.eye(3), FIXED_POINT)
    builtin = local_parameters(X, y01, post, likelihood="logistic", prior_precision=DELTA)
    assert_close(mine.alpha, builtin.alpha, 1e-12)
    assert_close(mine.beta, builtin.beta, 1e-12)
    with pytest.raises(ValueError, match="-1 or \\+1"):
        local_parameters(X, y01, post, likelihood=pm1, prior_precision=DELTA)


@pytest.mark.parametrize("name, engine_loss", [
    ("gaussian", "squared"), ("logistic", "logistic"), ("poisson", "poisson"), ("probit", "probit")])
def test_sites_equal_the_derive_engines(rng, name, engine_loss):
    """The sites of blrkit.duality (closed-form NumPy derivatives) against the step SymPy derives and
    compiles from f(η, y) alone (blrkit.derive.derive_local_parameters, the same labels {0, 1}):
    a_i = α_i + β_i η_i and β_i, at a Laplace solution (1e-12: the same formulas, two codes)."""
    from blrkit.derive import derive_local_parameters

    X, y = glm_data(rng, name, 40, 3)
    post = fit_glm(X, y, likelihood=name, prior_precision=DELTA, tol=1e-12)
    sites = local_parameters(X, y, post, likelihood=name, prior_precision=DELTA)
    a, beta = derive_local_parameters(engine_loss).compile()(post.mean, X, y)
    assert_close(sites.alpha + sites.beta * sites.eta, a, 1e-12)
    assert_close(sites.beta, np.broadcast_to(beta, sites.beta.shape), 1e-12)
