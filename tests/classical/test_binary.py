"""The hand-written binary-weight oracles (blrkit.classical.binary) against brute force on P = 3: explicit loops
over the 8 weight vectors, scipy's minimiser of the objective, closed forms, and 1-D quadrature of the relaxed
estimator's mean.  Tolerances in tests/algorithms/tolerances.py, or stated where used."""

import itertools

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.optimize import minimize

from algorithms.tolerances import CLOSED_FORM, ITERATIVE, assert_close
from blrkit.classical.binary import (bayesbinn, bernoulli_blr, expected_loss, kl_bernoulli, mean_field_vi,
                                     natural_gradient, objective, relaxed_natural_gradient, ste)


class Toy:
    """Binary-weight linear regression, P = 3: ℓ(w) = ‖y − Xw‖²/(2σ²) = ½wᵀAw + bᵀw + c, N = 8, σ² = 4."""

    def __init__(self):
        rng = np.random.default_rng(0)
        self.X = rng.standard_normal((8, 3))
        self.y = self.X @ np.array([1.0, -1.0, 1.0]) + 0.8 * rng.standard_normal(8)
        self.A, self.b = self.X.T @ self.X / 4, -self.X.T @ self.y / 4

    def loss(self, W):
        return 0.5 * ((self.y - np.asarray(W) @ self.X.T) ** 2).sum(-1) / 4

    def grad(self, w):
        return self.A @ w + self.b


TOY = Toy()
LAM0 = np.array([0.0, 0.2, -0.1])  # a prior that is not flat


def brute_expected_loss(mu):
    """Σ_w Π_j q(w_j) ℓ(w), one vector at a time."""
    total = 0.0
    for w in itertools.product((-1, 1), repeat=3):
        prob = 1.0
        for j in range(3):
            prob *= (1 + mu[j]) / 2 if w[j] == 1 else (1 - mu[j]) / 2
        total += prob * float(TOY.loss(np.array(w, float)))
    return total


def brute_objective(lam):
    p = 1 / (1 + np.exp(-2 * lam))  # q(w_j = +1)
    p0 = 1 / (1 + np.exp(-2 * LAM0))
    kl = np.sum(p * np.log(p / p0) + (1 - p) * np.log((1 - p) / (1 - p0)))
    return brute_expected_loss(np.tanh(lam)) + kl


def test_expected_loss_and_kl_match_brute_force():
    lam = np.array([0.3, -0.5, 0.8])
    assert_close(expected_loss(TOY.loss, np.tanh(lam)), brute_expected_loss(np.tanh(lam)), CLOSED_FORM)
    assert_close(objective(TOY.loss, lam, LAM0), brute_objective(lam), CLOSED_FORM)


def test_natural_gradient_is_the_derivative_of_the_expected_loss():
    """E_q[ℓ] is multilinear in μ, so a central difference in μ_j is exact up to rounding (step 0.1; CLOSED_FORM
    judged on the size of the gradient)."""
    mu, h = np.tanh(np.array([0.3, -0.5, 0.8])), 0.1
    fd = [(brute_expected_loss(mu + h * e) - brute_expected_loss(mu - h * e)) / (2 * h) for e in np.eye(3)]
    assert_close(natural_gradient(TOY.loss, mu), fd, CLOSED_FORM)


def test_coordinate_ascent_finds_scipys_minimum_of_the_objective():
    """Coordinate ascent (no BLR) against BFGS on the brute-force objective over λ ∈ ℝ³ (ITERATIVE: BFGS at
    gtol 1e-9); the optimum is the BLR's fixed point λ = λ₀ − ∇_μ E_q[ℓ] (CLOSED_FORM)."""
    lam = mean_field_vi(TOY.loss, LAM0)
    ref = minimize(brute_objective, np.zeros(3), method="BFGS", options={"gtol": 1e-9}).x
    assert_close(lam, ref, ITERATIVE)
    assert_close(lam, LAM0 - natural_gradient(TOY.loss, np.tanh(lam)), CLOSED_FORM)


def test_the_exact_gradient_blr_converges_to_the_coordinate_ascent_optimum():
    """ρ = 0.5, 200 steps from λ = 0: the contraction reaches the optimum to rounding (CLOSED_FORM)."""
    path = bernoulli_blr(TOY.loss, np.zeros(3), LAM0, rho=0.5, n_steps=200)
    assert_close(path[-1], mean_field_vi(TOY.loss, LAM0), CLOSED_FORM)


def test_ste_on_a_linear_loss_is_a_closed_form():
    """ℓ(w) = cᵀw has a constant gradient, so w_r,t = w_r,0 − tηc exactly; clipping stops it at ±1; sign(0) = +1
    is used at the forward pass (deterministic: two runs are equal bit for bit)."""
    c, w0 = np.array([0.3, -0.2, 0.0]), np.array([0.1, 0.0, -0.4])
    path = ste(lambda w: c, w0, lr=0.5, n_steps=10)
    assert_close(path, w0 + np.arange(11)[:, None] * -0.5 * c, CLOSED_FORM)
    assert np.array_equal(path, ste(lambda w: c, w0, lr=0.5, n_steps=10))
    clipped = ste(lambda w: c, w0, lr=0.5, n_steps=12, clip=True)
    assert clipped[-1].tolist() == [-1.0, 1.0, -0.4]


def test_ste_passes_the_gradient_at_the_sign_straight_through():
    """On the least-squares toy, each step moves the latent weights by −η∇ℓ(sign w_r), written out here."""
    w = np.array([0.2, 0.05, -0.3])
    path = ste(TOY.grad, w, lr=0.01, n_steps=5)
    for t in range(5):
        w = w - 0.01 * (TOY.A @ np.where(w >= 0, 1.0, -1.0) + TOY.b)
        assert_close(path[t + 1], w, CLOSED_FORM)


def test_stochastic_binarisation_is_deterministic_beyond_the_clip_range():
    rng = np.random.default_rng(3)
    seen = []
    ste(lambda w: seen.append(w.copy()) or np.zeros(2), [1.5, -1.2], lr=0.1, n_steps=20, stochastic=True, rng=rng)
    assert all(s.tolist() == [1.0, -1.0] for s in seen)


def _relaxed_moments(lam, tau):
    """E[w_τ], E[ŝ], E[ŝ w_τ] under ε = ½ logit u (logistic, density ½ sech² ε), by 1-D quadrature.  With
    ε = τx − λ the factor (1 − w_τ²)/τ becomes sech² x and the integrands are smooth."""
    p = lambda e: 2 * np.exp(-2 * abs(e)) / (1 + np.exp(-2 * abs(e))) ** 2  # ½ sech² ε
    sech2 = lambda x: 4 * np.exp(-2 * abs(x)) / (1 + np.exp(-2 * abs(x))) ** 2
    w = lambda e: np.tanh((lam + e) / tau) * p(e)
    Ew = quad(w, -np.inf, -lam)[0] + quad(w, -lam, np.inf)[0]
    Es = quad(lambda x: sech2(x) * p(tau * x - lam), -np.inf, np.inf)[0] / sech2(lam)
    Esw = quad(lambda x: sech2(x) * np.tanh(x) * p(tau * x - lam), -np.inf, np.inf)[0] / sech2(lam)
    return Ew, Es, Esw


def expected_relaxed_gradient(lam, tau):
    """The mean of ŝ ⊙ ∇ℓ(w_τ) for the quadratic toy: coordinate j is E[ŝ_j w_j] A_jj + E[ŝ_j](Σ_{i≠j} A_ji E[w_i]
    + b_j), the coordinates of w_τ being independent."""
    Ew, Es, Esw = np.array([_relaxed_moments(l, tau) for l in lam]).T
    A, b = TOY.A, TOY.b
    off = A @ Ew - np.diag(A) * Ew
    return Esw * np.diag(A) + Es * (off + b)


def test_the_relaxed_estimator_has_the_mean_computed_by_quadrature():
    """20 000 single-draw estimates at τ = 0.5: their mean is within 4 standard errors of the quadrature mean."""
    lam, tau = np.array([0.3, -0.5, 0.8]), 0.5
    U = np.random.default_rng(1).uniform(size=(20_000, 3))
    draws = np.array([relaxed_natural_gradient(TOY.grad, lam, u[None], tau) for u in U])
    se = draws.std(0) / np.sqrt(len(U))
    assert np.all(np.abs(draws.mean(0) - expected_relaxed_gradient(lam, tau)) < 4 * se)
    assert_close(relaxed_natural_gradient(TOY.grad, lam, U[:50], tau), draws[:50].mean(0), CLOSED_FORM)


def test_the_relaxation_bias_is_first_order_in_the_temperature():
    r"""The bias b(τ) = E[ŝ⊙ĝ] − ∇_μE_q[ℓ] of the relaxed estimator (its exact mean by quadrature, the exact natural
    gradient g by enumeration) against its expansion in τ.  With ε = τx − λ, p(ε) = ½sech²ε, p(−λ) = (1 − μ²)/2,
    ∫x sech²x tanh x dx = 1, ∫x² sech²x dx = π²/6 and ∫x(tanh x − sign x) dx = −π²/12:
    E[ŝ_j w_j] = τμ_j + O(τ³), E[ŝ_j] = 1 + τ²(π²/12)(3μ_j² − 1) + O(τ⁴), E[w_j] = μ_j − τ²(π²/12)(1 − μ_j²)μ_j + O(τ⁴),
    so, for the quadratic toy (A_off = A without its diagonal),

    b(τ) = τ diag(A)⊙μ + τ²(π²/12)[(3μ² − 1)⊙g − A_off((1 − μ²)⊙μ)] + O(τ³):

    the bias is first order in τ with slope ‖diag(A)⊙μ‖/‖g‖.  The remainder after the two terms must shrink by
    2³ = 8 when τ halves (7 to 9: its own next order changes the ratio by O(τ), τ ≤ 0.04 here), and ‖b‖ decreases
    with τ over two decades."""
    lam = np.array([0.3, -0.5, 0.8])
    mu = np.tanh(lam)
    g = natural_gradient(TOY.loss, mu)
    A_off = TOY.A - np.diag(np.diag(TOY.A))
    first = np.diag(TOY.A) * mu
    second = np.pi ** 2 / 12 * ((3 * mu ** 2 - 1) * g - A_off @ ((1 - mu ** 2) * mu))
    taus = (2.0, 1.0, 0.5, 0.2, 0.1, 0.04, 0.02, 0.01)
    bias = {tau: expected_relaxed_gradient(lam, tau) - g for tau in taus}
    norms = [np.linalg.norm(bias[t]) for t in taus]
    assert all(a > b for a, b in zip(norms, norms[1:]))
    rest = [np.linalg.norm(bias[t] - t * first - t ** 2 * second) for t in (0.04, 0.02, 0.01)]
    assert all(7 < a / b < 9 for a, b in zip(rest, rest[1:])), rest


def test_the_relaxed_fixed_point_approaches_the_vi_optimum_as_the_temperature_falls():
    r"""The BLR with the relaxed estimator's exact mean (quadrature), λ = −ĝ_τ(λ) (flat prior), against the
    mean-field optimum λ* = −g(λ*).  With ĝ_τ = g + τ diag(A)⊙μ + O(τ²) (the expansion above) and
    ∂g/∂λ = A_off diag(1 − μ²), the fixed point moves by δλ = −τ(I + A_off diag(1 − μ²))⁻¹ diag(A)⊙μ* + O(τ²),
    and μ by diag(1 − μ*²)δλ.  The remainder after that first-order shift must shrink by 2² = 4 when τ halves
    (3 to 5: its own next order changes the ratio by O(τ), τ ≤ 0.04)."""
    lam_opt = mean_field_vi(TOY.loss, np.zeros(3))
    mu = np.tanh(lam_opt)
    A_off = TOY.A - np.diag(np.diag(TOY.A))
    shift = -(1 - mu ** 2) * np.linalg.solve(np.eye(3) + A_off * (1 - mu ** 2), np.diag(TOY.A) * mu)
    rest = []
    for tau in (0.04, 0.02, 0.01):
        lam = lam_opt.copy()
        for _ in range(200):  # a contraction (measured: ~45 steps to 1e-13)
            lam, previous = 0.5 * lam - 0.5 * expected_relaxed_gradient(lam, tau), lam
            if np.abs(lam - previous).max() < 1e-13:
                break
        rest.append(np.abs(np.tanh(lam) - mu - tau * shift).max())
    assert all(3 < a / b < 5 for a, b in zip(rest, rest[1:])), rest


#: A standardised sum of T independent-given-the-past, mean-zero terms (a martingale) is ≈ N(0, 1) (the martingale
#: central limit theorem, T = 60 steps of M = 400 draws each); |z| ≥ 5 has probability 6e-7 by chance.  The
#: variance is estimated at every step from 20 sub-batches of the step's own draws (pooled over 60 steps: the
#: variance estimate is good to ~4 %, which moves z by 2 %).
Z_BOUND = 5.0


def relaxed_blr_z(path, uniforms, lr, temperature, n_batches=20):
    """z per coordinate of Σ_t (ĝ_t − G(λ_t)) / √(Σ_t Var ĝ_t): ĝ_t is the step's estimate, read back from the path
    (λ_{t+1} = (1 − α)λ_t − αĝ_t with a flat prior), G the relaxed estimator's exact mean by quadrature."""
    g_hat = ((1 - lr) * path[:-1] - path[1:]) / lr
    exact = np.array([expected_relaxed_gradient(lam, temperature) for lam in path[:-1]])
    sub = np.array([[relaxed_natural_gradient(TOY.grad, lam, u, temperature) for u in np.split(U, n_batches)]
                    for lam, U in zip(path[:-1], uniforms)])
    variance = sub.var(axis=1, ddof=1) / n_batches
    return (g_hat - exact).sum(0) / np.sqrt(variance.sum(0))


def test_bayesbinn_steps_are_the_blr_with_the_relaxed_estimator():
    """Given the uniforms, each step is λ ← (1 − α)λ − α(ŝ⊙ĝ − λ₀) (CLOSED_FORM).  Over a run of 60 steps of 400
    draws each, every step's estimate is unbiased for the relaxed BLR's exact step computed by quadrature: the
    standardised sum of their differences is within Z_BOUND (a wrong estimator, e.g. the reparameterisation
    gradient not divided by the Fisher information 1 − μ², gives |z| of 30 to 45)."""
    rng = np.random.default_rng(2)
    U = rng.uniform(size=(3, 2, 3))
    path = bayesbinn(TOY.grad, [0.1, -0.2, 0.3], lam_prior=LAM0, lr=0.1, temperature=0.3, n_steps=3, uniforms=U)
    lam = np.array([0.1, -0.2, 0.3])
    for t in range(3):
        lam = 0.9 * lam - 0.1 * (relaxed_natural_gradient(TOY.grad, lam, U[t], 0.3) - LAM0)
        assert_close(path[t + 1], lam, CLOSED_FORM)
    U = rng.uniform(size=(60, 400, 3))
    path = bayesbinn(TOY.grad, np.zeros(3), lam_prior=np.zeros(3), lr=0.5, temperature=0.5, n_steps=60, uniforms=U)
    z = relaxed_blr_z(path, U, lr=0.5, temperature=0.5)
    assert np.all(np.abs(z) < Z_BOUND), z


@pytest.mark.parametrize("kwargs, match", [
    (dict(temperature=0.0), "temperature"),
    (dict(temperature=-1.0), "temperature"),
    (dict(lr=0.0), "lr"),
    (dict(n_samples=0), "n_samples"),
    (dict(rng=None), "rng"),
    (dict(n_steps=-1), "n_steps"),
])
def test_bayesbinn_bad_input(kwargs, match):
    args = dict(lam_prior=np.zeros(3), lr=0.1, temperature=0.5, n_steps=2, n_samples=1,
                rng=np.random.default_rng(0))
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        bayesbinn(TOY.grad, np.zeros(3), **args)


def test_enumeration_bad_input():
    with pytest.raises(ValueError, match=r"\[−1, 1\]"):
        natural_gradient(TOY.loss, [0.5, 1.5, 0.0])
    with pytest.raises(ValueError, match="P must be"):
        expected_loss(lambda W: W.sum(-1), np.zeros(21))
    with pytest.raises(ValueError, match="lr"):
        ste(TOY.grad, np.zeros(3), lr=-1.0, n_steps=1)
    with pytest.raises(ValueError, match="rng"):
        ste(TOY.grad, np.zeros(3), lr=0.1, n_steps=1, stochastic=True)


def test_kl_is_zero_at_the_prior_and_positive_elsewhere():
    assert kl_bernoulli(LAM0, LAM0) == 0.0 and kl_bernoulli(LAM0 + 0.3, LAM0) > 0


def test_the_exact_gradient_blr_reaches_the_enumerated_optimum_at_p_10():
    """P = 10 (1024 weight vectors), a binary linear regression with a non-flat prior: the BLR with the exact natural
    gradient (ρ = 0.5, 150 steps) ends at the coordinate-ascent optimum (CLOSED_FORM), whose objective is below
    that of random mean-field candidates."""
    rng = np.random.default_rng(10)
    X = rng.standard_normal((30, 10))
    y = X @ rng.choice([-1.0, 1.0], 10) + 2.0 * rng.standard_normal(30)
    loss = lambda W: 0.5 * ((y - np.asarray(W) @ X.T) ** 2).sum(-1) / 16
    lam0 = 0.3 * rng.standard_normal(10)
    opt = mean_field_vi(loss, lam0)
    path = bernoulli_blr(loss, np.zeros(10), lam0, rho=0.5, n_steps=150)
    assert_close(path[-1], opt, CLOSED_FORM)
    best = objective(loss, opt, lam0)
    assert all(best < objective(loss, opt + 0.3 * rng.standard_normal(10), lam0) for _ in range(20))


def test_at_the_codes_temperature_its_guard_is_the_scale():
    """τ = 1e-10 with the authors' guard 1e-10: w_τ = sign(λ + ε) in floating point, and the estimate is the gradient
    at that sign over 1 − μ² + 1e-10 (CLOSED_FORM); without the guard (the paper) it is 0 for almost every draw."""
    lam = np.array([0.3, -0.5, 0.8])
    U = np.random.default_rng(4).uniform(size=(50, 3))
    signs = np.where(lam + 0.5 * np.log(U / (1 - U)) > 0, 1.0, -1.0)
    expected = np.mean([TOY.grad(s) for s in signs], axis=0) / (1 - np.tanh(lam) ** 2 + 1e-10)
    assert_close(relaxed_natural_gradient(TOY.grad, lam, U, 1e-10, guard=1e-10), expected, CLOSED_FORM)
    assert np.all(relaxed_natural_gradient(TOY.grad, lam, U, 1e-10) == 0.0)
