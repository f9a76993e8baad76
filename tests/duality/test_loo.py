"""Leave-one-out for free: exact against N textbook ridge refits; the one-site approximation against
Newton refits of the hand-written losses, within Newton's quadratic bound; the predictive densities
against quadrature."""

import numpy as np
import pytest
from scipy import integrate, stats

from blrkit.algorithms import ridge
from blrkit.classical.newton import newton_minimize
from blrkit.classical.ridge import ridge_svd
from blrkit.duality import fit_glm, leave_one_out, local_parameters
from duality.problems import glm_data, oracle
from duality.tolerances import EXACT, QUADRATURE, assert_close


def test_gaussian_loo_equals_refits(rng):
    """All N cavities = ridge refitted without each example by the textbook SVD (blrkit.classical.ridge):
    predictive mean and variance, log predictive density N(y_i; η, v + σ²) by SciPy, and the cavity means
    (EXACT, the issue's 1e-10)."""
    N, D, s2, delta = 40, 4, 0.6, 1.3
    X, y = glm_data(rng, "gaussian", N, D)
    sites = local_parameters(X, y, ridge(X, y, delta, noise_variance=s2), likelihood="gaussian",
                             prior_precision=delta, noise_variance=s2)
    loo = leave_one_out(sites)
    means = loo.means()
    for i in range(N):
        keep = np.arange(N) != i
        mean, cov = ridge_svd(X[keep], y[keep], delta, s2)  # the textbook refit (SVD), not the driver
        v = X[i] @ cov @ X[i]
        assert_close(means[i], mean, EXACT)
        assert_close(loo.eta[i], X[i] @ mean, EXACT)
        assert_close(loo.variance[i], v, EXACT)
        assert_close(loo.log_predictive[i], stats.norm.logpdf(y[i], X[i] @ mean, np.sqrt(v + s2)), EXACT)


#: sup |f‴(η)| of the logistic log-likelihood (f'' = σ(1 − σ)): 1/(6√3), at σ = ½ ± 1/(2√3)
LOGISTIC_F3 = 1 / (6 * np.sqrt(3))


def _one_site_errors(name, N, rng, n_refits=25):
    """For the first ``n_refits`` examples: |m_{\\i} (one site) − m_{\\i} (refit)|, its Newton bound, and the shift
    |m_{\\i} (refit) − m|. The refit is the textbook Newton loop on the hand-written loss (duality.problems)."""
    X, y = glm_data(rng, name, N, 3)
    post = fit_glm(X, y, likelihood=name, prior_precision=1.0, tol=1e-12)
    m = post.mean
    means = leave_one_out(local_parameters(X, y, post, likelihood=name, prior_precision=1.0)).means()
    residual = np.linalg.norm(oracle(name, X, y, 1.0)[0](m))  # ‖∇ℓ̄(m)‖ of the full fit
    out = []
    for i in range(n_refits):
        keep = np.arange(N) != i
        grad, hess = oracle(name, X[keep], y[keep], 1.0)
        refit, _ = newton_minimize(grad, hess, m, tol=1e-12)
        norm = np.linalg.norm(X[keep], axis=1)
        # sup |f‴| on the segment [m, refit]: a constant (logistic), exp of the larger end's η (Poisson)
        f3 = LOGISTIC_F3 if name == "logistic" else np.exp(np.maximum(X[keep] @ m, X[keep] @ refit))
        lipschitz = np.sum(f3 * norm ** 3)           # of ∇²ℓ̄_{\i} on that segment, in the 2-norm
        inv = 1 / np.linalg.eigvalsh(hess(m))[0]     # ‖∇²ℓ̄_{\i}(m)⁻¹‖₂
        shift = np.linalg.norm(refit - m)
        bound = lipschitz / 2 * inv * shift ** 2 + 2 * inv * (residual + 1e-12)
        out.append((np.linalg.norm(means[i] - refit), bound, shift))
    return np.array(out).T


@pytest.mark.parametrize("name", ["logistic", "poisson"])
def test_one_site_approximation_is_one_newton_step(rng, name):
    """The cavity mean m + ∇²ℓ̄_{\\i}(m)⁻¹∇ℓ_i(m) is one Newton step on ℓ̄_{\\i} from the full solution m, so its
    distance to the refit m_{\\i} is at most (L/2)‖∇²ℓ̄_{\\i}(m)⁻¹‖‖m − m_{\\i}‖² (Newton's quadratic bound; L, the
    Lipschitz constant of ∇²ℓ̄_{\\i} on the segment, at most Σ_j sup|f‴| ‖x_j‖³), plus what the two solvers'
    stopping rules leave, 2‖∇²ℓ̄_{\\i}(m)⁻¹‖(‖∇ℓ̄(m)‖ + 1e-12). The shift is O(1/N), so the relative error is
    O(1/N): its median is smaller at N = 400 than at N = 50."""
    relative = []
    for N in (50, 400):
        err, bound, shift = _one_site_errors(name, N, rng)
        assert np.all(err <= bound), (N, (err / bound).max())
        relative.append(np.median(err / shift))
    assert relative[1] < relative[0]


@pytest.mark.parametrize("name", ["logistic", "poisson", "probit"])
def test_log_predictive_against_quad(rng, name):
    """log ∫ p(y_i | η) N(η; η_\\i, v_\\i) dη: Gauss–Hermite (logistic, Poisson) and the closed form
    Φ(sη/√(1+v)) (probit) against scipy.integrate.quad of SciPy's densities (QUADRATURE)."""
    X, y = glm_data(rng, name, 30, 2, scale=2.0)
    post = fit_glm(X, y, likelihood=name, prior_precision=0.5, tol=1e-12)
    loo = leave_one_out(local_parameters(X, y, post, likelihood=name, prior_precision=0.5), n_quadrature=128)
    pdf = {"logistic": lambda e, yy: stats.bernoulli.pmf(yy, 1 / (1 + np.exp(-e))),
           "poisson": lambda e, yy: stats.poisson.pmf(yy, np.exp(e)),
           "probit": lambda e, yy: stats.norm.cdf((2 * yy - 1) * e)}[name]
    for i in range(0, 30, 7):
        a, sd = loo.eta[i], np.sqrt(loo.variance[i])
        ref = integrate.quad(lambda e: pdf(e, y[i]) * stats.norm.pdf(e, a, sd), a - 30 * sd, a + 30 * sd,
                             epsabs=1e-14, limit=200)[0]
        assert abs(np.exp(loo.log_predictive[i]) - ref) <= QUADRATURE * max(ref, 1e-3)


def test_sites_required():
    with pytest.raises(TypeError, match="sites must be"):
        leave_one_out(np.zeros(3))
