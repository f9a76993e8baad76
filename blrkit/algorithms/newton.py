r"""Newton's method derived from the Bayesian learning rule.

Take a full Gaussian candidate :math:`q(\theta) = \mathcal N(m, S^{-1})`. By Bonnet's and
Price's theorems the natural gradient of :math:`\mathbb E_q[\bar\ell]` involves
:math:`\mathbb E_q[\nabla\bar\ell]` and :math:`\mathbb E_q[\nabla^2\bar\ell]`; the delta method
evaluates both at the mean, and the BLR becomes a Newton-like update in which the precision
:math:`S` is a running average of Hessians. With ρ = 1 it is exactly Newton's method
(Khan & Rue 2023, Sec. 1.3). Its fixed point is the Laplace approximation
(:mod:`blrkit.algorithms.laplace`).

The numeric updates are the emitted steps :func:`~blrkit.algorithms._generated.newton.newton_step`
(ρ = 1) and :func:`~blrkit.algorithms._generated.damped_newton.damped_newton_step` (ρ < 1).
"""

from __future__ import annotations

from blrkit._array_api import array_namespace, device, on_device
from blrkit._validation import check_spd
from blrkit.algorithms._common import (
    broadcast_to_batch,
    check_positive_definite,
    check_rho,
    check_start,
    check_step,
    singular_is_error,
)
from blrkit.algorithms._generated.damped_newton import damped_newton_step
from blrkit.algorithms._generated.newton import newton_step
from blrkit.algorithms._namespace import floating_dtype
from blrkit.algorithms._runner import Run, hessian_shape
from blrkit.algorithms.results import NewtonResult

__all__ = ["newton"]


def newton(grad, hess, m0, *, n_steps: int, rho=1.0, precision0=None) -> NewtonResult:
    r"""Run ``n_steps`` steps of the delta-method Gaussian BLR: Newton's method for ρ = 1.

    .. math::

        S_{t+1} = (1-\rho)\, S_t + \rho\, \nabla^2\bar\ell(m_t), \qquad
        m_{t+1} = m_t - \rho\, S_{t+1}^{-1} \nabla\bar\ell(m_t).

    Symbols: :math:`m_0` is ``m0``, :math:`S_0` is ``precision0``, ρ is ``rho``,
    :math:`\nabla\bar\ell` is ``grad`` and :math:`\nabla^2\bar\ell` is ``hess``
    (Khan & Rue 2023, Sec. 1.3).

    With ρ = 1, :math:`S_{t+1} = \nabla^2\bar\ell(m_t)` overwrites :math:`S_t` and the means are
    Newton's iterates from any :math:`S_0`. With ρ < 1 this is the BLR's damped form, which
    differs from classical damped Newton, :math:`m_{t+1} = m_t - \rho\,[\nabla^2\bar\ell(m_t)]^{-1}
    \nabla\bar\ell(m_t)`: the BLR preconditions by an exponential moving average of past
    Hessians (weights :math:`\rho(1-\rho)^k`, plus :math:`(1-\rho)^{t+1} S_0`), not by the current
    Hessian, so it needs a start :math:`S_0`. Both have the fixed point
    :math:`\nabla\bar\ell(m_*) = 0`, and the BLR's precision converges to
    :math:`\nabla^2\bar\ell(m_*)`.

    Parameters
    ----------
    grad : callable
        ``grad(m)``: ``(*batch, D)`` → ``(*batch, D)``, the gradient of the loss ℓ̄.
    hess : callable
        ``hess(m)``: ``(*batch, D)`` → ``(*batch, D, D)``, its Hessian; must be positive
        definite at every iterate (for ρ < 1, the averaged precision must be).
    m0 : array_like, shape (*batch, D)
        Starting mean. An array of any Array API library (PyTorch, JAX, CuPy, …) makes the run
        compute with that library: ``grad`` and ``hess`` then take and return its arrays, and so
        does the result.
    n_steps : int
        Number of steps, ≥ 0.
    rho : float or array_like of shape (*batch,), default 1.0
        Learning rate in (0, 1].
    precision0 : array_like, shape (*batch, D, D), optional
        Starting precision :math:`S_0`, symmetric positive definite. Required if any ρ < 1.
        If omitted (ρ = 1), ``precisions[0]`` reports :math:`\nabla^2\bar\ell(m_0)`, which the
        first step computes anyway.

    Returns
    -------
    NewtonResult
        ``means`` ``(n_steps + 1, *batch, D)`` and ``precisions`` ``(n_steps + 1, *batch, D, D)``;
        index 0 is the start, index t is :math:`(m_t, S_t)`. Note that for ρ = 1,
        :math:`S_t = \nabla^2\bar\ell(m_{t-1})`, the Hessian at the previous mean.

    Raises
    ------
    TypeError
        Array arguments from different libraries (the message names the argument).
    ValueError
        For ρ outside (0, 1], a missing or non-SPD ``precision0`` when ρ < 1, shape mismatches,
        non-finite inputs, or a precision that is not positive definite (naming ``hess``).

    References
    ----------
    Khan & Rue, "The Bayesian Learning Rule", JMLR 24 (2023), Sec. 1.3.

    Examples
    --------
    On a quadratic, one Newton step lands on the minimiser and the precision is the Hessian:

    >>> import numpy as np
    >>> from blrkit.algorithms import newton
    >>> A = np.array([[2.0, 0.5], [0.5, 1.0]]); b = np.array([1.0, -1.0])
    >>> res = newton(lambda m: m @ A - b, lambda m: np.broadcast_to(A, m.shape + (2,)),
    ...              np.zeros(2), n_steps=1)
    >>> np.allclose(A @ res.means[-1], b), np.allclose(res.precisions[-1], A)
    (True, True)
    """
    xp = array_namespace(m0=m0, rho=rho, precision0=precision0)
    m = check_start(m0)
    run = Run(xp, n_steps=n_steps, dtype=floating_dtype(xp, m0=m0, precision0=precision0))
    batch, D = tuple(m.shape[:-1]), m.shape[-1]
    r = check_rho(rho, batch)
    full_step = r == 1.0 if isinstance(r, float) else bool(xp.all(r == 1.0))
    S = None
    if precision0 is not None:
        # on_device: a list for precision0 beside another library's m0 becomes that library's array
        S = broadcast_to_batch(on_device(xp, check_spd(precision0, "precision0", D), m), "precision0", batch + (D, D))
    elif not full_step:
        raise ValueError("precision0 is required when rho < 1 (the BLR's damped form averages it with the Hessians)")

    grad, hess = run.oracle(grad, "grad"), run.oracle(hess, "hess", shape=hessian_shape, what="a Hessian")

    def step(state):
        m, S = state
        with singular_is_error("hess", run.t):
            return newton_step(m, grad, hess) if full_step else damped_newton_step(m, S, r, grad, hess)

    def check(t, state):
        m, S = state
        check_step(t, m, S)
        check_positive_definite(S, "hess", f"at step {t}" if full_step else f"(the averaged precision at step {t})")

    # ρ = 1 overwrites S_0 (unused by the step until then): without precision0, report the Hessian at m_0
    S0 = xp.zeros(batch + (D, D), dtype=m.dtype, device=device(m)) if S is None else S
    means, precisions = run.loop(step, (m, S0), check=check)
    if precision0 is None:
        first = precisions[1, ...] if run.n_steps else hess(m)
        precisions = xp.concat([first[None, ...], precisions[1:, ...]])
    return NewtonResult(means=means, precisions=precisions)
