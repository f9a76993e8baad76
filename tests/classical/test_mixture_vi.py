"""The hand-written mixture VI (blrkit.classical.mixture_vi) against closed forms, its own fixed point and an
optimum found without the BLR (scipy.optimize on the KL).  Tolerances in tests/algorithms/tolerances.py, or
stated where used."""

import numpy as np
import pytest
from scipy.special import logsumexp

from algorithms.tolerances import CLOSED_FORM, ITERATIVE, SAME_ARITHMETIC, assert_close
from blrkit.classical.mixture_vi import (best_gaussian, kl_to_target, mixture_log_density, mixture_log_density_nd,
                                         mixture_vi_monte_carlo, mixture_vi_quadrature)

#: the bimodal target of Khan & Rue (2023), Sec. 5.4, as in derivations §2.20(f): 0.3 N(−2, 0.5²) + 0.7 N(2, 1)
PI, MU, VAR = np.array([0.3, 0.7]), np.array([-2.0, 2.0]), np.array([0.25, 1.0])


def log_p(t):
    t = np.asarray(t, float)[..., None]
    return logsumexp(np.log(PI) - 0.5 * np.log(2 * np.pi * VAR) - 0.5 * (t - MU) ** 2 / VAR, axis=-1)


def grad_log_p(t):  # differentiated by hand, independent of mixture_log_density
    t = np.asarray(t, float)[..., None]
    log_joint = np.log(PI) - 0.5 * np.log(2 * np.pi * VAR) - 0.5 * (t - MU) ** 2 / VAR
    r = np.exp(log_joint - logsumexp(log_joint, axis=-1, keepdims=True))
    return (r * -(t - MU) / VAR).sum(-1)


def hess_log_p(t):
    t = np.asarray(t, float)[..., None]
    log_joint = np.log(PI) - 0.5 * np.log(2 * np.pi * VAR) - 0.5 * (t - MU) ** 2 / VAR
    r = np.exp(log_joint - logsumexp(log_joint, axis=-1, keepdims=True))
    slope = -(t - MU) / VAR
    return (r * (slope**2 - 1 / VAR)).sum(-1) - (r * slope).sum(-1) ** 2


def test_mixture_log_density_derivatives_match_finite_differences():
    """∇ log q, ∇² log q against central differences of log q (step 1e-5: error ~1e-10 for the gradient,
    ~1e-6 for the Hessian from the difference of gradients; 1e-6 absolute covers both)."""
    t, h = np.linspace(-5, 5, 41), 1e-5
    m, S, v = np.array([-1.0, 0.5, 2.0]), np.array([2.0, 0.7, 5.0]), np.log([0.2, 0.5, 0.3])
    lq, g, H = mixture_log_density(t, m, S, v)
    np.testing.assert_allclose(g, (mixture_log_density(t + h, m, S, v)[0] - mixture_log_density(t - h, m, S, v)[0])
                               / (2 * h), atol=1e-6)
    np.testing.assert_allclose(H, (mixture_log_density(t + h, m, S, v)[1] - mixture_log_density(t - h, m, S, v)[1])
                               / (2 * h), atol=1e-6)
    from scipy.stats import norm
    np.testing.assert_allclose(lq, np.log((np.exp(v) * norm.pdf(t[:, None], m, 1 / np.sqrt(S))).sum(-1)),
                               rtol=1e-12)
    np.testing.assert_allclose(hess_log_p(t), mixture_log_density(t, MU, 1 / VAR, np.log(PI))[2], atol=1e-12)


def _quartic_iblr(m, S, rho, n_steps, improved=True):
    """Gaussian VI of ℓ̄(θ) = θ⁴/4 + θ²/2 − θ by the (improved) BLR with closed-form moments:
    E[ℓ̄'] = m³ + 3m/S + m − 1, E[ℓ̄''] = 3(m² + 1/S) + 1 under N(m, 1/S)."""
    ms, Ss = [m], [S]
    for _ in range(n_steps):
        Eg, EH = m**3 + 3 * m / S + m - 1, 3 * (m**2 + 1 / S) + 1
        G = EH - S
        S = S + rho * G + (rho**2 / 2 * G * G / S if improved else 0.0)
        m = m - rho * Eg / S
        ms.append(m)
        Ss.append(S)
    return np.array(ms), np.array(Ss)


def _quartic(t):
    return -(t**4 / 4 + t**2 / 2 - t), -(t**3 + t - 1), -(3 * t**2 + 1)


def test_one_component_is_the_improved_gaussian_blr_in_closed_form():
    """K = 1 on a quartic log-density: every iterate equals the closed-form improved BLR (Gauss–Hermite is exact
    for the polynomial integrands, so only rounding differs: CLOSED_FORM); the plain BLR's iterates differ
    (the ρ²/2 term is seen); the fixed point is the exact Gaussian VI optimum, E[ℓ̄'] = 0 and S = E[ℓ̄''], and
    equals scipy's minimiser of the KL (ITERATIVE)."""
    lp = lambda t: _quartic(t)[0]
    glp = lambda t: _quartic(t)[1]
    hlp = lambda t: _quartic(t)[2]
    m, S, w = mixture_vi_quadrature(lp, glp, hlp, [-1.0], [0.5], [1.0], rho=0.5, rho_weights=0.3, n_steps=120,
                                    n_nodes=40)
    m_ref, S_ref = _quartic_iblr(-1.0, 0.5, 0.5, 120)
    assert_close(m[:, 0], m_ref, CLOSED_FORM)
    assert_close(S[:, 0], S_ref, CLOSED_FORM)
    assert np.all(w == 1.0)
    m_plain, S_plain = _quartic_iblr(-1.0, 0.5, 0.5, 120, improved=False)
    assert np.abs(S[:, 0] - S_plain).max() > 1e-3
    mf, Sf = m[-1, 0], S[-1, 0]
    assert abs(mf**3 + 3 * mf / Sf + mf - 1) < 1e-12 and abs(3 * (mf**2 + 1 / Sf) + 1 - Sf) < 1e-12
    # the normalising constant of p only shifts the KL, not its minimiser
    m_opt, var_opt, _ = best_gaussian(lp, 0.0, 1.0, n_nodes=40)
    assert_close([mf, 1 / Sf], [m_opt, var_opt], ITERATIVE)


def test_the_target_mixture_is_a_fixed_point():
    """Started at the target, f = ℓ̄ + log q is constant, so every expectation's gradient vanishes: the iterates
    stay at the target to 1e-10 over 50 steps (rounding of log q against log p only)."""
    m, S, w = mixture_vi_quadrature(log_p, grad_log_p, hess_log_p, MU, 1 / VAR, PI, rho=0.5, rho_weights=0.5,
                                    n_steps=50)
    np.testing.assert_allclose(m, np.broadcast_to(MU, m.shape), rtol=0, atol=1e-10)
    np.testing.assert_allclose(S, np.broadcast_to(1 / VAR, S.shape), rtol=0, atol=1e-10)
    np.testing.assert_allclose(w, np.broadcast_to(PI, w.shape), rtol=0, atol=1e-10)


@pytest.fixture(scope="module")
def bimodal_fit():
    return mixture_vi_quadrature(log_p, grad_log_p, hess_log_p, [-3.0, 3.0], [1.0, 1.0], [0.5, 0.5], rho=0.2,
                                 rho_weights=0.1, n_steps=300)


def test_the_bimodal_target_is_recovered_from_spread_starts(bimodal_fit):
    """From means (−3, 3), unit precisions and equal weights, ρ = 0.2 and ρ_π = 0.1: weights (0.3, 0.7), means
    (−2, 2), variances (0.25, 1) to 1e-8 absolute (the fixed point is exact whatever the quadrature; measured
    ~1e-13 after 300 steps, the contraction leaves room)."""
    m, S, w = bimodal_fit
    np.testing.assert_allclose(w[-1], PI, rtol=0, atol=1e-8)
    np.testing.assert_allclose(m[-1], MU, rtol=0, atol=1e-8)
    np.testing.assert_allclose(1 / S[-1], VAR, rtol=0, atol=1e-8)


def test_the_fit_beats_the_best_single_gaussian(bimodal_fit):
    """KL(q ‖ p) by quadrature: ~0 for the fitted mixture; the best single Gaussian (scipy.optimize on the KL,
    no BLR) stays at ≈ 0.342.  The same optimum is the K = 1 fixed point of the BLR (ITERATIVE: BFGS stops
    at gtol 1e-10; the two quadratures, of ∇²f and of f, differ by ~1e-9 at 800 nodes)."""
    m, S, w = bimodal_fit
    kl_mix = kl_to_target(log_p, m[-1], S[-1], w[-1])
    m1, var1, kl1 = best_gaussian(log_p, 0.0, 4.0)
    assert abs(kl_mix) < 1e-10 and kl1 > 0.3
    mk, Sk, _ = mixture_vi_quadrature(log_p, grad_log_p, hess_log_p, [0.0], [0.25], [1.0], rho=0.5,
                                      rho_weights=0.0, n_steps=200)
    assert_close([mk[-1, 0], 1 / Sk[-1, 0]], [m1, var1], ITERATIVE)


def test_doubling_the_nodes_changes_no_iterate():
    """The stated node count: 800 → 1600 Gauss–Hermite nodes moves no iterate of 200 steps from (−3, 3) by more
    than 1e-8 (measured 2e-9); 200 nodes are not enough (measured 5e-5)."""
    args = (log_p, grad_log_p, hess_log_p, [-3.0, 3.0], [1.0, 1.0], [0.5, 0.5])
    kw = dict(rho=0.2, rho_weights=0.2, n_steps=200)
    a, b = mixture_vi_quadrature(*args, **kw), mixture_vi_quadrature(*args, **kw, n_nodes=1600)
    assert max(np.abs(x - y).max() for x, y in zip(a, b)) < 1e-8
    c = mixture_vi_quadrature(*args, **kw, n_nodes=200)
    assert max(np.abs(x - y).max() for x, y in zip(c, b)) > 1e-6


def test_the_improved_rule_keeps_the_precision_positive_where_the_plain_one_fails():
    """A component started on the ridge between the modes (θ = −0.65, where −(log p)'' ≈ −13.6) with a narrow
    precision (S = 50) and ρ = 1: the plain step S + ρĜ would be negative, the improved one is positive."""
    m, S, w = mixture_vi_quadrature(log_p, grad_log_p, hess_log_p, [-0.65], [50.0], [1.0], rho=1.0,
                                    rho_weights=0.0, n_steps=1, n_nodes=200)
    z, gw = np.polynomial.hermite.hermgauss(200)
    theta = -0.65 + np.sqrt(2 / 50.0) * z
    G = ((-hess_log_p(theta) - 50.0) @ gw) / np.sqrt(np.pi)  # K = 1: E[∇² log q] = −S
    assert 50.0 + G < 0 < S[-1, 0]
    assert_close(S[-1, 0], 50.0 + G + G * G / 50.0 / 2, SAME_ARITHMETIC * 1e3)


@pytest.mark.parametrize("kwargs, match", [
    (dict(weights0=[0.5, 0.6]), "simplex"),
    (dict(weights0=[1.2, -0.2]), "simplex"),
    (dict(means0=[]), "K ≥ 1"),
    (dict(precisions0=[1.0, 1.0, 1.0]), "K = 2"),
    (dict(precisions0=[1.0, 0.0]), "positive"),
    (dict(rho=0.0), "rho"),
    (dict(rho_weights=-1.0), "rho_weights"),
    (dict(n_nodes=0), "n_nodes"),
    (dict(n_steps=1.5), "n_steps"),
])
def test_bad_input(kwargs, match):
    args = dict(means0=[-3.0, 3.0], precisions0=[1.0, 1.0], weights0=[0.5, 0.5], rho=0.2, rho_weights=0.1,
                n_steps=2, n_nodes=20)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        mixture_vi_quadrature(log_p, grad_log_p, hess_log_p, **args)


def test_a_nan_target_names_the_component_and_step():
    lp = lambda t: np.where(t > 5.0, np.nan, log_p(t))  # only component 1 has nodes beyond 5
    with pytest.raises(ValueError, match="component 1 at step 1"):
        mixture_vi_quadrature(lp, grad_log_p, hess_log_p, [-3.0, 3.0], [1.0, 1.0], [0.5, 0.5], rho=0.2,
                              rho_weights=0.1, n_steps=1, n_nodes=20)


def test_caller_arrays_are_not_mutated():
    m0, S0, w0 = np.array([-3.0, 3.0]), np.array([1.0, 1.0]), np.array([0.5, 0.5])
    mixture_vi_quadrature(log_p, grad_log_p, hess_log_p, m0, S0, w0, rho=0.2, rho_weights=0.1, n_steps=3,
                          n_nodes=20)
    assert m0.tolist() == [-3.0, 3.0] and S0.tolist() == [1.0, 1.0] and w0.tolist() == [0.5, 0.5]


def test_monte_carlo_with_one_component_and_antithetic_draws_is_the_improved_gaussian_blr():
    """K = 1, D = 2, draws (ε, −ε): the sample mean of ∇ log q = −S(θ − m) vanishes and ∇² log q = −S, so the step is
    classical.variational_newton(rule="improved") on the same draws (CLOSED_FORM: sums in another order)."""
    from blrkit.classical.variational_newton import variational_newton

    a, A = np.array([1.0, -2.0]), np.array([[2.0, 0.3], [0.3, 1.0]])
    loss = lambda th: np.logaddexp(0, th @ a) + 0.5 * np.einsum("...i,ij,...j->...", th, A, th)
    sig = lambda th: 1 / (1 + np.exp(-(th @ a)))
    grad = lambda th: sig(th)[..., None] * a + th @ A
    hess = lambda th: (sig(th) * (1 - sig(th)))[..., None, None] * np.outer(a, a) + A
    z = np.random.default_rng(5).standard_normal((15, 4, 2))
    eps = np.concatenate([z, -z], axis=1)
    m, S, w = mixture_vi_monte_carlo(loss, grad, hess, [[0.5, 0.5]], [np.eye(2)], [1.0], eps[:, None], rho=0.7,
                                     rho_weights=0.3)
    xs, Ss = variational_newton(lambda t: grad(t), lambda t: hess(t), [0.5, 0.5], np.eye(2), 0.7, eps,
                                rule="improved")
    assert_close(m[:, 0], xs, CLOSED_FORM)
    assert_close(S[:, 0], Ss, CLOSED_FORM)


def test_monte_carlo_steps_average_to_the_quadrature_step():
    """One step from a two-component state on the bimodal target: 10 runs of M = 4000 draws per component; their
    mean is within 4 standard errors (from the 10 runs' spread) of the quadrature step."""
    m0, S0, w0 = [-3.0, 3.0], [1.0, 2.0], [0.4, 0.6]
    ref = [x[1] for x in mixture_vi_quadrature(log_p, grad_log_p, hess_log_p, m0, S0, w0, rho=0.5,
                                               rho_weights=0.5, n_steps=1)]
    rng = np.random.default_rng(8)
    runs = []
    for _ in range(10):
        out = mixture_vi_monte_carlo(lambda t: -log_p(t[..., 0]), lambda t: -grad_log_p(t),
                                     lambda t: -hess_log_p(t)[..., None], np.array(m0)[:, None],
                                     np.array(S0)[:, None, None], w0, rng.standard_normal((1, 2, 4000, 1)), rho=0.5,
                                     rho_weights=0.5)
        runs.append(np.concatenate([out[0][1, :, 0], out[1][1, :, 0, 0], out[2][1]]))
    runs = np.array(runs)
    se = runs.std(0, ddof=1) / np.sqrt(len(runs))
    assert np.all(np.abs(runs.mean(0) - np.concatenate(ref)) < 4 * se)


def test_monte_carlo_bad_input():
    with pytest.raises(ValueError, match="eps must have shape"):
        mixture_vi_monte_carlo(None, None, None, [[0.0]], [[[1.0]]], [1.0], np.zeros((2, 3, 4, 1)), rho=0.1,
                               rho_weights=0.1)
    with pytest.raises(ValueError, match="simplex"):
        mixture_vi_monte_carlo(None, None, None, [[0.0], [1.0]], [[[1.0]], [[1.0]]], [0.7, 0.7],
                               np.zeros((2, 2, 4, 1)), rho=0.1, rho_weights=0.1)
    with pytest.raises(ValueError, match="loss is not finite at the samples of component 0 at step 1"):
        mixture_vi_monte_carlo(lambda t: np.full(t.shape[:-1], np.nan), lambda t: t, lambda t: 0 * t[..., None],
                               [[0.0]], [[[1.0]]], [1.0], np.zeros((1, 1, 4, 1)), rho=0.1, rho_weights=0.1)


def test_the_d_dimensional_log_density_and_its_derivatives(rng):
    """D = 2, K = 3: log q against scipy's multivariate normal densities (1e-12 relative), ∇ and ∇² against
    central differences (step 1e-5: 1e-6 absolute, as in the 1-D test)."""
    from scipy.stats import multivariate_normal

    m = rng.standard_normal((3, 2))
    S = np.array([B @ B.T + np.eye(2) for B in rng.standard_normal((3, 2, 2))])
    v = np.log([0.2, 0.3, 0.5])
    th = rng.standard_normal((6, 2))
    lq, g, H = mixture_log_density_nd(th, m, S, v)
    dens = sum(np.exp(v[k]) * multivariate_normal(m[k], np.linalg.inv(S[k])).pdf(th) for k in range(3))
    np.testing.assert_allclose(lq, np.log(dens), rtol=1e-12)
    h = 1e-5
    for i, e in enumerate(np.eye(2) * h):
        up, down = mixture_log_density_nd(th + e, m, S, v), mixture_log_density_nd(th - e, m, S, v)
        np.testing.assert_allclose(g[:, i], (up[0] - down[0]) / (2 * h), atol=1e-6)
        np.testing.assert_allclose(H[:, :, i], (up[1] - down[1]) / (2 * h), atol=1e-6)
