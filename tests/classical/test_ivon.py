"""The textbook IVON loop (blrkit.classical.ivon) on Bayesian linear regression, where the answer is
known in closed form.

ℓ_i(θ) = ½(y_i − x_iᵀθ)², prior N(0, α⁻¹I). With ess λ = N and weight decay δ = α/N, IVON minimises
E_q[(1/N)Σℓ_i] + (δ/2)E_q‖θ‖² − H(q)/N, i.e. N⁻¹ times the ELBO's negative for the exact posterior
N(m*, A⁻¹), A = XᵀX + αI, m* = A⁻¹Xᵀy. Over mean-field Gaussians q = N(m, diag(s)⁻¹) that objective is
½ Σ_j A_jj (m_j − m*_j)² + ½ Σ_j A_jj / s_j − ½ Σ_j log(1/s_j) + (terms free of m, s) plus the coupling
½(m − m*)ᵀ(A − diag A)(m − m*), so its minimiser is m = m* and s = diag(A): the mean-field fixed point
has the exact mean and the *diagonal of the precision* (not the inverse of the marginal variances,
1/diag(A⁻¹), which is what a full-covariance posterior would give per coordinate). In IVON's
variables: h* = diag(XᵀX)/N, λ(h* + δ) = diag(A).
"""

import numpy as np
import pytest

from blrkit.classical.ivon import ivon

#: Batch-means standard errors: the last 20,000 steps in 10 batches of 2,000 steps (twice h's correlation
#: time 1/(1 − β₂) = 1,000 steps), after a burn-in of 5,000 steps: five correlation times, so the start's
#: offset (s = 52 against diag A ≈ 40) moves the tail's mean by 12 e⁻⁵ · 1,000/20,000 ≈ 0.004, against a
#: standard error of about 0.3 (a 40,000-step run with 20,000 of burn-in checked the same tail length:
#: 1.6 s more CPU for no change in what is checked). Five standard errors: a two-sided
#: Gaussian tail of 6e-7 per coordinate. The iBLR term biases h by ½(1 − β₂)Var(ĥ)/(h + δ), about
#: 0.2 % of s here (Var ĥ ≈ 4h²), i.e. 0.08 against a standard error of about 0.3: negligible.
N_SE = 5


def regression(rng, N=50):
    """Correlated inputs, so that diag(A) and 1/diag(A⁻¹) differ by a factor 2–4."""
    L = np.array([[1.0, 0.0, 0.0], [0.8, 0.6, 0.0], [0.5, 0.5, 0.7]])
    X = rng.standard_normal((N, 3)) @ L.T
    y = X @ np.array([1.0, -0.5, 0.3]) + rng.standard_normal(N)
    return X, y


def batch_means(tail, n_batches=10):
    b = tail.reshape(n_batches, -1, tail.shape[-1]).mean(1)
    return tail.mean(0), b.std(0, ddof=1) / np.sqrt(n_batches)


def test_ivon_reaches_the_mean_field_posterior_of_linear_regression():
    X, y = regression(np.random.default_rng(1))
    N, alpha = len(y), 2.0
    A = X.T @ X + alpha * np.eye(3)
    m_star = np.linalg.solve(A, X.T @ y)

    def grad_batch(theta, idx):  # mean over idx of ∇ℓ_i = (x_iᵀθ − y_i) x_i, θ of shape (K, D)
        return ((theta @ X[idx].T - y[idx])[..., None] * X[idx]).mean(-2)

    burn_in, tail = 5_000, 20_000
    path = ivon(grad_batch, np.zeros(3), lr=0.05, ess=N, beta2=0.999, hess_init=1.0, weight_decay=alpha / N,
                n_steps=burn_in + tail, n_data=N, batch_size=N, rng=np.random.default_rng(3))
    m, m_se = batch_means(path.means[-tail:])
    s, s_se = batch_means(N * (path.hessians[-tail:] + alpha / N))
    assert np.all(np.abs(m - m_star) < N_SE * m_se), (m, m_star, m_se)
    assert np.all(np.abs(s - np.diag(A)) < N_SE * s_se), (s, np.diag(A), s_se)
    # the check tells the mean-field answer from the marginal precisions of the full posterior
    assert np.all(np.abs(s - 1 / np.diag(np.linalg.inv(A))) > 20 * s_se)
    assert np.all(path.hessians + alpha / N > 0)


def test_the_improved_term_keeps_the_precision_positive_where_the_plain_average_would_not():
    """A concave loss, ℓ̂ = −θ²/2: every ĥ equals −1 exactly, so a plain average h ← β₂h + (1 − β₂)ĥ
    crosses −δ within a few steps; the iBLR term keeps h + δ > 0 (and h → −δ from above)."""
    path = ivon(lambda th, idx: -th, [0.0], lr=1e-3, ess=10.0, beta2=0.5, hess_init=1.0, weight_decay=0.1,
                n_steps=50, n_data=1, batch_size=1, rng=np.random.default_rng(0))
    assert np.all(path.hessians + 0.1 > 0)
    plain = 1.0
    for _ in range(5):
        plain = 0.5 * plain - 0.5
    assert plain + 0.1 < 0


def test_clipping_bounds_each_coordinates_step():
    path = ivon(lambda th, idx: 1e3 * np.ones_like(th), [0.0, 0.0], lr=0.1, ess=1.0, hess_init=1.0,
                weight_decay=1e-4, n_steps=5, n_data=1, batch_size=1, rng=0, clip_radius=0.5)
    assert np.all(np.abs(np.diff(path.means, axis=0)) <= 0.1 * 0.5 + 1e-15)


@pytest.mark.parametrize("batch", [(2,)])
def test_leading_axes_are_independent_problems(batch):
    """θ of shape (K, *batch, D): each problem moves on its own (same noise stream for the whole batch)."""
    g = lambda th, idx: th - np.array([[1.0], [-1.0]])  # noqa: E731
    path = ivon(g, np.zeros(batch + (1,)), lr=0.1, ess=100.0, beta2=0.99, hess_init=1.0, weight_decay=1e-3,
                n_steps=2000, n_data=1, batch_size=1, rng=0)
    assert path.means.shape == (2001,) + batch + (1,)
    np.testing.assert_allclose(path.means[-500:].mean(0)[:, 0], [1.0, -1.0], atol=0.05)
