r"""Laplace's method derived from the Bayesian learning rule.

Laplace's method approximates the posterior :math:`p(\theta \mid \mathcal D) \propto
e^{-\bar\ell(\theta)}` (:math:`\bar\ell` = loss minus log-prior) by
:math:`\mathcal N(m_*, [\nabla^2\bar\ell(m_*)]^{-1})` at the MAP :math:`m_*`. It is the fixed
point of the full-Gaussian BLR with the delta method, for any ρ in (0, 1]: at convergence
:math:`\nabla\bar\ell(m_*) = 0` and :math:`S_* = \nabla^2\bar\ell(m_*)` (Khan & Rue 2023, Sec. 4.4).
With ρ = 1 the path to it is Newton's.

The numeric update is the emitted :func:`~blrkit.algorithms._generated.damped_newton.damped_newton_step`;
this driver iterates it until the gradient vanishes.
"""

from __future__ import annotations

import math

import numpy as np

from blrkit._array_api import array_namespace, device, on_device
from blrkit._validation import check_scalar, check_spd
from blrkit.algorithms._common import (
    named_failures,
    broadcast_to_batch, check_positive_definite, check_rho, check_start, check_step, singular_is_error,
)
from blrkit.algorithms._generated.damped_newton import damped_newton_step as laplace_step
from blrkit.algorithms._namespace import floating_dtype
from blrkit.algorithms._runner import Run, hessian_shape
from blrkit.algorithms.results import LaplacePosterior

__all__ = ["laplace"]


@named_failures
def laplace(grad, hess, m0, *, rho=1.0, tol=1e-10, max_steps=100, precision0=None) -> LaplacePosterior:
    r"""Laplace approximation as the fixed point of the delta-method Gaussian BLR.

    .. math::

        S_{t+1} = (1-\rho)\, S_t + \rho\, \nabla^2\bar\ell(m_t), \qquad
        m_{t+1} = m_t - \rho\, S_{t+1}^{-1} \nabla\bar\ell(m_t),

    iterated until :math:`\|\nabla\bar\ell(m_t)\|_2 \le` ``tol`` for every problem in the batch;
    the step that evaluated that gradient is kept, so the result is :math:`(m_{t+1}, S_{t+1})`.
    Symbols: :math:`\bar\ell` is the loss minus the log-prior, ``grad`` its gradient and ``hess``
    its Hessian; :math:`m_0` is ``m0``, :math:`S_0` is ``precision0`` (default
    :math:`\nabla^2\bar\ell(m_0)`; irrelevant for ρ = 1) and ρ is ``rho`` (Khan & Rue 2023, Sec. 4.4).

    Parameters
    ----------
    grad, hess : callable
        ``grad(m)``: ``(*batch, D)`` → ``(*batch, D)``; ``hess(m)``: → ``(*batch, D, D)``,
        positive definite at every iterate.
    m0 : array_like, shape (*batch, D)
        Starting mean. An array of any Array API library (PyTorch, JAX, CuPy, …) makes the run
        compute with that library: ``grad`` and ``hess`` then take and return its arrays, and so
        does the result.
    rho : float or array_like of shape (*batch,), default 1.0
        Learning rate in (0, 1].
    tol : float, default 1e-10
        Convergence threshold on the Euclidean norm of the gradient.
    max_steps : int, default 100
        Give up (``RuntimeError``) after this many steps.
    precision0 : array_like, shape (*batch, D, D), optional
        Starting precision, symmetric positive definite; only matters for ρ < 1.

    Returns
    -------
    LaplacePosterior
        ``mean`` ``(*batch, D)``, ``precision`` ``(*batch, D, D)``, ``covariance``, ``n_steps``.

    Raises
    ------
    TypeError
        Array arguments from different libraries (the message names the argument).
    ValueError
        Bad ρ, ``tol``, ``max_steps``, ``m0`` or ``precision0``; a precision that is not positive
        definite (naming ``hess``).
    RuntimeError
        Not converged in ``max_steps``; the message gives the last gradient norm.

    References
    ----------
    Khan & Rue, "The Bayesian Learning Rule", JMLR 24 (2023), Sec. 4.4.

    Examples
    --------
    A Gaussian prior N(0, 1) and one Poisson count y = 3 with rate :math:`e^\theta`:
    :math:`\bar\ell(\theta) = e^\theta - 3\theta + \theta^2/2`.

    >>> import numpy as np
    >>> from blrkit.algorithms import laplace
    >>> post = laplace(lambda m: np.exp(m) - 3 + m, lambda m: (np.exp(m) + 1)[..., None], np.zeros(1))
    >>> post.mean.round(6), post.covariance.round(6), post.n_steps
    (array([0.79206]), array([[0.311727]]), 6)
    """
    xp = array_namespace(m0=m0, rho=rho, precision0=precision0)
    m = check_start(m0)
    batch, D = tuple(m.shape[:-1]), m.shape[-1]
    r = check_rho(rho, batch)
    tol = check_scalar(tol, "tol", low=0.0)
    if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive integer, got {max_steps!r}")
    # the step counter and the oracles (the loop ends on convergence)
    run = Run(xp, n_steps=0, dtype=floating_dtype(xp, m0=m0, precision0=precision0))
    hess = run.oracle(hess, "hess", shape=hessian_shape, what="a Hessian")
    if precision0 is None and (r == 1.0 if isinstance(r, float) else bool(xp.all(r == 1.0))):
        # ρ = 1 overwrites S₀: any SPD start gives the same iterates; skip a Hessian evaluation
        S = xp.broadcast_to(xp.eye(D, dtype=xp.float64, device=device(m)), batch + (D, D))
    elif precision0 is None:
        S = hess(m)
        check_positive_definite(S, "hess", "at m0")
    else:
        # on_device: a list for precision0 beside another library's m0 becomes that library's array
        S = broadcast_to_batch(on_device(xp, check_spd(precision0, "precision0", D), m), "precision0", batch + (D, D))

    last = {}
    grad = run.oracle(grad, "grad")

    def grad_recorded(x):
        # remember ∇ℓ̄(m_t): the step computes it, the convergence test reads it
        last["g"] = g = grad(x)
        return g

    for t in range(max_steps):
        run.t = t + 1
        with singular_is_error("hess", run.t):
            m, S = laplace_step(m, S, r, grad_recorded, hess)
        check_step(run.t, m, S)
        check_positive_definite(S, "hess", f"(the precision at step {run.t})")
        gnorm = _largest_norm(xp, last["g"])
        if not math.isfinite(gnorm) or not bool(xp.all(xp.isfinite(m))):
            raise ValueError(f"the iterates became non-finite at step {run.t}; check grad, hess and rho")
        if gnorm <= tol:
            return LaplacePosterior(mean=run.cast(m), precision=run.cast(S), n_steps=t + 1)
    raise RuntimeError(f"laplace did not converge in max_steps={max_steps} steps: "
                       f"the last gradient norm was {gnorm:.3g} > tol={tol:g}")


def _largest_norm(xp, g) -> float:
    """The largest Euclidean norm over the batch of gradients ``g`` ``(*batch, D)`` (0 for an empty batch)."""
    squares = xp.sum(g ** 2, axis=-1)
    return math.sqrt(float(xp.max(squares))) if math.prod(squares.shape) else 0.0
