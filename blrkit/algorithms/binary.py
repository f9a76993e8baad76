r"""Binary weights: BayesBiNN and the straight-through estimator as BLR steps (Khan & Rue 2023, Sec. 4.5).

The candidate is a mean-field Bernoulli on :math:`\{-1, +1\}^P`, :math:`\lambda = \tfrac12\operatorname{logit}p`,
:math:`\mu = \tanh\lambda`.  BayesBiNN (Meng, Bachmann & Khan 2020) is the BLR with the Gumbel-softmax
relaxation and minibatches (recipe ``bayesbinn``); STE is its deterministic limit (recipe ``ste``: no
relaxation noise, a constant scale, zero temperature, a small step), with latent weights λ.  The numeric
steps are the emitted :func:`~blrkit.algorithms._generated.bayesbinn.bayesbinn_step` and
:func:`~blrkit.algorithms._generated.ste.ste_step`.

The drivers compute with the namespace of their array arguments (:mod:`blrkit._array_api`): the arrays of
another Array API library (PyTorch, JAX, CuPy, array-api-strict) run in that library, ``grad_batch`` (``loss``
for :func:`bernoulli_blr`) receives its arrays (the weights and the minibatch indices) and the result holds
its arrays; random draws stay on the host's ``rng``.
"""

from __future__ import annotations

import numpy as np

from blrkit._array_api import array_namespace
from blrkit._validation import as_float_array, check_count
from blrkit.algorithms._checks import check_scalar, require_callable
from blrkit.algorithms._common import (
    broadcast_to_batch,
    check_interval,
    check_minibatch,
    check_rho,
    check_start,
    per_problem,
)
from blrkit.algorithms._generated.bayesbinn import bayesbinn_step
from blrkit.algorithms._generated.bernoulli_exact import bernoulli_blr_step
from blrkit.algorithms._generated.ste import ste_step
from blrkit.algorithms._namespace import floating_dtype, indices_on, on_namespace, scalar_or_array
from blrkit.algorithms._runner import Run
from blrkit.algorithms.results import BinaryResult

__all__ = ["bayesbinn", "bernoulli_blr", "ste"]


def bayesbinn(grad_batch, lam0, *, lr, temperature, n_steps: int, n_data: int, batch_size: int, prior=0.0,
              n_samples: int = 1, momentum=0.0, rng=None) -> BinaryResult:
    r"""BayesBiNN: the BLR for binary weights with the relaxed (Gumbel-softmax) natural gradient.

    .. math::

        w_k = \tanh\big((\lambda_t + \varepsilon_k)/\tau\big), \quad
        \lambda_{t+1} = (1-\rho)\lambda_t + \rho\Big(\lambda_0 - N\,\frac1K\sum_k
        \frac{1 - w_k^2}{\tau(1 - \tanh^2\lambda_t)}\,\bar g(w_k)\Big),

    :math:`\varepsilon_k = \tfrac12\log(u_k/(1-u_k))`, :math:`u_k \sim U(0, 1)`; ρ = ``lr``, τ = ``temperature``,
    λ₀ = ``prior``, :math:`\bar g(w)` = ``grad_batch(w, idx)``, the mean gradient of a minibatch (Meng, Bachmann &
    Khan 2020, Alg. 1; Khan & Rue 2023, Sec. 4.5).  Each step draws the minibatch
    ``np.sort(rng.choice(n_data, batch_size, replace=False))`` (none when ``batch_size == n_data``) and then
    ``rng.uniform(size=(n_samples, *lam.shape))``.  The authors' code adds a 1e-10 guard on both scales; it is
    not here (the paper's algorithm has none).

    **Momentum, an addition to the BLR** (``momentum`` = β > 0; the authors' code has it, the paper's
    Algorithm 1 and the BLR do not).  The BLR step is :math:`\lambda_{t+1} = \lambda_t - \rho\,d_t` with the
    natural-gradient direction :math:`d_t = \lambda_t - \lambda_0 + N\frac1K\sum_k\hat s_k\bar g(w_k)`
    (the emitted step at ρ = 1 gives :math:`\lambda_t - d_t`).  With momentum the direction is averaged, with
    Adam's bias correction, as in the authors' code:

    .. math::

        v_{t+1} = \beta v_t + (1-\beta)\,d_t, \qquad \lambda_{t+1} = \lambda_t - \rho\,\frac{v_{t+1}}{1-\beta^{t+1}},
        \qquad v_0 = 0.

    β = 0 is the BLR itself; ``momentum=0`` (the default) runs the emitted step unchanged, bit for bit.

    Parameters
    ----------
    grad_batch : callable
        ``grad_batch(w, idx)``: weights ``(K, *batch, P)`` → the mean minibatch gradient in w, same shape.
    lam0 : array_like, shape (*batch, P)
        Start λ.
    lr : float
        ρ in (0, 1].
    temperature : float
        τ > 0 (the bias of the relaxation shrinks with τ, its variance grows).
    n_steps, n_data, batch_size : int
    prior : float or array_like
        λ₀ of the prior (0: p = ½ for every weight).
    n_samples : int
        Relaxed samples per step.
    momentum : float, default 0
        β in [0, 1), the decay of the average of the natural-gradient directions (an addition to the BLR).
    rng : numpy.random.Generator or int or None

    Returns
    -------
    BinaryResult

    Examples
    --------
    >>> import numpy as np
    >>> from blrkit.algorithms import bayesbinn
    >>> g = lambda w, idx: w - np.array([1.0, -1.0])            # ℓ = ½‖w − (1, −1)‖² per example
    >>> res = bayesbinn(g, np.zeros(2), lr=0.1, temperature=0.5, n_steps=200, n_data=1, batch_size=1, rng=0)
    >>> np.sign(res.means[-1])
    array([ 1., -1.])
    """
    xp = array_namespace(lam0=lam0, lr=lr, temperature=temperature, prior=prior, momentum=momentum)
    lam = check_start(lam0, "lam0")
    r = scalar_or_array(check_rho(lr, lam.shape[:-1], "lr"), xp, lam)
    tau = check_scalar(temperature, "temperature", low=0.0)
    lam_prior = on_namespace(xp, broadcast_to_batch(as_float_array(prior, "prior"), "prior", tuple(lam.shape)), lam)
    check_minibatch(n_data, batch_size)
    check_count(n_samples, "n_samples")
    require_callable(grad_batch, "grad_batch")
    beta = check_scalar(momentum, "momentum", low=0.0, high=1.0, closed_low=True)
    run = Run(xp, n_steps=n_steps, n_data=n_data, batch_size=batch_size, rng=rng,
              dtype=floating_dtype(xp, lam0=lam0, prior=prior))

    def blr_step(lam, grad, rho=r):
        return bayesbinn_step(lam, rho, lam_prior, tau, grad, run.n_data, int(n_samples), run.rng)

    return _run(run, blr_step if beta == 0 else _with_momentum(blr_step, beta, r), grad_batch, lam)


def _with_momentum(blr_step, beta, rho):
    r"""The BLR step with its direction :math:`d_t = \lambda_t - \text{blr\_step}(\lambda_t, \rho = 1)` averaged:
    :math:`v \leftarrow \beta v + (1-\beta)d_t`, :math:`\lambda \leftarrow \lambda - \rho\,v/(1-\beta^{t})`."""
    rho = rho if type(rho) is float else rho[..., None]  # one ρ per problem: over the weights
    state = {"v": 0.0, "t": 0}

    def step(lam, grad):
        d = lam - blr_step(lam, grad, rho=1.0)
        state["t"] += 1
        state["v"] = beta * state["v"] + (1 - beta) * d
        return lam - rho * state["v"] / (1 - beta ** state["t"])

    return step


def ste(grad_batch, latent0, *, lr, n_steps: int, n_data: int, batch_size: int, rng=None) -> BinaryResult:
    r"""The straight-through estimator (BinaryConnect): the deterministic limit of BayesBiNN.

    .. math::

        w = \operatorname{sign}(\lambda_t)\ (+1 \text{ at } 0), \qquad \lambda_{t+1} = \lambda_t - \alpha\,\bar g(w),

    α = ``lr``; the latent real weights are λ (Khan & Rue 2023, Sec. 4.5).  ``grad_batch(w, idx)`` is the mean
    gradient of a minibatch at the binary weights; minibatches as in :func:`bayesbinn`.

    Examples
    --------
    >>> import numpy as np
    >>> from blrkit.algorithms import ste
    >>> ste(lambda w, idx: np.array([1.0, -1.0]), [0.05, 0.0], lr=0.1, n_steps=2, n_data=1, batch_size=1).natural
    array([[ 0.05,  0.  ],
           [-0.05,  0.1 ],
           [-0.15,  0.2 ]])
    """
    xp = array_namespace(latent0=latent0, lr=lr)
    lam = check_start(latent0, "latent0")
    a = per_problem(check_interval(lr, "lr", 0.0, np.inf), "lr", tuple(lam.shape[:-1]))
    a = scalar_or_array(a, xp, lam)
    check_minibatch(n_data, batch_size)
    require_callable(grad_batch, "grad_batch")
    run = Run(xp, n_steps=n_steps, n_data=n_data, batch_size=batch_size, rng=rng,
              dtype=floating_dtype(xp, latent0=latent0))
    return _run(run, lambda lam, grad: ste_step(lam, a, grad), grad_batch, lam)


def bernoulli_blr(loss, lam0, *, rho, n_steps: int, prior=0.0) -> BinaryResult:
    r"""The BLR for binary weights with the exact natural gradient, by enumerating :math:`\{-1, +1\}^P`.

    .. math::

        \lambda_{t+1} = (1-\rho)\lambda_t + \rho\big(\lambda_0 - \nabla_\mu\mathbb E_{q_t}[\ell]\big), \qquad
        \frac{\partial\mathbb E_q[\ell]}{\partial\mu_j} = \tfrac12\,\mathbb E_{q(w_{-j})}
        \big[\ell(w_j{=}{+1}, w_{-j}) - \ell(w_j{=}{-1}, w_{-j})\big]

    (the recipe ``bernoulli_exact``; Khan & Rue 2023, Sec. 4.5): what BayesBiNN estimates by relaxed samples
    and STE approximates by its limits.  Its fixed point is the mean-field VI optimum.  Costs :math:`2^P` loss
    evaluations per step: P ≤ 20.

    Parameters
    ----------
    loss : callable
        ``loss(W)``: ±1 weight vectors ``(2**P, P)`` → ℓ(w) for every row ``(2**P,)`` (the total loss).
    lam0 : array_like, shape (*batch, P)
        Start λ = ½ logit q(w = +1).
    rho : float
        Learning rate in (0, 1].
    n_steps : int
        Steps, ≥ 0.
    prior : float or array_like
        The prior's natural parameters λ₀, broadcastable to ``lam0``.

    Returns
    -------
    BinaryResult

    Examples
    --------
    >>> import numpy as np
    >>> from blrkit.algorithms import bernoulli_blr
    >>> res = bernoulli_blr(lambda W: 2.0 * W[:, 0] - W[:, 0] * W[:, 1], np.zeros(2), rho=0.5, n_steps=60)
    >>> np.round(res.means[-1], 3)    # the mean-field VI optimum (blrkit.classical.binary.mean_field_vi)
    array([-0.992, -0.758])
    """
    xp = array_namespace(lam0=lam0, rho=rho, prior=prior)
    lam = as_float_array(lam0, "lam0", min_ndim=1)
    P = lam.shape[-1]
    if not 1 <= P <= 20:
        raise ValueError(f"the exact natural gradient enumerates 2^P weight vectors: P (the last axis of lam0) must be "
                         f"in [1, 20], got {P}")
    rho = check_rho(rho, tuple(lam.shape[:-1]))
    if xp is not np:
        rho = scalar_or_array(rho, xp, lam)
    prior = broadcast_to_batch(on_namespace(xp, as_float_array(prior, "prior"), lam), "prior", tuple(lam.shape))
    run = Run(xp, n_steps=n_steps, dtype=floating_dtype(xp, lam0=lam0, prior=prior))
    checked = run.oracle(loss, "loss", shape=lambda W: (W.shape[0],), what="one value per weight vector", arg_name="W")

    def checked_loss(W):
        out = checked(W)
        return np.asarray(out, dtype=float) if xp is np else xp.astype(out, xp.float64, copy=False)

    (natural,) = run.loop(lambda state: (bernoulli_blr_step(state[0], rho, prior, checked_loss),), (lam,))
    return BinaryResult(natural=natural)


def _run(run, step, grad_batch, lam) -> BinaryResult:
    """The loop of BayesBiNN and the STE: each step draws its minibatch (all N indices, without a draw, when
    M = N) and calls ``step(λ, w ↦ grad_batch(w, idx))``, every answer checked by the runner."""
    xp = run.xp
    grad_batch = run.oracle(grad_batch, "grad_batch", what="the mean minibatch gradient", arg_name="w")
    full = indices_on(xp, np.arange(run.n_data), lam) if run.batch_size == run.n_data else None

    def blr_step(state):
        idx = full if full is not None else run.minibatch(state[0])
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return (step(state[0], lambda w: grad_batch(w, idx)),)

    def check(t, state):
        if not bool(xp.all(xp.isfinite(state[0]))):
            raise ValueError(f"the natural parameters became non-finite at step {t}: the relaxed scale "
                             "(1 − w²)/(τ(1 − tanh²λ)) overflowed (|λ| too large for this temperature; lower lr)")

    (natural,) = run.loop(blr_step, (lam,), check=check)
    return BinaryResult(natural=natural)
