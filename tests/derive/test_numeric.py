"""Numbers: every recipe's step, compiled from its derivation and as the committed generated module,
against a separately written textbook step (a few lines here, or :mod:`blrkit.classical`).

Inputs are seeded, random and batched: leading batch dimensions (4, 3), D = 3 (O = 2 for the Kalman
observation), N = 10 data. One step of closed-form linear algebra in float64, so agreement is to
``ONE_STEP`` (see tolerances.py).
"""

import importlib

import numpy as np
import pytest
import scipy.stats

from blrkit.classical import conjugate as classical_conjugate
from blrkit.classical.gradient_descent import gradient_descent as classical_gd
from blrkit.classical.kalman import kalman_filter as classical_kalman
from blrkit.classical.newton import newton as classical_newton
from blrkit.classical.problems import LogisticRegression, logistic_problem, random_spd
from blrkit.classical.ridge import ridge as classical_ridge
from blrkit.derive import RECIPES

from .tolerances import MC_SIGMAS, ONE_STEP, SCIPY, assert_close

BATCH, D, O, N = (4, 3), 3, 2, 10
SEED = 7


def solve_vec(A, b):
    """A⁻¹b for batched A (..., D, D), b (..., D)."""
    return np.linalg.solve(A, b[..., None])[..., 0]


def each(batch=BATCH):
    """Every index of the batch."""
    return list(np.ndindex(*batch))


def logistic(rng):
    """A batched logistic-regression loss (non-quadratic) with its per-problem versions."""
    p = logistic_problem(rng, N, D, batch=BATCH)
    return p, {i: LogisticRegression(p.X[i], p.y[i], p.alpha) for i in each()}


class Quadratic:
    """ℓ(θ) = ½θᵀAθ − bᵀθ, batched: ∇ℓ = Aθ − b, ∇²ℓ = A, for θ with any extra leading axes."""

    def __init__(self, rng):
        self.A, self.b = random_spd(rng, D, batch=BATCH), rng.standard_normal(BATCH + (D,))

    def grad(self, theta):
        return (self.A @ theta[..., None])[..., 0] - self.b

    def hess(self, theta):
        return np.broadcast_to(self.A, theta.shape + (D,))


def state(rng):
    """A random Gaussian state: mean (4, 3, D), SPD precision, learning rate in (0, 1)."""
    return rng.standard_normal(BATCH + (D,)), random_spd(rng, D, batch=BATCH), rng.uniform(0.1, 0.9, BATCH)


def damped_newton_oracle(m, S, rho, g, H):
    # S_{t+1} = (1 − ρ) S_t + ρ H,   m_{t+1} = m_t − ρ S_{t+1}⁻¹ g
    S_new = (1 - rho)[..., None, None] * S + rho[..., None, None] * H
    return {"S_new": S_new, "m_new": m - rho[..., None] * solve_vec(S_new, g)}


# -- one case per recipe: rng -> (make_kwargs, expected outputs) ------------------------------

def case_gradient_descent(rng):
    p, single = logistic(rng)
    m, _, rho = state(rng)
    expected = np.stack([classical_gd(single[i].grad, m[i], rho[i], 1)[1] for i in each()]).reshape(m.shape)
    return lambda: dict(m=m, rho=rho, grad=p.grad), {"m_new": expected}


def case_newton(rng):
    p, single = logistic(rng)
    m, _, _ = state(rng)
    expected = np.stack([classical_newton(single[i].grad, single[i].hess, m[i], 1)[1] for i in each()])
    return lambda: dict(m=m, grad=p.grad, hess=p.hess), {"m_new": expected.reshape(m.shape), "S_new": p.hess(m)}


def case_damped_newton(rng):
    p, _ = logistic(rng)
    m, S, rho = state(rng)
    return (lambda: dict(m=m, S=S, rho=rho, grad=p.grad, hess=p.hess),
            damped_newton_oracle(m, S, rho, p.grad(m), p.hess(m)))


case_laplace = case_damped_newton


def case_ridge(rng):
    X, y = rng.standard_normal(BATCH + (N, D)), rng.standard_normal(BATCH + (N,))
    alpha, s2 = rng.uniform(0.5, 2.0, BATCH), rng.uniform(0.5, 2.0, BATCH)
    # S = XᵀX/σ² + αI; the mean by least squares on augmented data (blrkit.classical.ridge, an SVD)
    S = np.swapaxes(X, -1, -2) @ X / s2[..., None, None] + alpha[..., None, None] * np.eye(D)
    m = np.stack([classical_ridge(X[i], y[i], alpha[i] * s2[i]) for i in each()]).reshape(BATCH + (D,))
    return lambda: dict(X=X, y=y, alpha=alpha, noise_variance=s2), {"S_new": S, "m_new": m}


def case_kalman_update(rng):
    m_pred, P_pred = rng.standard_normal(BATCH + (D,)), random_spd(rng, D, batch=BATCH)
    y, H, R = rng.standard_normal(BATCH + (O,)), rng.standard_normal(BATCH + (O, D)), random_spd(rng, O, batch=BATCH)
    d = rng.standard_normal(BATCH + (O,))  # observation offset: the residual is y − d − Hθ
    Ht = np.swapaxes(H, -1, -2)
    # information form: S = P̄⁻¹ + HᵀR⁻¹H, m = S⁻¹(P̄⁻¹m̄ + HᵀR⁻¹(y − d)), P = S⁻¹
    S = np.linalg.inv(P_pred) + Ht @ np.linalg.solve(R, H)
    m = solve_vec(S, solve_vec(P_pred, m_pred) + (Ht @ solve_vec(R, y - d)[..., None])[..., 0])
    C = H @ P_pred @ Ht + R
    expected = {"m_new": m, "P_new": np.linalg.inv(S), "v": y - d - (H @ m_pred[..., None])[..., 0], "C": C,
                "K": P_pred @ Ht @ np.linalg.inv(C)}
    # and the hand-written filter, one problem at a time (T = 1: the observation updates the prior)
    for i in each():
        mk, Pk, _ = classical_kalman((y[i] - d[i])[None], np.eye(D), np.eye(D), H[i], R[i], m_pred[i], P_pred[i])
        assert_close(mk[0], m[i], ONE_STEP)
        assert_close(Pk[0], expected["P_new"][i], ONE_STEP)
    return lambda: dict(m_pred=m_pred, P_pred=P_pred, y=y, H=H, R=R, d=d), expected


def case_diagonal_newton(rng):
    p, _ = logistic(rng)
    m, _, rho = state(rng)
    s = rng.uniform(0.5, 2.0, BATCH + (D,))
    hess_diag = lambda theta: np.diagonal(p.hess(theta), axis1=-2, axis2=-1)  # noqa: E731
    # s_{t+1} = (1 − ρ)s_t + ρ diag H,  m_{t+1} = m_t − ρ g / s_{t+1}, elementwise
    s_new = (1 - rho[..., None]) * s + rho[..., None] * hess_diag(m)
    return (lambda: dict(m=m, s=s, rho=rho, grad=p.grad, hess_diag=hess_diag),
            {"s_new": s_new, "m_new": m - rho[..., None] * p.grad(m) / s_new})


def monte_carlo_draws(m, S, n_samples, seed):
    """θ_k = m + L⁻ᵀε_k, S = LLᵀ, ε_k ~ N(0, I) from default_rng(seed): θ_k ~ N(m, S⁻¹)."""
    eps = np.random.default_rng(seed).standard_normal((n_samples,) + m.shape)
    Lt = np.swapaxes(np.linalg.cholesky(S), -1, -2)
    return m + solve_vec(np.broadcast_to(Lt, eps.shape + (D,)), eps)


def case_variational_newton(rng, n_samples=5):
    p, _ = logistic(rng)
    m, S, rho = state(rng)
    theta = monte_carlo_draws(m, S, n_samples, SEED)
    E_g, E_H = p.grad(theta).mean(axis=0), p.hess(theta).mean(axis=0)
    return (lambda: dict(m=m, S=S, rho=rho, grad=p.grad, hess=p.hess, n_samples=n_samples,
                         rng=np.random.default_rng(SEED)),
            damped_newton_oracle(m, S, rho, E_g, E_H))


def case_variational_newton_improved(rng, n_samples=5):
    """The improved BLR in its retraction form, typed here: G = H̄ − S, S ← S + ρG + ρ²/2 G S⁻¹ G."""
    p, _ = logistic(rng)
    m, S, rho = state(rng)
    theta = monte_carlo_draws(m, S, n_samples, SEED)
    E_g, E_H = p.grad(theta).mean(0), p.hess(theta).mean(0)
    r = rho[..., None, None]
    G = E_H - S
    S_new = S + r * G + r**2 / 2 * G @ np.linalg.solve(S, G)
    return (lambda: dict(m=m, S=S, rho=rho, grad=p.grad, hess=p.hess, n_samples=n_samples,
                         rng=np.random.default_rng(SEED)),
            {"S_new": S_new, "m_new": m - rho[..., None] * solve_vec(S_new, E_g)})


def case_sgd(rng):
    p, _ = logistic(rng)
    m, _, rho = state(rng)
    n_data, n_batch = 100, 10
    # m_{t+1} = m_t − ρ (N/M) Σ_{i∈B} ∇ℓ_i(m_t)
    return (lambda: dict(m=m, rho=rho, grad_batch=p.grad, n_data=n_data, n_batch=n_batch),
            {"m_new": m - rho[..., None] * (n_data / n_batch) * p.grad(m)})


def per_example_logistic(rng, n_batch):
    """∇ℓ_i(θ) of a batched logistic regression for i in a minibatch of n_batch rows, stacked on axis -2:
    θ (..., 4, 3, D) → (..., 4, 3, M, D); each term carries its share of the prior."""
    p, _ = logistic(rng)
    X, y = p.X[..., :n_batch, :], p.y[..., :n_batch]

    def grad_terms(theta):
        f = np.einsum("...d,...md->...m", theta, X)
        return (1 / (1 + np.exp(-f)) - y)[..., None] * X + p.alpha / N * theta[..., None, :]
    return grad_terms


def case_ogn(rng):
    grad_terms = per_example_logistic(rng, 4)
    m, _, rho = state(rng)
    s = rng.uniform(0.5, 2.0, BATCH + (D,))
    n_data, n_batch = 100, 4
    G = grad_terms(m)
    # s_{t+1} = (1 − ρ)s_t + ρ(N/M)Σ_{i∈B} g_i²,  m_{t+1} = m_t − ρ(N/M)Σ_{i∈B} g_i / s_{t+1}, elementwise
    s_new = (1 - rho[..., None]) * s + rho[..., None] * (n_data / n_batch) * sum(G[..., i, :] ** 2 for i in range(4))
    m_new = m - rho[..., None] * (n_data / n_batch) * sum(G[..., i, :] for i in range(4)) / s_new
    return (lambda: dict(m=m, s=s, rho=rho, grad_sums=sums_of(grad_terms), n_data=n_data, n_batch=n_batch),
            {"s_new": s_new, "m_new": m_new})


def case_vogn(rng, n_samples=5, improved=False):
    grad_terms = per_example_logistic(rng, 4)
    m, _, rho = state(rng)
    s = rng.uniform(0.5, 2.0, BATCH + (D,))
    n_data, n_batch = 100, 4
    # θ_k = m + ε_k/√s with the generator's draws; then OGN's step with g, g² averaged over the samples
    theta = m + np.random.default_rng(SEED).standard_normal((n_samples,) + m.shape) / np.sqrt(s)
    G = grad_terms(theta)
    E_g, E_h = G.sum(axis=-2).mean(axis=0), (G ** 2).sum(axis=-2).mean(axis=0)
    s_new = (1 - rho[..., None]) * s + rho[..., None] * (n_data / n_batch) * E_h
    if improved:  # Lin, Schmidt & Khan (2020), retraction form: G = ĥ − s, s ← s + ρG + ρ²/2 G²/s
        G_hat = (n_data / n_batch) * E_h - s
        s_new = s + rho[..., None] * G_hat + rho[..., None] ** 2 / 2 * G_hat**2 / s
    m_new = m - rho[..., None] * (n_data / n_batch) * E_g / s_new
    return (lambda: dict(m=m, s=s, rho=rho, grad_sums=sums_of(grad_terms), n_data=n_data, n_batch=n_batch,
                         n_samples=n_samples, rng=np.random.default_rng(SEED)),
            {"s_new": s_new, "m_new": m_new})


def conjugate_inputs(name, rng):
    """Batched prior parameters and data for a conjugate recipe, by keyword."""
    pos = lambda: rng.uniform(0.5, 3.0, BATCH)  # noqa: E731
    if name == "beta_bernoulli":
        return dict(alpha_0=pos(), beta_0=pos(), y=(rng.random(BATCH + (N,)) < 0.3).astype(float))
    if name == "gamma_poisson":
        return dict(alpha_0=pos(), beta_0=pos(), y=rng.poisson(2.5, BATCH + (N,)).astype(float))
    if name == "dirichlet_categorical":
        return dict(alpha_0=rng.uniform(0.5, 3.0, BATCH + (3,)), y=np.eye(3)[rng.integers(0, 3, BATCH + (N,))])
    if name == "gaussian_mean":
        return dict(m_0=rng.standard_normal(BATCH), S_0=pos(), y=rng.normal(1.0, 1.5, BATCH + (N,)),
                    noise_variance=pos())
    if name == "normal_gamma":
        return dict(m_0=rng.standard_normal(BATCH), kappa_0=pos(), alpha_0=pos(), beta_0=pos(),
                    y=rng.normal(1.0, 1.5, BATCH + (N,)))
    raise KeyError(name)


def conjugate_case(name):
    def case(rng):
        kwargs = conjugate_inputs(name, rng)
        out = getattr(classical_conjugate, name)(**kwargs)
        names = [o.name for o in RECIPES[name].derive().outputs]
        return lambda: kwargs, dict(zip(names, out if isinstance(out, tuple) else (out,)))
    return case


def sums_of(grad_terms):
    """The emitted OGN/VOGN steps take (Σ_i ∇ℓ_i, Σ_i ∇ℓ_i²): summed here from the per-example gradients."""
    def sums(theta):
        G = grad_terms(theta)
        return G.sum(axis=-2), (G**2).sum(axis=-2)
    return sums


def case_rmsprop(rng, adam=False):
    """One step against PyTorch's documented update, typed here (torch.optim.RMSprop / Adam)."""
    p, _ = logistic(rng)
    m, _, rho = state(rng)
    v, g_avg = rng.uniform(0.1, 1.0, BATCH + (D,)), rng.normal(size=BATCH + (D,))
    lr, eps, beta1, t = rng.uniform(0.01, 0.1, BATCH), 1e-3, 0.8, 3
    g = p.grad(m)
    v_new = (1 - rho[..., None]) * v + rho[..., None] * g * g  # torch: v = alpha v + (1 - alpha) g², alpha = 1 - ρ
    kwargs = dict(m=m, v=v, rho=rho, lr=lr, eps=eps, grad_mean=p.grad)
    if not adam:
        return lambda: kwargs, {"v_new": v_new, "m_new": m - lr[..., None] * g / (np.sqrt(v_new) + eps)}
    ga_new = beta1 * g_avg + (1 - beta1) * g
    denom = np.sqrt(v_new) / np.sqrt(1 - (1 - rho[..., None]) ** t) + eps
    return (lambda: dict(kwargs, g_avg=g_avg, beta1=beta1, t=t),
            {"v_new": v_new, "g_avg_new": ga_new, "m_new": m - lr[..., None] / (1 - beta1**t) * ga_new / denom})


def case_ivon(rng):
    """One step against Shen et al. (2024), Alg. 1, typed here: ĥ = ĝ ⊙ ε/σ, the iBLR average of h with
    ρ = 1 − β₂, the debiased momentum, the mean step with the new h; K = 2 samples."""
    p, _ = logistic(rng)
    m, _, rho = state(rng)
    h, g_avg = rng.uniform(0.1, 1.0, BATCH + (D,)), rng.normal(size=BATCH + (D,))
    lr, beta1, delta, ess, t, K = rng.uniform(0.01, 0.1, BATCH), 0.8, 0.05, 50.0, 3, 2
    sigma = 1 / np.sqrt(ess * (h + delta))
    eps = np.random.default_rng(SEED).standard_normal((K,) + m.shape)
    theta = m + sigma * eps
    g = np.stack([p.grad(th) for th in theta])
    g_hat, h_hat = g.mean(0), (g * eps / sigma).mean(0)
    r = rho[..., None]
    ga_new = beta1 * g_avg + (1 - beta1) * g_hat
    h_new = (1 - r) * h + r * h_hat + 0.5 * r**2 * (h - h_hat) ** 2 / (h + delta)
    m_new = m - lr[..., None] * (ga_new / (1 - beta1**t) + delta * m) / (h_new + delta)
    return (lambda: dict(m=m, h_avg=h, g_avg=g_avg, rho=rho, lr=lr, beta1=beta1, weight_decay=delta, ess=ess, t=t,
                         grad_mean=lambda th: np.stack([p.grad(x) for x in th]), n_samples=K,
                         rng=np.random.default_rng(SEED)),
            {"h_avg_new": h_new, "g_avg_new": ga_new, "m_new": m_new})


def case_multimodal(rng):
    """One step of K = 3 components of a mixture (batch (4, 3)), against the formulas of Khan & Rue (2023,
    Sec. 3.2) typed here with an explicit inverse and determinant: damped Newton per component, and
    v_k ← (1 − ρ)v_k − ρ(ℓ̄(m_k) + ½ log det S_k − ℓ̄(m_K) − ½ log det S_K)."""
    A = rng.normal(size=(D, D))
    A = A @ A.T + D * np.eye(D)
    loss = lambda th: 0.5 * np.einsum("...i,ij,...j->...", th, A, th) + np.sum(np.cos(th), -1)  # noqa: E731
    grad = lambda th: th @ A - np.sin(th)  # noqa: E731
    hess = lambda th: A - np.eye(D) * np.cos(th)[..., None, :]  # noqa: E731
    m = rng.normal(size=BATCH + (3, D))
    L = rng.normal(size=BATCH + (3, D, D))
    S = L @ np.swapaxes(L, -1, -2) + D * np.eye(D)
    v = rng.normal(size=BATCH + (3,))
    v[..., -1] = 0.0
    rho = rng.uniform(0.1, 1.0, BATCH + (1,))
    S_new = (1 - rho[..., None, None]) * S + rho[..., None, None] * hess(m)
    m_new = m - rho[..., None] * np.einsum("...ij,...j->...i", np.linalg.inv(S_new), grad(m))
    e = loss(m) + 0.5 * np.log(np.linalg.det(S))
    v_new = (1 - rho) * v - rho * (e - e[..., -1:])
    return (lambda: dict(m=m, S=S, v=v, rho=rho, grad=grad, hess=hess, loss=loss),
            {"m_k_new": m_new, "S_k_new": S_new, "v_k_new": v_new})


def case_ncvi(rng):
    """One step for 2 problems of K = 2 components in D = 2, against the hand-written loop of
    blrkit.classical.mixture (log q from scipy's densities, loops over samples), on the same draws."""
    from blrkit.classical.mixture import mixture_vi

    A = np.array([[2.0, 0.3], [0.3, 1.0]])
    loss = lambda th: 0.5 * np.einsum("...i,ij,...j->...", th, A, th) + np.sum(np.cos(th), -1)  # noqa: E731
    grad = lambda th: th @ A - np.sin(th)  # noqa: E731
    hess = lambda th: A - np.eye(2) * np.cos(th)[..., None, :]  # noqa: E731
    m = rng.normal(size=(2, 2, 2))
    L = rng.normal(size=(2, 2, 2, 2))
    S = L @ np.swapaxes(L, -1, -2) + 2 * np.eye(2)
    w = np.array([[0.4, 0.6], [0.7, 0.3]])
    v = np.log(w) - np.log(w[:, -1:])
    rho, rho_pi, K = np.array([[0.3], [0.6]]), 0.2, 3
    draws = np.random.default_rng(SEED)
    # the driver's order: one draw (K, batch = 2, components, D) per step; the hand loop draws per problem
    eps = draws.standard_normal((K, 2, 2, 2))
    out = []
    for b in range(2):
        class Fixed:  # hands the loop problem b's share of the same draw
            def standard_normal(self, shape, b=b):
                return eps[:, b]
        out.append(mixture_vi(loss, grad, hess, m[b], S[b], w[b], float(rho[b, 0]), rho_pi, 1, K, Fixed()))
    return (lambda: dict(m=m, S=S, v=v, rho=rho, rho_pi=rho_pi, grad=grad, hess=hess, loss=loss, n_samples=K,
                         rng=np.random.default_rng(SEED)),
            {"m_k_new": np.stack([o[0][1] for o in out]), "S_k_new": np.stack([o[1][1] for o in out]),
             "v_k_new": np.stack([np.log(o[2][1]) - np.log(o[2][1][-1]) for o in out])})


def case_vmp(rng):
    """One sweep for a batch of data sets, against Bishop's coordinate ascent typed by hand
    (blrkit.classical.vmp), one problem at a time."""
    from blrkit.classical.vmp import normal_gamma_cavi

    y = rng.normal(1.0, 2.0, BATCH + (N,))
    alpha, beta = rng.uniform(0.5, 3.0, BATCH), rng.uniform(0.5, 3.0, BATCH)
    m0, S0, a0, b0 = 0.3, 0.2, 2.0, 1.5
    out = np.array([[normal_gamma_cavi(y[i, j], m0, S0, a0, b0, alpha[i, j], beta[i, j], 1)
                     for j in range(BATCH[1])] for i in range(BATCH[0])])  # (4, 3, 4 params, 2 iterates)
    full = lambda x: np.full(BATCH, x)  # noqa: E731 -- priors per problem
    return (lambda: dict(mu_m=np.zeros(BATCH), mu_S=np.ones(BATCH), tau_alpha=alpha, tau_beta=beta, mu_m_0=full(m0),
                         mu_S_0=full(S0), y=y, tau_alpha_0=full(a0), tau_beta_0=full(b0)),
            {n: out[..., k, 1] for k, n in enumerate(("mu_m_new", "mu_S_new", "tau_alpha_new", "tau_beta_new"))})


def case_ncvmp(rng):
    """One step against Knowles & Minka's messages in mean and variance, typed in blrkit.classical.ncvmp
    (adaptive quadrature), one problem at a time."""
    from blrkit.classical.ncvmp import knowles_minka

    X = rng.normal(size=BATCH + (N, D)) / np.sqrt(D)
    y = np.where(rng.uniform(size=BATCH + (N,)) < 0.5, 1.0, 0.0)  # labels in {0, 1}
    m = 0.3 * rng.normal(size=BATCH + (D,))
    L = rng.normal(size=BATCH + (D, D)) / D
    S = L @ np.swapaxes(L, -1, -2) + np.eye(D)
    alpha = rng.uniform(0.5, 2.0, BATCH)
    out = [[knowles_minka(X[i, j], y[i, j], alpha[i, j], m[i, j], np.linalg.inv(S[i, j]), 1)
            for j in range(BATCH[1])] for i in range(BATCH[0])]
    return (lambda: dict(m=m, S=S, alpha=alpha, X=X, y=y),
            {"m_new": np.array([[o[0][1] for o in row] for row in out]),
             "S_new": np.array([[o[1][1] for o in row] for row in out])})


def case_svi(rng):
    """One SVI step (Hoffman et al. 2013) typed here in natural parameters: η ← (1 − ρ)η + ρ(η₀ + (N/M) Σ_B t(y_i)),
    t(y) = (y/σ², −1/(2σ²)), a minibatch of M = 4 of N = 30."""
    yB = rng.normal(1.0, 2.0, BATCH + (4,))
    m, S, rho = rng.normal(size=BATCH), rng.uniform(0.5, 2.0, BATCH), rng.uniform(0.1, 1.0, BATCH)
    m0, S0, s2, N = 0.2, 0.5, 1.5, 30
    stats = np.stack([yB.sum(-1) / s2, np.full(BATCH, -4 / (2 * s2))])
    eta0 = np.stack([np.full(BATCH, S0 * m0), np.full(BATCH, -S0 / 2)])
    eta = (1 - rho) * np.stack([S * m, -S / 2]) + rho * (eta0 + N / 4 * stats)
    return (lambda: dict(m=m, S=S, rho=rho, m_0=np.full(BATCH, m0), S_0=np.full(BATCH, S0), y=yB,
                         noise_variance=np.full(BATCH, s2), n_data=N),
            {"m_new": eta[0] / (-2 * eta[1]), "S_new": -2 * eta[1]})


def case_bayesbinn(rng):
    """One BayesBiNN step, Meng, Bachmann & Khan (2020) Alg. 1 typed here on the same uniforms:
    w = tanh((λ + ε)/τ), ŝ = N(1 − w²)/(τ(1 − tanh²λ)), λ ← (1 − ρ)λ − ρ(mean_k ŝĝ − λ₀)."""
    lam, lam0, rho = rng.normal(size=BATCH + (D,)), rng.normal(size=BATCH + (D,)), rng.uniform(0.1, 0.9, BATCH)
    tau, N, K = 0.7, 50, 3
    c = rng.normal(size=D)
    grad_mean = lambda w: w - c  # noqa: E731 -- ℓ_i = ½‖w − c‖² per example
    u = np.random.default_rng(SEED).uniform(size=(K,) + BATCH + (D,))
    w = np.tanh((lam + 0.5 * np.log(u / (1 - u))) / tau)
    s_hat = N * (1 - w**2) / (tau * (1 - np.tanh(lam) ** 2))
    expected = (1 - rho[..., None]) * lam - rho[..., None] * (np.mean(s_hat * grad_mean(w), axis=0) - lam0)
    return (lambda: dict(lam=lam, rho=rho, lam_0=lam0, tau=tau, grad_mean=grad_mean, n_data=N, n_samples=K,
                         rng=np.random.default_rng(SEED)), {"lam_new": expected})


def case_ste(rng):
    """One BinaryConnect step typed here: w = sign(λ) (+1 at 0), λ ← λ − α ḡ(w)."""
    lam, lr = rng.normal(size=BATCH + (D,)), rng.uniform(0.01, 0.5, BATCH)
    lam[0, 0, 0] = 0.0  # sign(0) = +1
    c = rng.normal(size=D)
    w = np.where(lam >= 0, 1.0, -1.0)
    return (lambda: dict(lam=lam, lr=lr, grad_mean=lambda v: v - c), {"lam_new": lam - lr[..., None] * (w - c)})


def case_dropout(rng):
    """One step of DropConnect SGD typed here on the same mask: z = [u < p], m ← m − ρ(N/M)(z/p) ⊙ ĝ(z ⊙ m)."""
    m, rho, p, N, M = rng.normal(size=BATCH + (D,)), rng.uniform(0.1, 0.9, BATCH), 0.6, 40, 8
    c = rng.normal(size=D)
    grad_batch = lambda th: M * (th - c)  # noqa: E731 -- Σ over M terms of ∇ ½‖θ − c‖²
    z = (np.random.default_rng(SEED).uniform(size=D) < p).astype(float)
    expected = m - (rho[..., None] * N / M) * (z / p) * grad_batch(z * m)
    return (lambda: dict(m=m, rho=rho, keep_prob=p, grad_batch=grad_batch, n_data=N, n_batch=M,
                         rng=np.random.default_rng(SEED)), {"m_new": expected})


def case_em(rng):
    """One EM iteration for a batch of mixtures (K = 2, N = 10 points in D = 3) against the textbook EM of
    blrkit.classical.em (Bishop §9.2.2, centred covariances), one problem at a time."""
    from blrkit.classical.em import em_gaussian_mixture

    K = 2
    X = rng.normal(size=BATCH + (N, D)) + np.where(np.arange(N) < N // 2, -1.5, 1.5)[:, None]
    w = rng.dirichlet(np.ones(K), size=BATCH)
    m = rng.normal(size=BATCH + (K, D))
    A = rng.normal(size=BATCH + (K, D, D))
    P = A @ np.swapaxes(A, -1, -2) / D + np.eye(D)
    book = [[em_gaussian_mixture(X[i, j], w[i, j], m[i, j], P[i, j], 1) for j in range(BATCH[1])]
            for i in range(BATCH[0])]
    pick = lambda f: np.array([[f(b) for b in row] for row in book])  # noqa: E731 -- per problem
    XX = (X[..., :, :, None] * X[..., :, None, :]).reshape(BATCH + (N, D * D))  # x_i x_iᵀ, flattened
    return (lambda: dict(X=X, XX=XX, weights=w, means=m, precisions=P),
            {"weights_new": pick(lambda b: b.weights[1]), "means_new": pick(lambda b: b.means[1]),
             "precisions_new": pick(lambda b: b.precisions[1]), "log_likelihood": pick(lambda b: b.log_likelihood[0])})


def case_vmp_regression(rng):
    """One sweep (q(w) then q(τ)) for a batch of regressions against the coordinate ascent typed in
    blrkit.classical.vmp, one problem at a time, from q(τ) = Gamma(a, b)."""
    from blrkit.classical.vmp import linear_regression_cavi

    X, y = rng.normal(size=BATCH + (N, D)), rng.normal(size=BATCH + (N,))
    a, b = rng.uniform(0.5, 3.0, BATCH), rng.uniform(0.5, 3.0, BATCH)
    alpha, a0, b0 = 0.7, 2.0, 1.5
    book = [[linear_regression_cavi(X[i, j], y[i, j], alpha=alpha, a0=a0, b0=b0, n_steps=1,
                                    tau_init=(a[i, j], b[i, j])) for j in range(BATCH[1])] for i in range(BATCH[0])]
    pick = lambda f: np.array([[f(c) for c in row] for row in book])  # noqa: E731 -- per problem
    full = lambda x: np.full(BATCH, x)  # noqa: E731 -- priors per problem
    return (lambda: dict(tau_alpha=a, tau_beta=b, X=X, y=y, alpha=full(alpha), tau_alpha_0=full(a0),
                         tau_beta_0=full(b0)),
            {"w_m_new": pick(lambda c: c.means[1]), "w_S_new": pick(lambda c: c.precisions[1]),
             "tau_alpha_new": pick(lambda c: c.shapes[1]), "tau_beta_new": pick(lambda c: c.rates[1])})


def case_svi_lda(rng):
    """One online-LDA step (Hoffman, Blei & Bach 2010, Alg. 2, typed in blrkit.classical.lda): the local fixed
    point of a minibatch of 5 documents, then the topics' step with ρ = 0.4."""
    from blrkit.classical.lda import online_lda

    K, V = 3, 12
    counts = rng.poisson(2.0, size=(5, V)).astype(float)
    counts[:, 0] += 1
    lam = rng.gamma(100.0, 0.01, size=(K, V))
    kappa = np.log(0.4) / -np.log(1.0 + 1)  # ρ_1 = (τ₀ + 1)^(−κ) = 0.4 with τ₀ = 1
    book = online_lda([counts], K, doc_topic_prior=0.3, topic_word_prior=0.2, lambda0=lam, learning_offset=1.0,
                      learning_decay=kappa, total_docs=40, mean_change_tol=1e-6)
    return (lambda: dict(lam=lam, gamma=np.ones((5, K)), counts=counts, rho=0.4, doc_topic_prior=0.3,
                         topic_word_prior=0.2, total_docs=40, max_doc_update_iter=100, mean_change_tol=1e-6),
            {"lam_new": book.topic_word[1], "gamma": book.doc_topic[0]})


def case_bernoulli_exact(rng):
    """One exact-gradient step, λ ← (1 − ρ)λ + ρ(λ₀ − ∇_μE_q[ℓ]), with ∇_μ by the pairing formula typed in
    blrkit.classical.binary.natural_gradient, one problem at a time (P = 3)."""
    from blrkit.classical.binary import natural_gradient

    lam, lam0, rho = rng.normal(size=BATCH + (3,)), rng.normal(size=BATCH + (3,)), rng.uniform(0.1, 0.9, BATCH)
    c = rng.normal(size=3)
    loss = lambda W: (W @ c) ** 2 + W[..., 0] * W[..., 2]  # noqa: E731 -- a coupled loss on {−1, +1}^3
    grad = np.array([[natural_gradient(loss, np.tanh(lam[i, j])) for j in range(BATCH[1])] for i in range(BATCH[0])])
    expected = (1 - rho[..., None]) * lam + rho[..., None] * (lam0 - grad)
    return lambda: dict(lam=lam, rho=rho, lam_0=lam0, loss=loss), {"lam_new": expected}


def case_dropout_noise(rng):
    """One step with a slab of finite variance, typed here on the same draws: z = [u < p], then ε ~ N(0, I),
    m ← m − ρ(N/M)(z/p) ⊙ ĝ(z ⊙ (m + σε))."""
    m, rho, p, sd, N, M = rng.normal(size=BATCH + (D,)), rng.uniform(0.1, 0.9, BATCH), 0.6, 0.4, 40, 8
    c = rng.normal(size=D)
    grad_batch = lambda th: M * (th - c)  # noqa: E731 -- Σ over M terms of ∇ ½‖θ − c‖²
    draws = np.random.default_rng(SEED)
    z = (draws.uniform(size=D) < p).astype(float)
    eps = draws.standard_normal(D)
    expected = m - (rho[..., None] * N / M) * (z / p) * grad_batch(z * (m + sd * eps))
    return (lambda: dict(m=m, rho=rho, keep_prob=p, slab_sd=sd, grad_batch=grad_batch, n_data=N, n_batch=M,
                         rng=np.random.default_rng(SEED)), {"m_new": expected})


#: recipe name -> rng -> (make_kwargs, expected outputs by name)
CASES = {
    "gradient_descent": case_gradient_descent, "newton": case_newton, "damped_newton": case_damped_newton,
    "ridge": case_ridge, "kalman_update": case_kalman_update, "laplace": case_laplace,
    "diagonal_newton": case_diagonal_newton, "variational_newton": case_variational_newton, "sgd": case_sgd,
    "ogn": case_ogn, "vogn": case_vogn, "variational_newton_improved": case_variational_newton_improved,
    "vogn_improved": lambda rng: case_vogn(rng, improved=True),
    "rmsprop": case_rmsprop, "adam": lambda rng: case_rmsprop(rng, adam=True), "ivon": case_ivon,
    "multimodal": case_multimodal, "ncvi": case_ncvi, "vmp": case_vmp,
    "ncvmp": case_ncvmp, "svi": case_svi, "bayesbinn": case_bayesbinn, "ste": case_ste,
    "dropout": case_dropout, "em": case_em, "vmp_regression": case_vmp_regression,
    "svi_lda": case_svi_lda, "bernoulli_exact": case_bernoulli_exact,
    "dropout_noise": case_dropout_noise,
    **{n: conjugate_case(n) for n in ("beta_bernoulli", "gamma_poisson", "dirichlet_categorical",
                                       "gaussian_mean", "normal_gamma")},
}



def record_case(recipe):
    """A record with a check problem and an oracle (a row composed of existing pieces): one step of its
    problem against the oracle, given the draws a step that samples takes from a generator seeded alike."""
    def case(rng):
        from blrkit.verify import Problem
        from blrkit.verify.registry import resolve

        seed = int(rng.integers(2**31))
        spec = recipe.check_problem(Problem(seed=seed, dim=D, n=N))
        state, arguments = spec["state"], dict(spec["arguments"])
        given = {k: v for k, v in arguments.items() if k != "n_samples"}
        if "n_samples" in arguments:  # the step draws (n_samples, *shape of the first state) from rng
            shape = np.shape(next(iter(state.values())))
            given["eps"] = np.random.default_rng(seed).standard_normal((1, arguments["n_samples"], *shape))
        out = resolve(recipe.classical)(**state, **given)
        names = [o.name for o in recipe.derive().outputs]
        kwargs = lambda: {**state, **arguments, **({"rng": np.random.default_rng(seed)}  # noqa: E731
                                                   if "n_samples" in arguments else {})}
        return kwargs, {n: o[1] for n, o in zip(names, out)}
    return case


CASES.update({n: record_case(r) for n, r in RECIPES.items() if r.check_problem is not None and n not in CASES})

CONJUGATE = [r.name for r in RECIPES.values() if r.anchor == "conjugate"]


def generated(recipe):
    return getattr(importlib.import_module("blrkit.algorithms._generated." + recipe.module), recipe.function)


def run(step, recipe, make_kwargs):
    out = step(**make_kwargs())
    out = out if isinstance(out, tuple) else (out,)
    return dict(zip((o.name for o in recipe.derive().outputs), out))


@pytest.mark.parametrize("name", list(RECIPES))
def test_step_matches_textbook(name, rng):
    recipe = RECIPES[name]
    assert name in CASES, f"recipe {name!r} has no numeric textbook case in tests/derive/test_numeric.py"
    make_kwargs, expected = CASES[name](rng)
    for label, step in (("compiled", recipe.derive().compile()), ("generated", generated(recipe))):
        got = run(step, recipe, make_kwargs)
        assert set(expected) <= set(got), (label, sorted(got))
        for key, want in expected.items():
            assert np.shape(got[key]) == np.shape(want), (label, key)
            assert_close(got[key], want, ONE_STEP, err_msg=f"{name} {label} {key}")


# -- variational Newton with a quadratic loss -------------------------------------------------

@pytest.mark.parametrize("n_samples", [1, 7])
def test_variational_newton_quadratic(n_samples, rng):
    """E_q[∇²ℓ] = A is estimated exactly for any n_samples, so S_{t+1} is damped Newton's; E_q[∇ℓ] is
    estimated by ∇ℓ(θ̄) (∇ℓ is affine), so m_{t+1} is damped Newton's step with g taken at the sample
    mean θ̄ of the same draws — equal to damped Newton at m only as n_samples → ∞ (next test)."""
    q = Quadratic(rng)
    m, S, rho = state(rng)
    step = generated(RECIPES["variational_newton"])
    m_new, S_new = step(m, S, rho, q.grad, q.hess, n_samples, np.random.default_rng(SEED))
    theta_bar = monte_carlo_draws(m, S, n_samples, SEED).mean(axis=0)
    want = damped_newton_oracle(m, S, rho, q.grad(theta_bar), q.A)
    assert_close(S_new, generated(RECIPES["damped_newton"])(m, S, rho, q.grad, q.hess)[1], ONE_STEP)
    assert_close(S_new, want["S_new"], ONE_STEP)
    assert_close(m_new, want["m_new"], ONE_STEP)


def test_variational_newton_quadratic_mean_is_damped_newton_on_average(rng):
    """m_{t+1} − m_{t+1}^{Newton} = −ρ S_{t+1}⁻¹ A (θ̄ − m), θ̄ − m ~ N(0, S⁻¹/n): within MC_SIGMAS errors."""
    q = Quadratic(rng)
    m, S, rho = state(rng)
    n = 4000
    m_new, S_new = generated(RECIPES["variational_newton"])(m, S, rho, q.grad, q.hess, n, np.random.default_rng(SEED))
    m_dn, _ = generated(RECIPES["damped_newton"])(m, S, rho, q.grad, q.hess)
    J = -rho[..., None, None] * np.linalg.solve(S_new, q.A)
    cov = J @ np.linalg.solve(S, np.swapaxes(J, -1, -2)) / n
    z = (m_new - m_dn) / np.sqrt(np.diagonal(cov, axis1=-2, axis2=-1))
    assert np.all(np.abs(z) < MC_SIGMAS), z


@pytest.mark.parametrize("name", CONJUGATE)
def test_conjugate_scalar_prior(name, rng):
    """One prior (scalars; a (K,) vector for Dirichlet) shared by a batch of data sets."""
    kwargs = {k: (v if k == "y" else v[(0,) * len(BATCH)]) for k, v in conjugate_inputs(name, rng).items()}
    want = getattr(classical_conjugate, name)(**kwargs)
    got = generated(RECIPES[name])(**kwargs)
    for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
        assert_close(np.broadcast_to(g, np.shape(w)), w, ONE_STEP)


# -- conjugate recipes: independent checks of the posterior -----------------------------------

def log_joint(name, params, kwargs, theta):
    """(log posterior(θ), log prior(θ) + log likelihood(y | θ)) by scipy.stats, at one problem."""
    st, y = scipy.stats, kwargs["y"]
    if name == "beta_bernoulli":
        return (st.beta(*params).logpdf(theta),
                st.beta(kwargs["alpha_0"], kwargs["beta_0"]).logpdf(theta) + st.bernoulli(theta).logpmf(y).sum())
    if name == "gamma_poisson":
        post = st.gamma(params[0], scale=1 / params[1]).logpdf(theta)
        return post, (st.gamma(kwargs["alpha_0"], scale=1 / kwargs["beta_0"]).logpdf(theta)
                      + st.poisson(theta).logpmf(y).sum())
    if name == "dirichlet_categorical":
        return (st.dirichlet(params[0]).logpdf(theta),
                st.dirichlet(kwargs["alpha_0"]).logpdf(theta) + np.sum(y * np.log(theta)))
    if name == "gaussian_mean":
        m, S = params
        return (st.norm(m, S ** -0.5).logpdf(theta),
                st.norm(kwargs["m_0"], kwargs["S_0"] ** -0.5).logpdf(theta)
                + st.norm(theta, kwargs["noise_variance"] ** 0.5).logpdf(y).sum())
    if name == "normal_gamma":
        x, tau = theta

        def ng(m, kappa, alpha, beta):
            return st.norm(m, (kappa * tau) ** -0.5).logpdf(x) + st.gamma(alpha, scale=1 / beta).logpdf(tau)
        prior = ng(kwargs["m_0"], kwargs["kappa_0"], kwargs["alpha_0"], kwargs["beta_0"])
        return ng(*params), prior + st.norm(x, tau ** -0.5).logpdf(y).sum()
    raise KeyError(name)


def random_theta(name, rng):
    if name == "dirichlet_categorical":
        return rng.dirichlet(np.ones(3))
    if name == "normal_gamma":
        return np.array([rng.normal(1.0, 1.0), rng.uniform(0.2, 2.0)])
    return rng.uniform(0.1, 0.9) if name == "beta_bernoulli" else rng.uniform(0.3, 3.0)


@pytest.mark.parametrize("name", CONJUGATE)
def test_conjugate_posterior_is_prior_times_likelihood(name, rng):
    """log p(θ | y) − log p₀(θ) − log p(y | θ) = −log p(y) is the same at every θ (scipy.stats)."""
    kwargs = conjugate_inputs(name, rng)
    out = generated(RECIPES[name])(**kwargs)
    out = out if isinstance(out, tuple) else (out,)
    for i in each()[:3]:
        problem = {k: v[i] for k, v in kwargs.items()}
        params = [o[i] for o in out]
        diffs = [np.subtract(*log_joint(name, params, problem, random_theta(name, rng))) for _ in range(5)]
        assert_close(diffs, np.full(5, diffs[0]), SCIPY, err_msg=name)


@pytest.mark.parametrize("name", CONJUGATE)
def test_conjugate_closed_form_moments(name, rng):
    """Posterior means by their textbook closed forms, e.g. E[θ] = (α₀ + Σy)/(α₀ + β₀ + N) for Beta."""
    kwargs = conjugate_inputs(name, rng)
    out = generated(RECIPES[name])(**kwargs)
    y, sy = kwargs["y"], kwargs["y"].sum(axis=-1)
    if name == "beta_bernoulli":
        got, want = out[0] / (out[0] + out[1]), (kwargs["alpha_0"] + sy) / (kwargs["alpha_0"] + kwargs["beta_0"] + N)
    elif name == "gamma_poisson":
        got, want = out[0] / out[1], (kwargs["alpha_0"] + sy) / (kwargs["beta_0"] + N)
    elif name == "dirichlet_categorical":
        got = out / out.sum(axis=-1, keepdims=True)
        want = (kwargs["alpha_0"] + y.sum(axis=-2)) / (kwargs["alpha_0"].sum(axis=-1) + N)[..., None]
    elif name == "gaussian_mean":
        s2 = kwargs["noise_variance"]
        got, want = out[0], (kwargs["S_0"] * kwargs["m_0"] + sy / s2) / (kwargs["S_0"] + N / s2)
    else:  # normal-gamma: E[x] = m_N; E[τ] = α_N/β_N with α_N = α₀ + N/2 and
        # β_N = β₀ + ½Σ(yᵢ − ȳ)² + κ₀N(ȳ − m₀)²/(2(κ₀ + N)) (Murphy 2007, Eqs. 86–89), from the data alone
        k0, m0 = kwargs["kappa_0"], kwargs["m_0"]
        y_bar = sy / N
        alpha_N = kwargs["alpha_0"] + N / 2
        beta_N = (kwargs["beta_0"] + ((y - y_bar[..., None]) ** 2).sum(axis=-1) / 2
                  + k0 * N * (y_bar - m0) ** 2 / (2 * (k0 + N)))
        got = np.stack([out[0], scipy.stats.gamma(out[2], scale=1 / out[3]).mean()])
        want = np.stack([(k0 * m0 + sy) / (k0 + N), alpha_N / beta_N])
    assert_close(got, want, ONE_STEP)
