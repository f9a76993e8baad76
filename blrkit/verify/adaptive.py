r"""Row checks of RMSprop and Adam: the diagonal-Gaussian BLR with a squared-gradient Hessian.

Each check runs the public driver (:func:`blrkit.algorithms.rmsprop`, :func:`blrkit.algorithms.adam`)
on a seeded logistic regression with PyTorch's default hyperparameters, ρ = 1 − α = 0.01 < 1
(RMSprop) and ρ = 1 − β₂ = 0.001 < 1 (Adam), and compares every iterate with the textbook loop of
:mod:`blrkit.classical.rmsprop` / :mod:`blrkit.classical.adam` (independent: written from Tieleman
& Hinton and Kingma & Ba, without the derive layer). The step compiled from the derivation,
looped by hand, is compared with the driver as a freshness check (Khan & Rue 2023, Sec. 4.2).
"""

from __future__ import annotations

import numpy as np

from blrkit.verify.gaussian import logistic
from blrkit.verify.registry import SAME_CODE, SEQUENCE, Check, Problem, compare, register

#: Steps of size ~lr whatever the gradient's scale (the steps are normalised by √v), PyTorch's
#: default ε. A slowly decaying v (ρ ≤ 0.01, PyTorch's defaults) keeps √v of the order of the past
#: gradients, so the map θ ↦ θ − lr·g/√v stays contracting near the optimum; with ρ = 0.1 and
#: lr = 0.05 it is not, and two equal computations in different summation orders drift apart
#: exponentially (an ill-conditioned problem, not an error of either).
_K, _LR, _EPS = 40, 0.02, 1e-8


@register()
def rmsprop(p: Problem, recipe) -> list[Check]:
    from blrkit.algorithms import rmsprop as driver
    from blrkit.classical.rmsprop import rmsprop as classical

    prob, singles = logistic(p)
    m0, alpha = np.zeros((p.batch, p.dim)), 0.99  # ρ = 1 − α = 0.01
    means = driver(prob.grad, m0, lr=_LR, alpha=alpha, eps=_EPS, n_steps=_K).means
    derived = _loop(recipe.derive().compile(), m0, 1, lambda t: dict(rho=1 - alpha, lr=_LR, eps=_EPS), prob.grad)
    textbook = np.stack([classical(s.grad, m0[b], lr=_LR, alpha=alpha, eps=_EPS, n_steps=_K)
                         for b, s in enumerate(singles)], axis=1)
    return [compare("derived step (compiled)", SAME_CODE, False, (derived, means)),
            compare("classical.rmsprop (rho = 0.01)", SEQUENCE, True, (means, textbook))]


@register()
def adam(p: Problem, recipe) -> list[Check]:
    from blrkit.algorithms import adam as driver
    from blrkit.classical.adam import adam as classical

    prob, singles = logistic(p)
    m0, betas = np.zeros((p.batch, p.dim)), (0.9, 0.999)  # ρ = 1 − β₂ = 0.001
    means = driver(prob.grad, m0, lr=_LR, betas=betas, eps=_EPS, n_steps=_K).means
    derived = _loop(recipe.derive().compile(), m0, 2,
                    lambda t: dict(rho=1 - betas[1], lr=_LR, eps=_EPS, beta1=betas[0], t=t), prob.grad)
    textbook = np.stack([classical(s.grad, m0[b], lr=_LR, betas=betas, eps=_EPS, n_steps=_K)
                         for b, s in enumerate(singles)], axis=1)
    return [compare("derived step (compiled)", SAME_CODE, False, (derived, means)),
            compare("classical.adam (rho = 0.001)", SEQUENCE, True, (means, textbook))]


def _loop(step, m0, n_state, hyper, grad):
    """``_K`` steps of a compiled step ``step(m, *state, **hyper(t), grad_mean=grad)`` from zero
    states: every mean, ``(_K + 1, *m0.shape)``."""
    m, state, means = m0, [np.zeros_like(m0) for _ in range(n_state)], [m0]
    for t in range(1, _K + 1):
        m, *state = step(m, *state, grad_mean=grad, **hyper(t))
        means.append(m)
    return np.stack(means)


# -- IVON ------------------------------------------------------------------------------------------

#: Standard errors allowed between a Monte-Carlo fixed point and its closed form (see ``_REPLICAS``).
N_SE = 5.0


@register()
def ivon(p: Problem, recipe) -> list[Check]:
    r"""IVON (Shen et al. 2024) against two counterparts that share no code with the emitted step.

    1. :func:`blrkit.classical.ivon.ivon`, the paper's Algorithm 1 as a plain loop, on the same
       minibatches and samples: every mean and Hessian estimate on a logistic regression, ρ = 1 − β₂ =
       0.01, K = 2 samples, M < N.
    2. The closed form of its fixed point on Bayesian linear regression (``ess = N``, δ = α/N): the
       mean-field posterior has the exact mean :math:`A^{-1}X^\top y` and the precision
       :math:`\mathrm{diag}(A)`, :math:`A = X^\top X + \alpha I`.  The driver's time average over the
       second half of the run is compared in standard errors over 16 independent replicas (``_REPLICAS``).
    """
    from blrkit.algorithms import ivon as driver
    from blrkit.classical.ivon import ivon as classical

    prob, _ = logistic(p)
    X, y, N = prob.X, prob.y, p.n
    M, K, steps = max(1, N // 4), 2, 50

    def grad_batch(theta, idx):  # mean over idx of the logistic per-example gradients, θ (..., batch, D)
        Xb = X[:, idx]
        r = 1 / (1 + np.exp(-np.einsum("...bd,bmd->...bm", theta, Xb))) - y[:, idx]
        return np.einsum("...bm,bmd->...bd", r, Xb) / len(idx)

    hyper = dict(lr=0.05, ess=float(N), beta1=0.9, beta2=0.99, hess_init=0.5, weight_decay=prob.alpha / N,
                 n_samples=K, n_steps=steps, n_data=N, batch_size=M)
    m0 = np.zeros((p.batch, p.dim))
    res = driver(grad_batch, m0, rng=p.seed, **hyper)
    book = classical(grad_batch, m0, rng=np.random.default_rng(p.seed), **hyper)
    derived = _ivon_derived(recipe.derive().compile(), m0, hyper, grad_batch, np.random.default_rng(p.seed))
    return [compare("derived step (compiled)", SAME_CODE, False, (derived[0], res.means), (derived[1], res.hessians)),
            compare(f"classical.ivon (rho = 0.01, K = {K}, M = {M} of N = {N})", SEQUENCE, True,
                    (res.means, book.means), (res.hessians, book.hessians)),
            _ivon_fixed_point(p, driver)]


def _ivon_derived(step, m, hyper, grad_batch, draws):
    """The compiled derivation looped by hand, drawing as the driver does: ``(means, hessians)``."""
    h, g_avg = np.full_like(m, hyper["hess_init"]), np.zeros_like(m)
    ms, hs = [m], [h]
    for t in range(1, hyper["n_steps"] + 1):
        idx = np.sort(draws.choice(hyper["n_data"], hyper["batch_size"], replace=False))
        m, h, g_avg = step(m, h, g_avg, 1 - hyper["beta2"], hyper["lr"], hyper["beta1"], hyper["weight_decay"],
                           hyper["ess"], t, lambda th, idx=idx: grad_batch(th, idx), hyper["n_samples"], draws)
        ms.append(m)
        hs.append(h)
    return np.stack(ms), np.stack(hs)


def _ivon_fixed_point(p: Problem, driver) -> Check:
    """The driver's time-averaged mean and precision against the mean-field posterior of Bayesian
    linear regression (closed form), in standard errors over independent replicas."""
    rng = p.rng()
    X = rng.standard_normal((p.batch, p.n, p.dim)) @ np.linalg.cholesky(0.5 * np.eye(p.dim) + 0.5)
    y = (X @ rng.standard_normal(p.dim)) + rng.standard_normal((p.batch, p.n))
    alpha, N = 2.0, p.n
    A = np.swapaxes(X, -1, -2) @ X + alpha * np.eye(p.dim)
    m_star = np.linalg.solve(A, (np.swapaxes(X, -1, -2) @ y[..., None]))[..., 0]

    def grad_batch(theta, idx):  # θ (K, replicas, batch, D)
        Xb = X[:, idx]
        return np.einsum("...bm,bmd->...bd", np.einsum("...bd,bmd->...bm", theta, Xb) - y[:, idx], Xb) / len(idx)

    res = driver(grad_batch, np.zeros((_REPLICAS, p.batch, p.dim)), lr=0.05, ess=float(N), beta2=0.999,
                 hess_init=1.0, weight_decay=alpha / N, n_steps=_T, n_data=N, batch_size=N, rng=p.seed)
    z = 0.0
    for est, exact in ((res.means, m_star), (res.precisions, np.diagonal(A, axis1=-2, axis2=-1))):
        per_replica = est[_T // 2 + 1:].mean(axis=0)  # (replicas, batch, D), independent
        se = per_replica.std(axis=0, ddof=1) / np.sqrt(_REPLICAS)
        z = max(z, float(np.max(np.abs(per_replica.mean(axis=0) - exact) / se)))
    return Check(f"mean-field posterior of linear regression (closed form, {_REPLICAS} replicas)", z, N_SE, True,
                 unit="s.e.")


#: Independent replicas of the run (the samples differ, the problem does not), and steps: the second
#: half spans 5 correlation times 1/ρ = 1,000 of h. With 16 replicas |t| > 5 has probability 1.6e-4
#: per compared number (Student t, 15 degrees of freedom). The iBLR term biases h by
#: ρ/2·Var(ĥ)/(h + δ) ≈ 0.2 % of s, under half a standard error (≈ 0.5 % of s).
_REPLICAS, _T = 16, 10_000
