r"""Variational Newton: the full-Gaussian Bayesian learning rule without the delta method.

Keep the expectations :math:`\mathbb E_q[\nabla\bar\ell]` and :math:`\mathbb E_q[\nabla^2\bar\ell]`
under :math:`q = \mathcal N(m, S^{-1})` instead of evaluating them at the mean, and estimate them
by Monte Carlo. The fixed point is the variational (not the Laplace) Gaussian approximation; with a
single sample it is a stochastic Newton method that prefers flat minima
(Khan & Rue 2023, Sec. 4.4).

The numeric update is the emitted
:func:`~blrkit.algorithms._generated.variational_newton.variational_newton_step`.
"""

from __future__ import annotations

from blrkit._array_api import array_namespace, on_device
from blrkit._validation import check_count, check_spd
from blrkit.algorithms._common import (
    broadcast_to_batch,
    check_positive_definite,
    check_rho,
    check_start,
    check_step,
    singular_is_error,
)
from blrkit.algorithms._generated.variational_newton import variational_newton_step
from blrkit.algorithms._generated.variational_newton_improved import improved_variational_newton_step
from blrkit.algorithms._namespace import floating_dtype
from blrkit.algorithms._runner import Run, hessian_shape
from blrkit.algorithms.results import NewtonResult

__all__ = ["variational_newton"]


def variational_newton(grad, hess, m0, *, n_steps: int, rho, precision0, n_samples: int = 1,
                       rng=None, rule: str = "blr") -> NewtonResult:
    r"""Run ``n_steps`` steps of the Gaussian BLR with Monte-Carlo expectations.

    .. math::

        \theta_k = m_t + L_t^{-\top}\varepsilon_k,\ \varepsilon_k \sim \mathcal N(0, I),\ S_t = L_t L_t^\top,

        S_{t+1} = (1-\rho)\, S_t + \rho\, \tfrac1K \textstyle\sum_k \nabla^2\bar\ell(\theta_k), \qquad
        m_{t+1} = m_t - \rho\, S_{t+1}^{-1}\, \tfrac1K \textstyle\sum_k \nabla\bar\ell(\theta_k).

    Symbols: :math:`m_0` is ``m0``, :math:`S_0` is ``precision0``, ρ is ``rho``, K is ``n_samples``;
    ``grad`` and ``hess`` are called once per step on all samples, ``(K, *batch, D)``
    (Khan & Rue 2023, Sec. 4.4).

    Parameters
    ----------
    grad, hess : callable
        ``grad(θ)``: ``(K, *batch, D)`` → ``(K, *batch, D)``; ``hess(θ)`` → ``(K, *batch, D, D)``.
    m0 : array_like, shape (*batch, D)
        Starting mean. An array of any Array API library (PyTorch, JAX, CuPy, …) makes the run
        compute with that library: ``grad`` and ``hess`` then take and return its arrays, and so does
        the result; the draws ε come from ``rng`` on the host and are moved to ``m0``'s device.
    n_steps : int
        Number of steps, ≥ 0.
    rho : float or array_like of shape (*batch,)
        Learning rate in (0, 1].
    precision0 : array_like, shape (*batch, D, D)
        Starting precision, symmetric positive definite (it sets where the first samples fall).
    n_samples : int, default 1
        Monte-Carlo samples per step.
    rule : {"blr", "improved"}, default "blr"
        ``"improved"``: the improved BLR (Lin, Schmidt & Khan 2020),
        :math:`S_{t+1} = \tfrac12(S_t + B S_t^{-1} B)` with :math:`B` the plain rule's precision, positive
        definite for every ρ and every Hessian estimate (recipe ``variational_newton_improved``).
    rng : numpy.random.Generator or int or None
        Source of the samples (an int seeds ``numpy.random.default_rng``). The default, a fresh
        ``default_rng()``, differs from call to call: pass a seed to reproduce a run.

    Returns
    -------
    NewtonResult
        ``means`` ``(n_steps + 1, *batch, D)`` and ``precisions`` ``(n_steps + 1, *batch, D, D)``.

    Raises
    ------
    TypeError
        Array arguments from different libraries (the message names the argument).
    ValueError
        Bad ρ, ``n_steps``, ``n_samples``, ``m0`` or ``precision0``; a precision that is not
        positive definite (naming ``hess``).

    References
    ----------
    Khan & Rue, "The Bayesian Learning Rule", JMLR 24 (2023), Sec. 4.4.

    Examples
    --------
    On a quadratic the expected Hessian is exact, so the precision is exact after one ρ = 1 step:

    >>> import numpy as np
    >>> from blrkit.algorithms import variational_newton
    >>> A = np.array([[2.0, 0.5], [0.5, 1.0]])
    >>> res = variational_newton(lambda th: th @ A, lambda th: np.broadcast_to(A, th.shape + (2,)),
    ...                          np.ones(2), n_steps=1, rho=1.0, precision0=np.eye(2), n_samples=4, rng=0)
    >>> np.allclose(res.precisions[-1], A)
    True
    """
    xp = array_namespace(m0=m0, rho=rho, precision0=precision0)
    m = check_start(m0)
    run = Run(xp, n_steps=n_steps, rng=rng, sampling=True, dtype=floating_dtype(xp, m0=m0, precision0=precision0))
    batch, D = tuple(m.shape[:-1]), m.shape[-1]
    r = check_rho(rho, batch)
    # on_device: a list for precision0 beside another library's m0 becomes that library's array
    S = broadcast_to_batch(on_device(xp, check_spd(precision0, "precision0", D), m), "precision0", batch + (D, D))
    check_count(n_samples, "n_samples")
    if rule not in ("blr", "improved"):
        raise ValueError(f"rule must be 'blr' or 'improved', got {rule!r}")
    step = improved_variational_newton_step if rule == "improved" else variational_newton_step
    grad, hess = run.oracle(grad, "grad"), run.oracle(hess, "hess", shape=hessian_shape, what="a Hessian")

    def blr_step(state):
        with singular_is_error("hess", run.t):
            return step(*state, r, grad, hess, int(n_samples), run.rng)

    def check(t, state):
        check_step(t, *state)
        check_positive_definite(state[1], "hess", f"(the precision at step {t}): a Monte-Carlo Hessian of a "
                                                  "non-convex loss can be indefinite; use more n_samples or a smaller rho")

    means, precisions = run.loop(blr_step, (m, S), check=check)
    return NewtonResult(means=means, precisions=precisions)
