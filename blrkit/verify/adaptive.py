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


@register("rmsprop")
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


@register("adam")
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
