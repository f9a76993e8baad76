"""The derive engine beyond the recipes: GLM losses, losses in θ's components, numeric step sizes,
non-Gaussian families by F(λ)⁻¹, non-constant base measures — each against a computation that shares
no code with the derivation (scikit-learn, a hand-written IRLS or loop, Gauss–Hermite quadrature,
finite differences of a quadrature, a normalised density on a grid)."""

import numpy as np
import pytest
import scipy.integrate
import scipy.special
import scipy.stats
import sympy as sp

from blrkit.classical.irls import irls
from blrkit.derive import (
    DerivationError,
    ExpressionLoss,
    derive,
    glm_loss,
    parse_expression,
)
from blrkit.families import ExponentialFamily, FAMILIES

from .tolerances import assert_close

#: Newton/IRLS iterates of a GLM in float64, after ≤ 30 steps of a well-conditioned problem: each step
#: is a solve with condition number ≲ 1e3, so iterates agree to ~1e-12; the scikit-learn fits stop at
#: their own tolerance (gtol 1e-12 / tol 1e-12 on the gradient), hence the looser bound for them.
GLM_ITERATES = 1e-9
SKLEARN = 1e-6
#: Gauss–Hermite with 40 nodes is exact for polynomials of degree ≤ 79: only rounding remains.
QUADRATURE = 1e-10
#: central finite differences with step 1e-5 of a quadrature accurate to ~1e-13: error ~h² + 1e-13/h
FINITE_DIFF = 1e-6


def glm_data(rng, kind, n=60, d=3, batch=()):
    X = rng.normal(size=batch + (n, d)) / np.sqrt(d)
    theta = rng.normal(size=batch + (d,))
    eta = (X @ theta[..., None])[..., 0]
    if kind == "logistic":
        y = np.where(rng.uniform(size=eta.shape) < scipy.special.expit(eta), 1.0, 0.0)  # labels in {0, 1}
    else:
        y = rng.poisson(np.exp(eta)).astype(float)
    return X, y


def blr_iterates(step, m0, S0, n_steps, **kw):
    m, S, path = m0, S0, [m0]
    for _ in range(n_steps):
        m, S = step(m=m, S=S, **kw)
        path.append(m)
    return np.array(path), S


# -- GLM losses: Newton (IRLS) and damped Newton -----------------------------------------------

@pytest.mark.parametrize("kind", ["logistic", "poisson"])
def test_glm_newton_equals_irls_and_sklearn(rng, kind):
    """ρ = 1: every iterate equals textbook IRLS (mean and variance functions only, no derivative of
    the loss); the fixed point equals scikit-learn's penalised fit."""
    from sklearn.linear_model import LogisticRegression, PoissonRegressor

    d = derive("multivariate-gaussian", glm_loss(kind), "isotropic", ["delta", "rho=1"])
    assert d.title == "Newton's method (IRLS for a GLM)"
    step = d.compile()
    X, y = glm_data(rng, kind)
    alpha = 0.7
    oracle = irls(X, y, alpha, kind, 12)  # the same labels y in {0, 1} as scikit-learn's
    m = np.zeros(3)
    for k in range(1, 13):
        m, S = step(m=m, alpha=alpha, X=X, y=y)
        assert_close(m, oracle[k], GLM_ITERATES, err_msg=f"iterate {k}")
    if kind == "logistic":  # sklearn: C Σ log-loss + ½|w|² = C (ℓ + α/2 |w|²) with C = 1/α
        ref = LogisticRegression(C=1 / alpha, fit_intercept=False, tol=1e-12, max_iter=10_000).fit(X, y).coef_[0]
    else:  # sklearn: (1/2N) Σ deviance + a/2 |w|² = (ℓ + const)/N + a/2 |w|², so a = α/N
        ref = PoissonRegressor(alpha=alpha / len(y), fit_intercept=False, tol=1e-12, max_iter=10_000,
                               solver="newton-cholesky").fit(X, y).coef_
    assert_close(m, ref, SKLEARN)
    # the precision at the fixed point is the Hessian of ℓ̄ there, written out by hand
    eta = X @ m
    w = scipy.special.expit(eta) * scipy.special.expit(-eta) if kind == "logistic" else np.exp(eta)
    assert_close(S, X.T @ (w[:, None] * X) + alpha * np.eye(3), GLM_ITERATES)


def test_damped_glm_newton_iterates_equal_a_hand_loop(rng):
    """ρ = 1/4 (numeric) and ρ symbolic: iterates of mean and precision equal a loop written here with
    the logistic derivatives typed by hand; the old-precision variant does not."""
    X, y = glm_data(rng, "logistic", batch=(2,))
    alpha, rho = np.array([0.5, 2.0]), 0.25
    numeric = derive("multivariate-gaussian", glm_loss("logistic"), "isotropic", ["delta", "rho=1/4"]).compile()
    generic = derive("multivariate-gaussian", glm_loss("logistic"), "isotropic", ["delta"]).compile()
    m, S = np.zeros((2, 3)), np.broadcast_to(np.eye(3), (2, 3, 3)) * 3.0
    mh, Sh = m.copy(), S.copy()
    for k in range(8):
        m1, S1 = numeric(m=m, S=S, alpha=alpha, X=X, y=y)
        m2, S2 = generic(m=m, S=S, rho=rho, alpha=alpha, X=X, y=y)
        # by hand: g = Σ (σ(η) − y) x + α m, H = Σ σ(η)σ(−η) x xᵀ + αI
        eta = np.einsum("bnd,bd->bn", X, mh)
        g = np.einsum("bnd,bn->bd", X, scipy.special.expit(eta) - y) + alpha[:, None] * mh
        H = np.einsum("bnd,bn,bne->bde", X, scipy.special.expit(eta) * scipy.special.expit(-eta), X) \
            + alpha[:, None, None] * np.eye(3)
        S_old = Sh
        Sh = (1 - rho) * Sh + rho * H
        wrong = mh - rho * np.linalg.solve(S_old, g[..., None])[..., 0]
        mh = mh - rho * np.linalg.solve(Sh, g[..., None])[..., 0]
        for got_m, got_S in ((m1, S1), (m2, S2)):
            assert_close(got_m, mh, GLM_ITERATES, err_msg=f"mean, iterate {k + 1}")
            assert_close(got_S, Sh, GLM_ITERATES, err_msg=f"precision, iterate {k + 1}")
        assert np.max(np.abs(wrong - mh)) > 1e3 * GLM_ITERATES  # the check can tell old from new precision
        m, S = m1, S1


def test_glm_derivatives_are_stable_where_the_sympy_text_overflows():
    """η = 800: exp(800) overflows, the emitted σ-form does not (and stays equal to the exact limit)."""
    step = derive("gaussian-fixed-covariance", glm_loss("logistic"), None, ["delta"]).compile()
    X, y = np.array([[800.0], [-800.0]]), np.array([0.0, 1.0])
    with np.errstate(all="raise"):
        m_new = step(m=np.array([1.0]), rho=0.5, X=X, y=y)
    # ∇ℓ = Σ (σ(η) − y)x = (1 − 0)(800) + (0 − 1)(−800): each term → |x| as σ(η) → 0 or 1: 800 + 800
    assert_close(m_new, [1.0 - 0.5 * 1600.0], 1e-12)


def test_probit_and_squared_glm_losses(rng):
    """Probit via log Φ (stable) and squared error (IRLS = ridge in one step) against hand formulas."""
    X, y = glm_data(rng, "logistic")
    step = derive("multivariate-gaussian", glm_loss("probit"), None, ["delta", "rho=1"]).compile()
    m = rng.normal(size=3) * 0.1
    m_new, S_new = step(m=m, X=X, y=y)
    s = 2 * y - 1  # f = −log Φ(sη) with labels y in {0, 1}
    z = s * (X @ m)
    r = scipy.stats.norm.pdf(z) / scipy.stats.norm.cdf(z)
    g = X.T @ (-s * r)
    H = X.T @ ((r * (z + r))[:, None] * X)
    assert_close(S_new, H, GLM_ITERATES)
    assert_close(m_new, m - np.linalg.solve(H, g), GLM_ITERATES)
    ridge = derive("multivariate-gaussian", glm_loss("squared"), "isotropic", ["delta", "rho=1"]).compile()
    m1, _ = ridge(m=rng.normal(size=3), alpha=0.3, X=X, y=y)
    assert_close(m1, np.linalg.solve(X.T @ X + 0.3 * np.eye(3), X.T @ y), GLM_ITERATES)


def test_glm_gauss_newton_minibatch_is_ogn(rng):
    """Diagonal Gaussian + delta + Gauss–Newton + minibatch: the N/M-scaled sum of squared per-example
    gradients, by hand, with M ≠ N."""
    d = derive("diagonal-gaussian", glm_loss("logistic"), None, ["delta", "gauss-newton", "stochastic"])
    assert d.title == "Online Gauss-Newton (OGN)"
    X, y = glm_data(rng, "logistic", n=7)
    m, s, rho, N = rng.normal(size=3), rng.uniform(1, 2, size=3), 0.3, 100
    m_new, s_new = d.compile()(m=m, s=s, rho=rho, X=X, y=y, n_data=N)
    grads = (scipy.special.expit(X @ m) - y)[:, None] * X  # (M, D) per-example gradients
    s_hand = (1 - rho) * s + rho * (N / 7) * np.sum(grads**2, axis=0)
    assert_close(s_new, s_hand, GLM_ITERATES)
    assert_close(m_new, m - rho * (N / 7) * grads.sum(0) / s_hand, GLM_ITERATES)


# -- losses in θ's components ------------------------------------------------------------------

def rosenbrock():
    t1, t2 = sp.symbols("theta_1 theta_2", real=True)
    return (1 - t1) ** 2 + 100 * (t2 - t1**2) ** 2


def test_component_loss_newton_is_rosenbrock_newton():
    step = derive("multivariate-gaussian", rosenbrock(), None, ["delta", "rho=1"]).compile()
    x = np.array([-1.2, 1.0])
    for _ in range(30):
        x, _ = step(m=x)
    assert_close(x, [1.0, 1.0], 1e-10)  # Newton reaches the minimum of Rosenbrock's function


@pytest.mark.parametrize("rho", ["rho=1/2", None])
def test_polynomial_loss_exact_gaussian_blr_equals_gauss_hermite(rho):
    """No approximation, 1-D quartic: E_q[ℓ'], E_q[ℓ''] in closed form vs Gauss–Hermite (40 nodes),
    on 15 iterates at ρ = 1/2."""
    th = sp.Symbol("theta", real=True)
    d = derive("multivariate-gaussian", th**4 - 2 * th**2 + th / 2, None, [rho] if rho else [])
    assert d.title == "Variational Newton" and "Monte Carlo" not in [s.label for s in d.steps]
    step = d.compile()
    x, w = np.polynomial.hermite_e.hermegauss(40)
    w = w / w.sum()
    m, S = np.array([1.5]), np.array([[2.0]])
    mh, Sh = 1.5, 2.0
    for k in range(15):
        m, S = step(m=m, S=S) if rho else step(m=m, S=S, rho=0.5)
        theta = mh + x / np.sqrt(Sh)
        Eg, EH = w @ (4 * theta**3 - 4 * theta + 0.5), w @ (12 * theta**2 - 4)
        Sh = 0.5 * Sh + 0.5 * EH
        mh = mh - 0.5 * Eg / Sh
        assert_close(m, [mh], QUADRATURE, err_msg=f"mean, iterate {k + 1}")
        assert_close(S, [[Sh]], QUADRATURE, err_msg=f"precision, iterate {k + 1}")


def test_polynomial_loss_in_two_dimensions_equals_gauss_hermite(rng):
    t1, t2 = sp.symbols("theta_1 theta_2", real=True)
    loss = t1**4 + t1 * t2**2 + (t2 - 1) ** 2 + t1 * t2
    step = derive("multivariate-gaussian", loss, None, ["rho=1/2"]).compile()
    m, S = np.array([0.5, -0.3]), np.array([[3.0, 0.4], [0.4, 2.0]])
    m_new, S_new = step(m=m, S=S)
    x, w = np.polynomial.hermite_e.hermegauss(20)
    L = np.linalg.cholesky(np.linalg.inv(S))  # θ = m + L z, z ~ N(0, I): a tensor grid
    Z = np.stack(np.meshgrid(x, x, indexing="ij"), -1).reshape(-1, 2)
    W = np.outer(w, w).ravel() / np.sum(w) ** 2
    T = m + Z @ L.T
    a, b = T[:, 0], T[:, 1]
    g = np.stack([4 * a**3 + b**2 + b, 2 * a * b + 2 * (b - 1) + a], -1)
    H = np.stack([np.stack([12 * a**2, 2 * b + 1], -1), np.stack([2 * b + 1, 2 * a + 2], -1)], -2)
    Eg, EH = W @ g, np.einsum("k,kij->ij", W, H)
    S_hand = 0.5 * S + 0.5 * EH
    assert_close(S_new, S_hand, QUADRATURE)
    assert_close(m_new, m - 0.5 * np.linalg.solve(S_hand, Eg), QUADRATURE)


def test_non_polynomial_component_loss_uses_monte_carlo(rng):
    """A loss with no closed-form Gaussian expectation: the emitted step averages derived gradients at
    reparameterised draws, equal to the same draws pushed through hand-written derivatives."""
    t1, t2 = sp.symbols("theta_1 theta_2", real=True)
    d = derive("diagonal-gaussian", sp.cos(t1) + t1**2 * sp.exp(t2 / 3), None, ["rho=1/2"])
    assert "Monte Carlo" in [s.label for s in d.steps]
    m, s = np.array([0.3, -0.2]), np.array([2.0, 3.0])
    m_new, s_new = d.compile()(m=m, s=s, n_samples=50_000, rng=np.random.default_rng(1))
    theta = m + np.random.default_rng(1).standard_normal((50_000, 2)) / np.sqrt(s)
    a, b = theta[:, 0], theta[:, 1]
    g = np.stack([-np.sin(a) + 2 * a * np.exp(b / 3), a**2 * np.exp(b / 3) / 3], -1).mean(0)
    h = np.stack([-np.cos(a) + 2 * np.exp(b / 3), a**2 * np.exp(b / 3) / 9], -1).mean(0)
    s_hand = 0.5 * s + 0.5 * h
    assert_close(s_new, s_hand, 1e-12)
    assert_close(m_new, m - 0.5 * g / s_hand, 1e-12)


# -- non-Gaussian families: natural gradient by F(λ)⁻¹, checked by quadrature + finite differences --

def numeric_natural_gradient(loss, pdf, mean_map, lam, lower, upper):
    """∇_μ E_q[ℓ] = (∂μ/∂λ)⁻¹ ∇_λ E_q[ℓ], both Jacobians by central differences of quadratures."""
    def E(l):
        return scipy.integrate.quad(lambda t: loss(t) * pdf(t, l), lower, upper, epsabs=1e-14, epsrel=1e-13,
                                    limit=200)[0]
    h = 1e-5
    eye = np.eye(len(lam))
    grad = np.array([(E(lam + h * e) - E(lam - h * e)) / (2 * h) for e in eye])
    F = np.stack([(mean_map(lam + h * e) - mean_map(lam - h * e)) / (2 * h) for e in eye], 1)
    return np.linalg.solve(F, grad)


def test_non_conjugate_gamma_iterates():
    """ℓ = θ² − 3 log θ + 2θ under a Gamma (θ² is not a statistic): 4 BLR steps at ρ = 1/2 vs the
    natural gradient from quadrature and finite differences; the same for a symbolic ρ."""
    th = FAMILIES["gamma"]().theta[0]
    d = derive("gamma", th**2 - 3 * sp.log(th) + 2 * th, None, ["rho=1/2"])
    assert d.title == "Non-conjugate BLR (Gamma)"
    step = d.compile()
    loss = lambda t: t**2 - 3 * np.log(t) + 2 * t  # noqa: E731
    pdf = lambda t, l: scipy.stats.gamma.pdf(t, l[0] + 1, scale=-1 / l[1])  # noqa: E731
    mean_map = lambda l: np.array([scipy.special.digamma(l[0] + 1) - np.log(-l[1]), (l[0] + 1) / -l[1]])  # noqa
    a, b, a0, b0 = 2.5, 1.5, 2.0, 1.0
    lam, lam0 = np.array([a - 1, -b]), np.array([a0 - 1, -b0])
    for k in range(4):
        a, b = step(alpha=a, beta=b, alpha_0=a0, beta_0=b0)
        lam = 0.5 * lam + 0.5 * (lam0 - numeric_natural_gradient(loss, pdf, mean_map, lam, 0, np.inf))
        assert_close([a, b], [lam[0] + 1, -lam[1]], FINITE_DIFF, err_msg=f"iterate {k + 1}")
    generic = derive("gamma", th**2 - 3 * sp.log(th) + 2 * th).compile()
    assert_close(generic(alpha=2.5, beta=1.5, rho=0.5, alpha_0=a0, beta_0=b0),
                 step(alpha=2.5, beta=1.5, alpha_0=a0, beta_0=b0), 1e-12)


def test_non_conjugate_beta_step():
    """ℓ = (θ − 0.3)² under a Beta (not linear in T(θ) = (log θ, log(1 − θ)): E[θ] and E[θ²] come through
    e^{A(λ + c) − A(λ)} and the Fisher solve), ρ = 1/4, no prior: vs quadrature + finite differences.  (Adding
    θ⁻¹ takes the same path: 1.6 s of CPU, since conjugate cancels over one denominator; it took 25 s.)"""
    th = FAMILIES["beta"]().theta[0]
    d = derive("beta", (th - sp.Rational(3, 10)) ** 2, "none", ["rho=1/4"])
    a_new, b_new = d.compile()(alpha=3.0, beta=4.0)
    loss = lambda t: (t - 0.3) ** 2  # noqa: E731
    pdf = lambda t, l: scipy.stats.beta.pdf(t, l[0] + 1, l[1] + 1)  # noqa: E731
    def mean_map(l):
        a, b = l + 1
        return np.array([scipy.special.digamma(a) - scipy.special.digamma(a + b),
                         scipy.special.digamma(b) - scipy.special.digamma(a + b)])
    lam = np.array([2.0, 3.0])  # Beta's λ = (α − 1, β − 1)
    assert np.allclose(FAMILIES["beta"]().to_natural(alpha=3.0, beta=4.0), lam)
    new = 0.75 * lam - 0.25 * numeric_natural_gradient(loss, pdf, mean_map, lam, 0, 1)
    assert_close([a_new, b_new], new + 1, FINITE_DIFF)


def test_bernoulli_by_enumeration():
    """Any loss of a binary θ is f(0) + (f(1) − f(0))θ: ρ = 1 gives λ = λ₀ − (f(1) − f(0)), Bayes' rule."""
    th = FAMILIES["bernoulli"]().theta[0]
    d = derive("bernoulli", sp.exp(2 * th) - 3 * th**2, None, ["rho=1"])
    p_new = d.compile()(p_0=0.3)
    # Bayes on {0, 1}: q(θ) ∝ p₀^θ(1 − p₀)^{1−θ} exp(−ℓ(θ))
    w1, w0 = 0.3 * np.exp(-(np.exp(2) - 3)), 0.7 * np.exp(-1.0)
    assert_close(p_new, w1 / (w0 + w1), 1e-12)


# -- non-constant base measures ------------------------------------------------------------------

def inverse_gaussian():
    x = sp.Symbol("x", positive=True)
    e1, e2 = sp.symbols("eta1 eta2", negative=True)
    log_q = (-sp.log(2 * sp.pi * x**3) / 2 + e1 * x + e2 / x + 2 * sp.sqrt(e1 * e2) + sp.log(-2 * e2) / 2)
    return ExponentialFamily.from_log_density("inverse Gaussian", (x,), log_q, (e1, e2),
                                              support=(("positive", 1),)), x


def log_normal():
    x = sp.Symbol("x", positive=True)
    e1, e2 = sp.Symbol("eta1", real=True), sp.Symbol("eta2", negative=True)
    log_q = (-sp.log(x) - sp.log(2 * sp.pi) / 2 + e1 * sp.log(x) + e2 * sp.log(x) ** 2
             + e1**2 / (4 * e2) + sp.log(-2 * e2) / 2)
    return ExponentialFamily.from_log_density("log-normal", (x,), log_q, (e1, e2),
                                              support=(("positive", 1),)), x


@pytest.mark.parametrize("make", [inverse_gaussian, log_normal])
def test_base_measure_fixed_point_is_the_exact_posterior(make):
    """No prior, ρ = 1: the BLR's fixed point is exp(−ℓ)/Z, normalised by quadrature — E[T(θ)] of both
    agree. The entropy's log h enters the update (it does not cancel without a prior)."""
    fam, x = make()
    if fam.name == "inverse Gaussian":
        loss = 2 * x + 3 / x + sp.Rational(3, 2) * sp.log(x)
        ell = lambda t: 2 * t + 3 / t + 1.5 * np.log(t)  # noqa: E731
        stats = lambda t: np.array([t, 1 / t])  # noqa: E731
    else:
        loss = -sp.Rational(1, 2) * sp.log(x) + sp.log(x) ** 2 + sp.log(x)
        ell = lambda t: 0.5 * np.log(t) + np.log(t) ** 2  # noqa: E731
        stats = lambda t: np.array([np.log(t), np.log(t) ** 2])  # noqa: E731
    d = derive(fam, loss, "none", ["rho=1"])
    lam = np.array(d.compile()(), dtype=float)
    Z = scipy.integrate.quad(lambda t: np.exp(-ell(t)), 0, np.inf, epsabs=1e-14, limit=200)[0]
    exact = np.array([scipy.integrate.quad(lambda t: stats(t)[k] * np.exp(-ell(t)) / Z, 0, np.inf,
                                           epsabs=1e-14, limit=200)[0] for k in range(2)])
    assert_close(fam.to_expectation(lam), exact, 1e-8)


# -- errors ------------------------------------------------------------------------------------

@pytest.mark.parametrize("family, loss, approx, says", [
    ("multivariate-gaussian", "1/theta", [], r"E_q\[1/theta\] does not exist.*'delta'"),
    ("multivariate-gaussian", "log(theta_1) + theta_2", [], "does not exist"),
    ("multivariate-gaussian", "abs(theta)", ["delta"], "not twice differentiable"),
    ("multivariate-gaussian", "theta_1 + theta_0", [], "not a component"),
])
def test_bad_losses_name_the_term(family, loss, approx, says):
    names = {n: sp.Symbol(n, real=True) for n in ("theta", "theta_0", "theta_1", "theta_2")}
    with pytest.raises(DerivationError, match=says):
        derive(family, parse_expression(loss, names), None, approx)


def test_loss_in_a_foreign_symbol_is_refused():
    with pytest.raises(DerivationError, match="not the gamma family's θ"):
        derive("gamma", sp.Symbol("z") ** 2)


def test_unknown_family_lists_the_known_ones():
    with pytest.raises(DerivationError, match="unknown family 'nope'; known: .*multivariate-gaussian"):
        derive("nope")


def test_one_approximation_as_a_string_and_defaults():
    assert derive("gaussian-fixed-covariance", approximations="delta").title == "Gradient descent"
    assert derive("gamma", approximations="rho=1").title == "Conjugate Bayes (Gamma–Poisson)"


def test_order_that_changes_the_meaning_is_refused():
    with pytest.raises(DerivationError, match="gauss-newton first"):
        derive("diagonal-gaussian", approximations=["delta", "stochastic", "gauss-newton"])


def test_kalman_gain_form_is_verified_against_the_derived_update():
    """A wrong gain form (Joseph without K R Kᵀ) is caught by the derive-time check."""
    from sympy import Identity, MatrixSymbol

    from blrkit.derive import RECIPES
    from blrkit.derive.gaussian import _verify_gain_form
    from blrkit.derive.losses import D

    d = RECIPES["kalman_update"].derive()
    update = [(e.lhs, e.rhs) for e in d.update]
    S_rhs = -2 * d.natural_update[1].rhs
    lam1 = d.natural_update[0].rhs
    K, H, P = MatrixSymbol("K", D, update[2][0].shape[1]), update[1][1].args[0].args[0], MatrixSymbol("P_pred", D, D)
    plain = (Identity(D) - K * H) * P
    _verify_gain_form(update, S_rhs, lam1, plain)  # the real one passes
    bad = update[:-1] + [(update[-1][0], (Identity(D) - K * H) * P * (Identity(D) - K * H).T)]
    with pytest.raises(AssertionError, match="does not follow"):
        _verify_gain_form(bad, S_rhs, lam1, plain)
    assert isinstance(RECIPES["kalman_update"].problem()[0], ExpressionLoss)


# -- every registered family, and the engine's examples ---------------------------------------------

@pytest.mark.parametrize("key", list(FAMILIES))
def test_every_family_derives_or_says_why_not(key):
    """``derive --list`` promises an example loss per family (or a reason): the example derives."""
    from blrkit.derive.blr import GAUSSIAN_KINDS
    from blrkit.derive.known import DERIVABLE

    example, why = DERIVABLE[key]
    if example is None:
        with pytest.raises(DerivationError, match="does not derive yet"):
            derive(key)
        return
    loss = None if example in ("oracle", "conjugate") else parse_expression(
        example, {s.name: s for s in FAMILIES[key]().theta})
    approx = {"gaussian-mixture": ["responsibility", "delta"]}.get(key, ["delta"] if key in GAUSSIAN_KINDS
                                                                   else ["rho=1/2"])
    d = derive(key, loss, None, approx)
    d.compile()  # the emitted module runs through Python's compiler
    assert why


@pytest.mark.parametrize("key", ["categorical+gaussian", "dirichlet+categorical"])
def test_every_composite_candidate_derives_and_refuses_other_approximations(key):
    from blrkit.derive.known import COMPOSITE, DERIVABLE

    assert DERIVABLE[key][0] == "model"
    derive(key, approximations=list(COMPOSITE[key])).compile()
    with pytest.raises(DerivationError, match="rho=1"):
        derive(key, approximations=["rho=1"])
    with pytest.raises(DerivationError, match="give no loss"):
        derive(key, "quadratic", approximations=list(COMPOSITE[key]))


@pytest.mark.parametrize("name", sorted(__import__("blrkit.derive.examples", fromlist=["EXAMPLES"]).EXAMPLES))
def test_examples_render_and_compile(name):
    """Every equation of the example parses and lays out with matplotlib's mathtext (its vector back end, as
    tests/derive/test_printing.py: the PNG renderer's parse and layout without the rasterising, 16.9 -> 4 s
    CPU for the eight examples), each distinct one once; the emitted module compiles."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.mathtext

    from blrkit.derive.examples import EXAMPLES

    d = EXAMPLES[name]()
    parser = matplotlib.mathtext.MathTextParser("path")
    for tex in dict.fromkeys(d.equations_latex()):
        parser.parse(f"${tex}$")
    compile(d.emit(), "<emitted>", "exec")


# -- score-function Monte Carlo where no exact rule applies ------------------------------------------

def test_score_function_monte_carlo_gamma():
    """ℓ = sin θ + θ² under a Gamma: the sin part has no closed form. (1) With the same draws, the emitted
    step equals the score-function estimator with its leave-one-out control variate written here
    (digamma/trigamma typed by hand); (2) with 200,000 draws it agrees with the quadrature +
    finite-difference natural gradient within 5 standard errors of the estimate."""
    th = FAMILIES["gamma"]().theta[0]
    d = derive("gamma", sp.sin(th) + th**2, None, ["rho=1/2"])
    assert "Monte Carlo" in [s.label for s in d.steps]
    step = d.compile()
    a, b, a0, b0, n = 3.0, 2.0, 1.5, 1.0, 200_000
    got = np.array(step(alpha=a, beta=b, alpha_0=a0, beta_0=b0, n_samples=n, rng=np.random.default_rng(5)))
    theta = np.random.default_rng(5).gamma(a, 1 / b, size=n)
    T = np.stack([np.log(theta), theta], -1)
    mu = np.array([scipy.special.digamma(a) - np.log(b), a / b])
    F = np.array([[scipy.special.polygamma(1, a), 1 / b], [1 / b, a / b**2]])
    f = np.sin(theta)
    baseline = (f.sum() - f) / (n - 1)  # each draw's control variate: the mean of f over the others
    contrib = np.linalg.solve(F, ((f - baseline)[:, None] * (T - mu)).T).T  # per-draw ∇_μ estimates
    dmu_sin = contrib.mean(0)
    # E[θ²] = α(α+1)/β² in λ = (α − 1, −β): its natural gradient F⁻¹∇_λ, differentiated here by hand
    grad_sq = np.array([(2 * a + 1) / b**2, 2 * a * (a + 1) / b**3])  # ∂/∂λ₁, ∂/∂λ₂ of (λ₁+1)(λ₁+2)/λ₂²
    dmu = dmu_sin + np.linalg.solve(F, grad_sq)
    lam, lam0 = np.array([a - 1, -b]), np.array([a0 - 1, -b0])
    new = 0.5 * lam + 0.5 * (lam0 - dmu)
    assert_close(got, [new[0] + 1, -new[1]], 1e-10)
    # statistically, against quadrature (no shared random numbers, no score function)
    pdf = lambda t, l: scipy.stats.gamma.pdf(t, l[0] + 1, scale=-1 / l[1])  # noqa: E731
    mean_map = lambda l: np.array([scipy.special.digamma(l[0] + 1) - np.log(-l[1]), (l[0] + 1) / -l[1]])  # noqa
    exact = numeric_natural_gradient(lambda t: np.sin(t) + t**2, pdf, mean_map, lam, 0, np.inf)
    se = contrib.std(0) / np.sqrt(n)
    assert np.all(np.abs(dmu - exact) < 5 * se + FINITE_DIFF), (dmu, exact, se)


def test_score_function_control_variate_is_unbiased_and_cuts_the_variance():
    """ℓ = log(1 + θ) under a Gamma (no closed form), K = 4 draws, a batch of 4,000 independent estimates in one
    call. (1) Their mean is within 5 standard errors of the quadrature natural gradient: the leave-one-out
    baseline keeps the estimate unbiased at small K (a baseline that includes the draw itself, f̄ over all K,
    is off by (1 − 1/K) = 25% of the gradient here). (2) The update's variance is below 0.7 of the plain
    score-function estimator's, written here from the same draws (measured: 0.48 for α and 0.30 for β, and
    0.48–0.51, 0.30–0.33 at K = 16 and 64; 0.7 leaves room for the ±5% sampling error of a variance from 4,000
    estimates; without the control variate the ratio is 1)."""
    th = FAMILIES["gamma"]().theta[0]
    d = derive("gamma", sp.log(1 + th), None, ["rho=1/2"])
    step = d.compile()
    a, b, a0, b0, K, R = 3.0, 2.0, 1.5, 1.0, 4, 4_000
    alpha, beta = np.full(R, a), np.full(R, b)
    got = np.stack(step(alpha=alpha, beta=beta, alpha_0=a0, beta_0=b0, n_samples=K, rng=np.random.default_rng(9)), -1)
    theta = np.random.default_rng(9).gamma(alpha, 1 / beta, size=(K, R))  # the step's draws: (K, batch)
    T = np.stack([np.log(theta), theta], -1)
    mu = np.array([scipy.special.digamma(a) - np.log(b), a / b])
    F = np.array([[scipy.special.polygamma(1, a), 1 / b], [1 / b, a / b**2]])
    plain = np.linalg.solve(F, (np.log1p(theta)[..., None] * (T - mu)).mean(0).T).T  # (R, 2) plain ∇_μ estimates
    lam, lam0 = np.array([a - 1, -b]), np.array([a0 - 1, -b0])
    to_update = lambda dmu: np.stack([0.5 * lam[0] + 0.5 * (lam0[0] - dmu[:, 0]) + 1,  # noqa: E731
                                      -(0.5 * lam[1] + 0.5 * (lam0[1] - dmu[:, 1]))], -1)
    pdf = lambda t, l: scipy.stats.gamma.pdf(t, l[0] + 1, scale=-1 / l[1])  # noqa: E731
    mean_map = lambda l: np.array([scipy.special.digamma(l[0] + 1) - np.log(-l[1]), (l[0] + 1) / -l[1]])  # noqa
    exact = to_update(numeric_natural_gradient(np.log1p, pdf, mean_map, lam, 0, np.inf)[None])[0]
    se = got.std(0) / np.sqrt(R)
    assert np.all(np.abs(got.mean(0) - exact) < 5 * se + FINITE_DIFF), (got.mean(0), exact, se)
    ratio = got.var(0) / to_update(plain).var(0)
    assert np.all(ratio < 0.7), ratio


def test_no_sampler_no_closed_form_is_integrated_by_quadrature():
    """One continuous component and no sampler: quadrature (refused before issue 23; its numbers are checked
    against scipy.integrate.quad in test_quadrature.py)."""
    fam, x = inverse_gaussian()
    d = derive(fam, sp.sin(x), None, ["rho=1/2"])
    assert "Quadrature" in [s.label for s in d.steps] and "rng" not in [a.name for a in d.arguments]


# -- the improved BLR (Lin, Schmidt & Khan 2020) ---------------------------------------------------

def double_well():
    """ℓ(θ) = θ⁴ − 2θ² + θ/2 (the Hessian 12θ² − 4 is negative near 0): ∇ℓ and ∇²ℓ on θ of shape (..., 1)."""
    return (lambda t: 4 * t**3 - 4 * t + 0.5), (lambda t: (12 * t**2 - 4)[..., None])


def test_improved_blr_stays_positive_definite_where_the_plain_rule_fails():
    """Same draws for both rules (ρ = 0.9, one sample, start near the hump): the plain BLR's precision
    turns negative; the improved rule's (emitted) equals the hand-written retraction form step by step
    and stays positive for 10,000 steps."""
    from blrkit.classical.variational_newton import variational_newton as classical_vn

    grad, hess = double_well()
    eps = np.random.default_rng(3).standard_normal((200, 1, 1))
    plain_S, m, S = [10.0], 0.0, 10.0
    for e in eps[:, 0, 0]:  # the plain rule, by hand, until it leaves the cone
        th = m + e / np.sqrt(S)
        S = 0.1 * S + 0.9 * (12 * th**2 - 4)
        plain_S.append(S)
        if S <= 0:
            break
        m = m - 0.9 * (4 * th**3 - 4 * th + 0.5) / S
    assert min(plain_S) < 0, "the plain rule should leave the positive-definite cone here"
    xs, Ss = classical_vn(grad, hess, [0.0], [[10.0]], 0.9, eps, rule="improved")
    step = derive("multivariate-gaussian", rule="improved").compile()
    m, S, rng = np.array([0.0]), np.array([[10.0]]), np.random.default_rng(3)
    for t in range(200):
        m, S = step(m=m, S=S, rho=0.9, grad=grad, hess=hess, n_samples=1, rng=rng)
        assert_close(S, Ss[t + 1], 1e-10, err_msg=f"precision, step {t + 1}")
        assert_close(m, xs[t + 1], 1e-10, err_msg=f"mean, step {t + 1}")
    lowest = S[0, 0]
    for _ in range(9_800):
        m, S = step(m=m, S=S, rho=0.9, grad=grad, hess=hess, n_samples=1, rng=rng)
        lowest = min(lowest, S[0, 0])
    assert lowest > 0, f"improved rule left the cone: min precision {lowest}"


def test_improved_blr_converges_to_exact_gaussian_vi():
    """ρ = 0.02, 16 samples, 10,000 steps: the average of the last 5,000 iterates equals the exact
    Gaussian-VI fixed point reached from the same start (Gauss–Hermite, 60 nodes, iterated by hand;
    the double well has several) within 5 batch-means standard errors. (A noisy Hessian biases the
    stationary precision by O(ρ): measured +0.12 at ρ = 0.05, +0.02–0.08 at ρ = 0.02, hence the small ρ.)"""
    grad, hess = double_well()
    step = derive("multivariate-gaussian", rule="improved").compile()
    m, S, rng = np.array([-1.0]), np.array([[6.0]]), np.random.default_rng(11)
    path = np.empty((10_000, 2))
    for t in range(10_000):
        m, S = step(m=m, S=S, rho=0.02, grad=grad, hess=hess, n_samples=16, rng=rng)
        path[t] = m[0], S[0, 0]
    tail = path[5_000:]
    batches = tail.reshape(10, 500, 2).mean(1)
    se = batches.std(0, ddof=1) / np.sqrt(10)
    x, w = np.polynomial.hermite_e.hermegauss(60)
    w = w / w.sum()
    mh, Sh = -1.0, 6.0  # the same start, in the deeper (left) well: VI has a stationary point there
    for _ in range(2_000):  # exact expectations, small steps: the fixed point of Gaussian VI
        th = mh + x / np.sqrt(Sh)
        Sh = 0.9 * Sh + 0.1 * (w @ (12 * th**2 - 4))
        mh = mh - 0.1 * (w @ grad(th)) / Sh
    assert np.all(np.abs(tail.mean(0) - [mh, Sh]) < 5 * se), (tail.mean(0), (mh, Sh), se)


# -- IVON: Stein's Hessian and the rewrites of the mean loss --------------------------------------

_IVON = ["reparam-hessian", "stochastic", "hessian-scale"]


@pytest.mark.parametrize("rule", ["blr", "improved"])
def test_reparam_hessian_step_equals_the_formula_by_hand(rng, rule):
    """The step derived with Stein's Hessian and the mean-loss variables, compiled, against the formula
    written here from Shen et al. (2024, Alg. 1) without momentum: ρ = 0.3, K = 3 draws, δ = 0.05."""
    step = derive("diagonal-gaussian", None, "isotropic", _IVON, rule=rule).compile()
    A = np.array([2.0, 0.5, 1.0])
    m, h, N, rho, delta = rng.normal(size=3), np.array([1.0, 0.2, 3.0]), 7, 0.3, 0.05
    grad_mean = lambda th: A * th - 1.0  # noqa: E731 -- the minibatch mean gradient of a quadratic
    m_new, h_new = step(m, h, rho, delta, grad_mean, N, 3, np.random.default_rng(5))
    eps = np.random.default_rng(5).standard_normal((3, 3))
    s = N * (h + delta)  # q's precision
    theta = m + eps / np.sqrt(s)
    g = grad_mean(theta)
    h_hat = s * np.mean(g * (theta - m), axis=0)
    expected_h = (1 - rho) * h + rho * h_hat + (rho**2 / 2 * (h - h_hat) ** 2 / (h + delta) if rule == "improved" else 0)
    np.testing.assert_allclose(h_new, expected_h, rtol=1e-13)
    np.testing.assert_allclose(m_new, m - rho * (g.mean(0) + delta * m) / (expected_h + delta), rtol=1e-13)


def test_ivon_rewrites_need_their_approximations():
    with pytest.raises(DerivationError, match="'hessian-scale' requires the expected gradient-deviation product .*, "
                                              "which no earlier approximation produces: give 'reparam-hessian'"):
        derive("diagonal-gaussian", None, "isotropic", ["gauss-newton", "stochastic", "hessian-scale"])
    with pytest.raises(DerivationError, match="reparam-hessian first"):
        derive("diagonal-gaussian", None, "isotropic", ["stochastic", "reparam-hessian"])
    with pytest.raises(DerivationError, match="does not apply to the multivariate-gaussian"):
        derive("multivariate-gaussian", None, None, ["reparam-hessian"])


def test_damped_kalman_measurement_step_against_numpy():
    """The linear-Gaussian (Kalman measurement) loss without ρ = 1: the start does not drop out, so the update
    stays in the information form (the gain form rewrites only the exact posterior; asking for it here used to
    raise a KeyError). Checked against the BLR step written out in NumPy: S' = (1−ρ)S + ρ(P̄⁻¹ + HᵀR⁻¹H),
    m' = m − ρ S'⁻¹ ∇ℓ̄(m), ∇ℓ̄(m) = P̄⁻¹(m − m̄) − HᵀR⁻¹(y − d − Hm); and at ρ = 1 against the textbook posterior.
    Wrong variants: the old precision in the mean update (S for S') moves m' by 0.48, a flipped sign by 1.6."""
    from blrkit.derive.losses import linear_gaussian_loss

    loss, prior = linear_gaussian_loss()
    step = derive("multivariate-gaussian", loss, prior, ()).compile()
    rng = np.random.default_rng(4)
    D, O, rho = 3, 2, 0.3
    A = rng.standard_normal((D, D))
    S, P_pred = A @ A.T + np.eye(D), np.eye(D) + 0.3 * np.ones((D, D))
    H, R = rng.standard_normal((O, D)), np.diag([0.5, 2.0])
    m, m_pred, y, d = (rng.standard_normal(k) for k in (D, D, O, O))
    m_new, S_new = step(m, S, np.array(rho), m_pred, P_pred, y, H, R, d)
    info = np.linalg.solve(P_pred, np.eye(D)) + H.T @ np.linalg.solve(R, H)
    expected_S = (1 - rho) * S + rho * info
    grad = np.linalg.solve(P_pred, m - m_pred) - H.T @ np.linalg.solve(R, y - d - H @ m)
    np.testing.assert_allclose(S_new, expected_S, rtol=1e-12)
    np.testing.assert_allclose(m_new, m - rho * np.linalg.solve(expected_S, grad), rtol=1e-10)
    m1, S1 = step(m, S, np.array(1.0), m_pred, P_pred, y, H, R, d)
    np.testing.assert_allclose(S1, info, rtol=1e-12)
    np.testing.assert_allclose(m1, np.linalg.solve(info, np.linalg.solve(P_pred, m_pred)
                                                   + H.T @ np.linalg.solve(R, y - d)), rtol=1e-10)


def test_a_loss_in_pi_emits_code_that_runs_and_agrees_with_the_closed_form():
    """ℓ = e^θ e^{θ/π} under a Gamma candidate, ρ = 1/2 (found by the derive fuzz: the emitted code read
    ``xp.(1/pi)``, a SyntaxError). Checked against the BLR step computed here from the closed form
    E_q[e^{cθ}] = (β/(β − c))^α (c = 1 + 1/π, β > c): ∇_μ by the chain rule through μ = (ψ(α) − log β, α/β),
    then λ ← (1 − ρ)λ + ρ(λ₀ − ∇_μ E_q[ℓ]) with λ = (α − 1, −β). A sign flipped on the gradient misses by > 1."""
    theta = sp.Symbol("theta", positive=True)
    step = derive("gamma", sp.exp(theta) * sp.exp(theta / sp.pi), None, ["rho=1/2"]).compile()
    c, rho, (a, b, a0, b0) = 1 + 1 / np.pi, 0.5, (3.0, 4.0, 2.0, 1.5)
    dE = np.array([np.log(b / (b - c)), -a * c / (b * (b - c))]) * (b / (b - c)) ** a   # ∂E/∂(α, β)
    dmu = np.array([[scipy.special.polygamma(1, a), -1 / b], [1 / b, -a / b**2]])       # ∂μ/∂(α, β), rows μ
    grad_mu = np.linalg.solve(dmu.T, dE)
    lam = (1 - rho) * np.array([a - 1, -b]) + rho * (np.array([a0 - 1, -b0]) - grad_mu)
    np.testing.assert_allclose(step(np.array(a), np.array(b), np.array(a0), np.array(b0)), (lam[0] + 1, -lam[1]),
                               rtol=1e-10)
