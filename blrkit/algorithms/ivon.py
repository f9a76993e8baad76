r"""IVON: the improved BLR for a diagonal Gaussian with a Hessian from gradients (Shen et al. 2024).

The candidate is :math:`q = \mathcal N(m, \mathrm{diag}(s)^{-1})` with :math:`s = N_{\mathrm{ess}}(h + \delta)`:
:math:`h` estimates the Hessian of the *mean* loss, δ is the weight decay (the prior
:math:`\mathcal N(0, (N_{\mathrm{ess}}\delta)^{-1}I)`) and :math:`N_{\mathrm{ess}}` the effective sample
size.  The recipe ``ivon`` derives the step: the BLR, the expected Hessian by Stein's lemma
:math:`\mathbb E_q[\mathrm{diag}\,\nabla^2\ell] = s\odot\mathbb E_q[\nabla\ell(\theta)\odot(\theta - m)]`
(no second derivatives), a minibatch and Monte-Carlo samples, the improved BLR of Lin, Schmidt & Khan
(2020) with ρ = 1 − β₂, which keeps :math:`h + \delta > 0` whatever the sign of the estimate, then
three rewrites that are not the BLR: the decoupled step ``lr``, the momentum β₁ on the gradient, and
its bias correction.  The numeric update is the emitted :func:`~blrkit.algorithms._generated.ivon.ivon_step`
(Khan & Rue 2023, Sec. 4.2; Shen et al. 2024, Alg. 1).

The drivers compute with the namespace of their array arguments (:mod:`blrkit._array_api`): the arrays of
another Array API library (PyTorch, JAX, CuPy, array-api-strict) run in that library, ``grad_batch`` receives
its arrays (θ and the minibatch indices) and the result holds its arrays; random draws stay on the host's
``rng``.
"""

from __future__ import annotations

import numpy as np

from blrkit._array_api import array_namespace
from blrkit._validation import check_count
from blrkit.algorithms._checks import check_scalar, require_callable
from blrkit.algorithms._common import broadcast_to_batch, check_interval, check_start
from blrkit.algorithms._generated.ivon import ivon_step
from blrkit.algorithms._namespace import floating_dtype, on_namespace
from blrkit.algorithms._runner import Run
from blrkit.algorithms.results import IVONResult

__all__ = ["ivon"]


def ivon(grad_batch, m0, *, lr, ess, beta1=0.9, beta2=0.99999, hess_init, weight_decay=1e-4, n_samples: int = 1,
         n_steps: int, n_data: int, batch_size: int, rng=None) -> IVONResult:
    r"""Run ``n_steps`` steps of IVON (improved variational online Newton), the BLR's emitted step.

    Each step draws a minibatch :math:`\mathcal B_t` (``np.sort(rng.choice(n_data, batch_size,
    replace=False))``) and K = ``n_samples`` draws :math:`\theta_k = m_t + \varepsilon_k/\sqrt{s_t}` from the
    same generator, then

    .. math::

        \hat g = \tfrac1K\textstyle\sum_k \bar g(\theta_k), \quad
        \hat h = s_t \odot \tfrac1K\textstyle\sum_k \bar g(\theta_k)\odot(\theta_k - m_t), \quad
        \tilde g_{t+1} = \beta_1\tilde g_t + (1-\beta_1)\hat g,

        h_{t+1} = \beta_2 h_t + (1-\beta_2)\hat h + \tfrac12(1-\beta_2)^2\frac{(h_t - \hat h)^2}{h_t + \delta},
        \qquad
        m_{t+1} = m_t - \mathrm{lr}\,\frac{\tilde g_{t+1}/(1-\beta_1^{t+1}) + \delta m_t}{h_{t+1} + \delta},

    from :math:`\tilde g_0 = 0`, :math:`h_0` = ``hess_init``; :math:`s_t = N_{\mathrm{ess}}(h_t + \delta)` and
    :math:`\bar g(\theta) = \frac1M\sum_{i\in\mathcal B_t}\nabla\ell_i(\theta)` is ``grad_batch(θ, idx)``.
    With ``ess = n_data`` and ``weight_decay = α/N`` this is the BLR for the loss
    :math:`\sum_i\ell_i` and the prior :math:`\mathcal N(0, \alpha^{-1}I)`.  ivon-opt's ``rescale_lr``
    multiplies ``lr`` by :math:`h_0 + \delta`; pass that product here to match it.  The paper's optional
    clipping of the update is not applied (ivon-opt's default, ``clip_radius=inf``).

    Parameters
    ----------
    grad_batch : callable
        ``grad_batch(theta, idx)``: θ ``(K, *batch, D)`` and an index array of length M → the mean
        minibatch gradient :math:`\bar g(\theta)` of the data term (weight decay excluded), same shape.
    m0 : array_like, shape (*batch, D)
        Starting mean; leading axes are independent problems.
    lr : float
        Step of the mean, > 0.
    ess : float
        Effective sample size :math:`N_{\mathrm{ess}}` > 0 (``n_data`` for the BLR posterior).
    beta1 : float, default 0.9
        Momentum of the gradient, in [0, 1).
    beta2 : float, default 0.99999
        1 − ρ, the decay of the Hessian estimate, in [0, 1).
    hess_init : float or array_like broadcastable to (*batch, D)
        :math:`h_0` > 0.
    weight_decay : float, default 1e-4
        δ ≥ 0.
    n_samples : int, default 1
        Monte-Carlo samples K per step, ≥ 1.
    n_steps : int
        Number of steps, ≥ 0.
    n_data, batch_size : int
        N ≥ 1 terms of the loss and M (1 ≤ M ≤ N) per minibatch.
    rng : numpy.random.Generator or int or None
        Source of the minibatches and the samples.

    Returns
    -------
    IVONResult
        ``means`` and ``hessians`` ``(n_steps + 1, *batch, D)``; ``precisions`` = N_ess (h + δ).

    Raises
    ------
    ValueError
        ``lr``, ``ess``, ``beta1``, ``beta2``, ``hess_init``, ``weight_decay``, ``n_samples`` out of range;
        ``grad_batch`` returning a wrong shape, or NaN/inf (the step is named).

    References
    ----------
    Shen, Daheim, Cong, Nickl, Marconi, Bazan, Yokota, Gurevych, Cremers, Khan & Möllenhoff, "Variational
    Learning is Effective for Large Deep Networks", ICML 2024, Alg. 1.  Khan & Rue 2023, Sec. 4.2.

    Examples
    --------
    Least squares with N = 3 examples: the mean settles at the posterior mean of the prior
    N(0, (N δ)⁻¹ I) (here δ is tiny, so at the least-squares solution).

    >>> import numpy as np
    >>> from blrkit.algorithms import ivon
    >>> X = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]]); y = np.array([1.0, 2.0, 2.0])
    >>> g = lambda th, idx: np.mean(((th @ X[idx].T) - y[idx])[..., None] * X[idx], axis=-2)
    >>> res = ivon(g, np.zeros(2), lr=0.1, ess=3e6, hess_init=1.0, weight_decay=1e-8, n_steps=2000,
    ...            n_data=3, batch_size=3, rng=0)
    >>> np.round(res.means[-1], 3)
    array([1., 1.])
    """
    xp = array_namespace(m0=m0, lr=lr, ess=ess, beta1=beta1, beta2=beta2, hess_init=hess_init,
                         weight_decay=weight_decay)
    m = check_start(m0)
    run = Run(xp, n_steps=n_steps, n_data=n_data, batch_size=batch_size, rng=rng,
              dtype=floating_dtype(xp, m0=m0, hess_init=hess_init))
    require_callable(grad_batch, "grad_batch")
    lr, ess = check_scalar(lr, "lr", low=0.0), check_scalar(ess, "ess", low=0.0)
    b1 = check_scalar(beta1, "beta1", low=0.0, high=1.0, closed_low=True)
    rho = 1.0 - check_scalar(beta2, "beta2", low=0.0, high=1.0, closed_low=True)
    delta = check_scalar(weight_decay, "weight_decay", low=0.0, closed_low=True)
    h = broadcast_to_batch(check_interval(hess_init, "hess_init", 0.0, np.inf), "hess_init", tuple(m.shape))
    h = h.copy() if xp is np else on_namespace(xp, h, m)
    check_count(n_samples, "n_samples")
    grad_batch = run.oracle(grad_batch, "grad_batch", what="the mean minibatch gradient", arg_name="θ")

    def step(state):
        idx = run.minibatch(state[0])
        return ivon_step(*state, rho, lr, b1, delta, ess, run.t, lambda theta: grad_batch(theta, idx),
                         int(n_samples), run.rng)

    def check(t, state):
        m, h, _ = state
        if not (bool(xp.all(xp.isfinite(m))) and bool(xp.all(xp.isfinite(h)))):
            raise ValueError(f"the iterates became non-finite at step {t}: lr is too large or the loss "
                             "overflowed")

    means, hessians = run.loop(step, (m, h, xp.zeros_like(m)), keep=(0, 1), check=check)
    return IVONResult(means=means, hessians=hessians, ess=ess, weight_decay=delta)
