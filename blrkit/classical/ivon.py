r"""IVON, the improved variational online Newton method, as Shen et al. (2024), Algorithm 1, writes it.

The posterior is the mean-field Gaussian :math:`q = \mathcal N(m, \mathrm{diag}(\sigma^2))` with
:math:`\sigma^2 = 1/(\lambda(h + \delta))`: λ is the effective sample size (``ess``), δ the weight
decay and h a running estimate of the diagonal Hessian of the *mean* loss. Each step t = 1, 2, …

.. math::

    \theta &= m + \sigma\odot\varepsilon,\quad \varepsilon\sim\mathcal N(0, I),\qquad
    \hat g = \nabla\hat\ell(\theta),\qquad \hat h = \hat g\odot(\theta - m)/\sigma^2, \\
    \bar g &\leftarrow \beta_1\bar g + (1-\beta_1)\hat g, \\
    h &\leftarrow \beta_2 h + (1-\beta_2)\hat h + \tfrac12(1-\beta_2)^2 (h-\hat h)^2/(h+\delta), \\
    m &\leftarrow m - \alpha\,\big(\bar g/(1-\beta_1^t) + \delta m\big)/(h+\delta),

where :math:`\hat\ell` is the minibatch mean of the per-example losses (data term only; the weight
decay enters through δ) and ĥ is the reparameterisation (Price) estimate of
:math:`\mathrm{diag}\,\mathbb E_q[\nabla^2\hat\ell]`. With K > 1 samples, ĝ and ĥ are averaged over them.
The third term of the h update is the improved BLR's correction (Lin, Schmidt & Khan 2020): it
keeps h + δ > 0 whatever the sign of ĥ.

Written from the paper, independently of :mod:`blrkit.algorithms`: one plain loop over the steps,
the oracle of :func:`blrkit.algorithms.ivon`. Two details of the authors' PyTorch package
(``ivon-opt``) that are not in the formulas above: it multiplies α by :math:`h_0 + \delta`
(``rescale_lr``), not done here, and it clips the preconditioned step
:math:`(\bar g/(1-\beta_1^t) + \delta m)/(h+\delta)` elementwise to ``[-clip_radius, clip_radius]``
before multiplying by α (default: no clipping). ``clip_radius`` here does the same; it is off by
default.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class IVONPath(NamedTuple):
    """Every iterate: ``means`` and ``hessians`` h, both ``(n_steps + 1, *batch, D)``; the posterior
    precision at step t is ``ess * (hessians[t] + weight_decay)``."""

    means: np.ndarray
    hessians: np.ndarray


def ivon(grad_batch, m0, *, lr, ess, beta1=0.9, beta2=0.99999, hess_init, weight_decay, n_samples=1,
         n_steps, n_data, batch_size, rng, clip_radius=np.inf) -> IVONPath:
    r"""Run IVON for ``n_steps`` steps; return every mean and every Hessian estimate.

    Each step draws, from ``rng`` and in this order, the minibatch
    ``np.sort(rng.choice(n_data, batch_size, replace=False))`` and then the noise
    ``rng.standard_normal((n_samples, *m.shape))``; ``grad_batch(θ, idx)`` is called once per step on
    all K samples, ``(K, *batch, D)`` → ``(K, *batch, D)``, and must return the mean over
    ``idx`` of the per-example gradients (data term only).

    >>> g = lambda th, idx: th - 1.0                 # ℓ̂(θ) = ½(θ − 1)², Hessian 1
    >>> p = ivon(g, [0.0], lr=0.1, ess=100.0, beta2=0.99, hess_init=1.0, weight_decay=1e-3, n_steps=3000,
    ...          n_data=1, batch_size=1, rng=np.random.default_rng(0))
    >>> bool(abs(p.means[-1, 0] - 1.0) < 0.05), bool(abs(p.hessians[-500:].mean() - 1.0) < 0.2)
    (True, True)
    """
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    m = np.array(m0, dtype=float)
    h = np.broadcast_to(np.asarray(hess_init, dtype=float), m.shape).copy()
    delta = float(weight_decay)
    g_bar = np.zeros_like(m)
    means, hessians = [m.copy()], [h.copy()]
    for t in range(1, n_steps + 1):
        idx = np.sort(rng.choice(n_data, batch_size, replace=False))
        eps = rng.standard_normal((n_samples,) + m.shape)
        sigma = 1.0 / np.sqrt(ess * (h + delta))
        theta = m + sigma * eps
        g_k = np.asarray(grad_batch(theta, idx), dtype=float)
        g_hat = g_k.mean(axis=0)
        # Price's theorem: E[∇ℓ(θ)(θ − m)ᵀ] Σ⁻¹ = E[∇²ℓ(θ)]; its diagonal, one draw at a time
        h_hat = (g_k * (theta - m)).mean(axis=0) / sigma**2
        g_bar = beta1 * g_bar + (1 - beta1) * g_hat
        h = beta2 * h + (1 - beta2) * h_hat + 0.5 * (1 - beta2) ** 2 * (h - h_hat) ** 2 / (h + delta)
        step = (g_bar / (1 - beta1**t) + delta * m) / (h + delta)
        m = m - lr * np.clip(step, -clip_radius, clip_radius)
        means.append(m.copy())
        hessians.append(h.copy())
    return IVONPath(np.array(means), np.array(hessians))
