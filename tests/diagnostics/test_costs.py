"""Natural gradients and fixed points of derived steps against closed forms (a Gaussian target, where the delta
method, ρ = 1 and Gaussian VI are exact and the diagonal candidates have closed-form costs; Poisson expectations
E[e^{xᵀθ}]) and, on a skewed posterior, against SciPy's root finding and adaptive quadrature."""

import matplotlib
import numpy as np
import pytest
from scipy import integrate, optimize

from blrkit.derive import RECIPES
from blrkit.diagnostics import Problem, approximation_costs, natural_gradients
from diagnostics.problems import (
    ALPHA,
    POISSON_X1,
    POISSON_X2,
    POISSON_Y1,
    POISSON_Y2,
    gaussian_kl,
    gaussian_target,
    poisson,
    poisson_expected,
    poisson_loss,
)
from blrkit.diagnostics.quadrature import gaussian_rule
from diagnostics.tolerances import FIXED_POINT, MC_AVERAGE, MONTE_CARLO_SE, PROBE, QUADRATURE, SCIPY_QUAD, assert_close

matplotlib.use("Agg")

A = np.array([[2.0, 1.2], [1.2, 1.5]])
a = np.array([0.5, -1.0])


def _step_error(g_hat, g, S):
    r = g_hat - g
    return np.sqrt(r @ np.linalg.solve(S, r))


def test_natural_gradients_of_a_poisson_glm():
    """At q = N(m, S⁻¹): the exact E_q[∇ℓ̄], E_q[∇²ℓ̄] are the closed forms (QUADRATURE); the delta-method
    steps read back ∇ℓ̄(m), ∇²ℓ̄(m) (its diagonal for diagonal Newton; ρ = 1 exactly for Newton, through
    ρ = RHO_PROBE for the damped step: PROBE); their errors are the closed-form distances; Monte Carlo with
    4096 samples lands within MONTE_CARLO_SE standard errors of the exact step, the delta method does not."""
    p = poisson(POISSON_X2, POISSON_Y2)
    m, S = np.array([0.2, -0.4]), np.array([[3.0, 1.0], [1.0, 2.0]])
    ng = natural_gradients(p, ["newton", "damped_newton", "diagonal_newton", "gradient_descent",
                               "variational_newton"], m, S, n_samples=4096)
    _, Eg, EH = poisson_expected(m, np.linalg.inv(S), POISSON_X2, POISSON_Y2)
    _, g, H = poisson_expected(m, np.zeros((2, 2)), POISSON_X2, POISSON_Y2)
    assert_close(ng.exact_grad, Eg, QUADRATURE)
    assert_close(ng.exact_hess, EH, QUADRATURE)
    newton, damped, diag, gd, vn = ng.rows
    assert_close(newton.grad, g, QUADRATURE)
    assert_close(newton.hess, H, QUADRATURE)
    assert_close(newton.grad_error, _step_error(g, Eg, S), QUADRATURE)
    assert_close(newton.hess_error, np.linalg.norm(H - EH) / np.linalg.norm(EH), QUADRATURE)
    assert_close(damped.grad, g, PROBE)
    assert_close(damped.hess, H, PROBE)
    Sd = np.diag(np.diag(S))
    _, Eg_d, EH_d = poisson_expected(m, np.linalg.inv(Sd), POISSON_X2, POISSON_Y2)
    assert_close(diag.hess, np.diag(np.diag(H)), PROBE)
    assert_close(diag.grad_error, _step_error(g, Eg_d, Sd), PROBE)
    _, Eg_I, _ = poisson_expected(m, np.eye(2), POISSON_X2, POISSON_Y2)
    assert gd.hess is None
    assert_close(gd.grad_error, _step_error(g, Eg_I, np.eye(2)), PROBE)
    # standard error of the Monte-Carlo mean step: √(tr(S⁻¹ Cov_q[∇ℓ̄]) / n), Cov_q by the Gauss–Hermite rule
    nodes, w, _ = gaussian_rule(m, S)
    G = p.grad(nodes) - Eg
    se = np.sqrt(np.trace(np.linalg.solve(S, (w[:, None] * G).T @ G)) / 4096)
    assert vn.grad_error < MONTE_CARLO_SE * se < newton.grad_error


def test_natural_gradients_exact_on_a_gaussian_target():
    """On a quadratic ℓ̄ the delta method is exact: every deterministic step's ĝ and Ĥ equal the expectations
    (errors at the PROBE level), and a diagonal A makes diagonal Newton exact too."""
    m, S = np.array([0.1, 0.3]), np.array([[1.0, 0.3], [0.3, 2.0]])
    ng = natural_gradients(gaussian_target(A, a), ["newton", "damped_newton", "laplace"], m, S)
    for r in ng.rows:
        assert r.grad_error < PROBE and r.hess_error < PROBE
    ng = natural_gradients(gaussian_target(np.diag([2.0, 0.5]), a), "diagonal_newton", m, S)
    assert ng.rows[0].grad_error < PROBE and ng.rows[0].hess_error < PROBE


def test_fixed_points_on_a_gaussian_target():
    """Correlated Gaussian target N(a, A⁻¹): Gaussian VI, Newton, damped Newton and Laplace land on it (mean
    error, KL both ways and predictive error 0 to FIXED_POINT); mean-field VI and diagonal Newton at
    N(a, diag(A)⁻¹) and gradient descent at N(a, I) cost the closed-form KLs and sd ratios."""
    costs = approximation_costs(gaussian_target(A, a), ["newton", "damped_newton", "laplace", "diagonal_newton",
                                                        "gradient_descent"])
    C = np.linalg.inv(A)
    for title in ("Gaussian VI (exact expectations)", "Newton's method", "Damped BLR-Newton", "Laplace's method"):
        r = costs.row(title)
        assert r.mean_error < FIXED_POINT and r.predictive_error < FIXED_POINT
        assert abs(r.kl_qp) < FIXED_POINT and abs(r.kl_pq) < FIXED_POINT
        assert_close(r.sd_ratio, np.ones(2), FIXED_POINT)
    for title, Cq in (("mean-field Gaussian VI (exact expectations)", np.diag(1 / np.diag(A))),
                      ("Diagonal Newton", np.diag(1 / np.diag(A))), ("Gradient descent", np.eye(2))):
        r = costs.row(title)
        assert r.mean_error < FIXED_POINT
        assert_close(r.kl_qp, gaussian_kl(a, Cq, a, C), FIXED_POINT)
        assert_close(r.kl_pq, gaussian_kl(a, C, a, Cq), FIXED_POINT)
        assert_close(r.sd_ratio, np.sqrt(np.diag(Cq) / np.diag(C)), FIXED_POINT)
        assert r.kl_qp > 0.1                       # the diagonal and fixed covariances do cost something here


def _quad(f):
    return integrate.quad(f, -30.0, 8.0, epsabs=1e-13, epsrel=1e-13, limit=200)[0]


def test_fixed_points_on_a_skewed_posterior_against_scipy():
    """1-D Poisson GLM with 4 counts. Laplace's fixed point: the MAP by SciPy's brentq on the written-out
    gradient and the Hessian there (FIXED_POINT); its KL(q‖p), KL(p‖q) and predictive error E[e^θ] against
    scipy.integrate.quad of the written-out density (SCIPY_QUAD, the fixed point's error on top). The exact
    Gaussian VI has the smallest KL(q‖p) of the rows, as it must."""
    p = poisson(POISSON_X1, POISSON_Y1, X_test=[[1.0]])
    costs = approximation_costs(p, ["laplace", "newton", "diagonal_newton"])
    n, ysum = len(POISSON_Y1), POISSON_Y1.sum()
    mode = optimize.brentq(lambda t: n * np.exp(t) - ysum + ALPHA * t, -10, 10, xtol=1e-15)
    h = n * np.exp(mode) + ALPHA
    lap = costs.row("Laplace's method")
    assert_close(lap.mean, [mode], FIXED_POINT)
    assert_close(lap.precision, [[h]], FIXED_POINT)
    ell = lambda t: poisson_loss(np.array([t]), POISSON_X1, POISSON_Y1)  # noqa: E731
    logZ = np.log(_quad(lambda t: np.exp(-ell(t))))
    logq = lambda t: -0.5 * h * (t - mode) ** 2 + 0.5 * np.log(h / (2 * np.pi))  # noqa: E731
    kl_qp = _quad(lambda t: np.exp(logq(t)) * (logq(t) + ell(t) + logZ))
    kl_pq = _quad(lambda t: np.exp(-ell(t) - logZ) * (-ell(t) - logZ - logq(t)))
    pred = abs(np.exp(mode + 0.5 / h) - _quad(lambda t: np.exp(t - ell(t) - logZ)))
    assert_close(lap.kl_qp, kl_qp, SCIPY_QUAD + FIXED_POINT)
    assert_close(lap.kl_pq, kl_pq, SCIPY_QUAD + FIXED_POINT)
    assert_close(lap.predictive_error, pred, SCIPY_QUAD + FIXED_POINT)
    assert_close(costs.row("Newton's method").kl_qp, kl_qp, SCIPY_QUAD + FIXED_POINT)
    vi = costs.row("Gaussian VI (exact expectations)")
    assert all(vi.kl_qp <= r.kl_qp for r in costs.rows)
    assert lap.kl_qp > 1.5 * vi.kl_qp               # the delta method costs something on a skewed posterior


def test_monte_carlo_fixed_point_near_the_variational_one():
    """Variational Newton (Monte Carlo, 64 samples, ρ = 0.2): the average of its last iterates lies within
    MC_AVERAGE posterior sd of the exact Gaussian VI, and its status says it is a Monte-Carlo average."""
    p = poisson(POISSON_X2, POISSON_Y2)
    costs = approximation_costs(p, ["variational_newton"], rho=0.2, n_steps=400, n_samples=64, include_vi=True)
    vi, vn = costs.row("Gaussian VI (exact expectations)"), costs.row("Variational Newton")
    sd = np.sqrt(np.diag(np.linalg.inv(vi.precision)))
    assert np.all(np.abs(vn.mean - vi.mean) / sd < MC_AVERAGE)
    assert "Monte Carlo (64 samples)" in vn.status and 0 < vn.mc_spread < 1 and vi.mc_spread is None


def test_table_and_plot():
    """The tables print every row and column (Markdown, HTML); the plots label both axes and name every curve."""
    import matplotlib.pyplot as plt

    costs = approximation_costs(poisson(POISSON_X1, POISSON_Y1), ["laplace"])
    text = str(costs)
    assert "KL(q‖p)" in text and "Laplace's method" in text and text.count("\n") == 2 + 2
    assert "<table>" in costs._repr_html_()
    ax = costs.plot()
    assert ax.get_xlabel() and ax.get_ylabel()
    assert len(ax.get_legend().get_texts()) == 1 + 2
    ax = approximation_costs(gaussian_target(A, a), ["newton"]).plot()
    assert ax.get_xlabel() and ax.get_ylabel() and len(ax.get_legend().get_texts()) == 1 + 3
    ng = natural_gradients(poisson(POISSON_X2, POISSON_Y2), ["newton", "gradient_descent"], [0.0, 0.0])
    assert "mean-step error" in str(ng) and "Newton's method" in str(ng) and "<table>" in ng._repr_html_()
    ax = ng.plot()
    assert ax.get_ylabel() and len(ax.get_legend().get_texts()) == 2
    plt.close("all")


def test_bad_input():
    """A non-Gaussian candidate, a step needing data the problem lacks, D > 2 for the fixed points, malformed
    callables and states: ValueError/TypeError naming what and why; the caller's arrays are not touched."""
    p = poisson(POISSON_X2, POISSON_Y2)
    with pytest.raises(ValueError, match="gamma candidate: the diagnostics integrate only the candidate families"):
        natural_gradients(p, RECIPES["gamma_poisson"], [0.0, 0.0])
    with pytest.raises(ValueError, match="takes X, y, alpha, noise_variance, which the problem"):
        natural_gradients(gaussian_target(A, a), "ridge", [0.0, 0.0])
    with pytest.raises(ValueError, match="D ≤ 2.*D = 3"):
        approximation_costs(gaussian_target(np.eye(3), np.zeros(3)), ["newton"])
    with pytest.raises(ValueError, match="unknown recipe 'nope'"):
        natural_gradients(p, "nope", [0.0, 0.0])
    with pytest.raises(TypeError, match="derivation must be"):
        natural_gradients(p, 42, [0.0, 0.0])
    with pytest.raises(ValueError, match=r"m must have shape \(2,\)"):
        natural_gradients(p, "newton", [0.0])
    with pytest.raises(ValueError, match="S must be symmetric positive definite"):
        natural_gradients(p, "newton", [0.0, 0.0], [[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(ValueError, match=r"rho must be in \(0, 1\], got 1.5"):
        approximation_costs(p, ["laplace"], rho=1.5)
    bad_shape = Problem(p.loss, lambda t: p.grad(t)[..., 0], p.hess, 2, name="bad")
    with pytest.raises(ValueError, match=r"grad must map θ of shape \(\d+, 2\) to shape"):
        natural_gradients(bad_shape, "newton", [0.0, 0.0])
    nan_hess = Problem(p.loss, p.grad, lambda t: np.full(t.shape[:-1] + (2, 2), np.nan), 2, name="nan")
    with pytest.raises(ValueError, match="hess of the problem 'nan' is not finite"):
        natural_gradients(nan_hess, "newton", [0.0, 0.0])
    with pytest.raises(TypeError, match="loss must be a callable"):
        Problem(None, p.grad, p.hess, 2)
    singular = Problem(p.loss, p.grad, lambda t: np.zeros(t.shape[:-1] + (2, 2)), 2, name="flat")
    with pytest.raises(ValueError, match="the step of \"Newton's method\" is undefined at this state"):
        natural_gradients(singular, "newton", [0.0, 0.0])
    with pytest.raises(ValueError, match="squares per-example gradients .* give the problem 'no terms' its grad_terms"):
        natural_gradients(Problem(p.loss, p.grad, p.hess, 2, name="no terms"), "ogn", [0.0, 0.0])
    ng = natural_gradients(Problem(p.loss, p.grad, p.hess, 2), ["sgd", "gradient_descent"], [0.1, 0.2])
    assert_close(ng.rows[0].grad, ng.rows[1].grad, QUADRATURE)      # full-batch SGD is gradient descent
    with pytest.raises(TypeError, match="start must be a pair"):
        approximation_costs(p, ["laplace"], start=[0.0, 0.0, 1.0])
    m, S = np.array([0.1, 0.2]), np.array([[2.0, 0.1], [0.1, 1.0]])
    m0, S0 = m.copy(), S.copy()
    natural_gradients(p, ["newton", "variational_newton"], m, S)
    assert np.array_equal(m, m0) and np.array_equal(S, S0)


def test_a_step_that_fails_is_reported_not_raised():
    """ℓ̄ = (θ² − 1)²/4 + θ/2 has a negative Hessian 3θ² − 1 at θ = 0.1: started there, Laplace's first precision
    S = ∇²ℓ̄(m) is not positive definite; the row says so and carries no metrics (no NaN), while the Gaussian
    VI (the improved rule keeps S positive definite) converges from the same start."""
    well = Problem(lambda t: (t[..., 0] ** 2 - 1) ** 2 / 4 + t[..., 0] / 2, lambda t: t ** 3 - t + 0.5,
                   lambda t: (3 * t ** 2 - 1)[..., None], 1, name="tilted double well")
    costs = approximation_costs(well, ["newton"], start=([0.1], [[1.0]]))
    newton = costs.row("Newton's method")
    assert newton.status == "failed at step 1: precision not positive definite"
    assert newton.mean is None and newton.kl_qp is None and newton.mc_spread is None
    assert "failed at step 1" in str(costs) and "| – |" in str(costs)
    assert costs.row("Gaussian VI (exact expectations)").status.startswith("converged")


def test_a_glm_derivation_takes_the_problems_data():
    """derive(Gaussian, glm_loss("poisson"), isotropic prior, delta) emits a step on (X, y, α): fed from the problem's
    data it reaches the fixed point of the oracle recipe "laplace" fed from its callables (FIXED_POINT)."""
    from blrkit.derive import derive, glm_loss

    d = derive("multivariate-gaussian", glm_loss("poisson"), "isotropic", ["delta"])
    assert {"X", "y", "alpha"} <= {a.name for a in d.arguments}
    costs = approximation_costs(poisson(POISSON_X2, POISSON_Y2), [d, "laplace"], titles=["GLM step", "oracle step"])
    assert_close(costs.row("GLM step").mean, costs.row("oracle step").mean, FIXED_POINT)
    assert_close(costs.row("GLM step").precision, costs.row("oracle step").precision, FIXED_POINT)
