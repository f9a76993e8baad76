r"""A diagonal Newton method derived from the Bayesian learning rule.

With a diagonal Gaussian candidate :math:`q(\theta) = \mathcal N(m, \mathrm{diag}(s)^{-1})` the BLR
uses only the diagonal of the expected Hessian; with the delta method it becomes a Newton method
whose preconditioner is a running average of Hessian diagonals, the skeleton of RMSprop and Adam
(Khan & Rue 2023, Sec. 4.2; Sec. 1.3 for the full-covariance version).

The numeric update is the emitted
:func:`~blrkit.algorithms._generated.diagonal_newton.diagonal_newton_step`.
"""

from __future__ import annotations

import numpy as np

from blrkit._array_api import array_namespace, device, on_device
from blrkit._validation import check_positive
from blrkit.algorithms._common import broadcast_to_batch, check_rho, check_start, check_step
from blrkit.algorithms._generated.diagonal_newton import diagonal_newton_step
from blrkit.algorithms._namespace import floating_dtype
from blrkit.algorithms._runner import Run
from blrkit.algorithms.results import DiagonalNewtonResult

__all__ = ["diagonal_newton"]


def diagonal_newton(grad, hess_diag, m0, *, n_steps: int, rho=1.0, precision0=None) -> DiagonalNewtonResult:
    r"""Run ``n_steps`` steps of the delta-method BLR with a diagonal Gaussian.

    .. math::

        s_{t+1} = (1-\rho)\, s_t + \rho\, \mathrm{diag}\,\nabla^2\bar\ell(m_t), \qquad
        m_{t+1} = m_t - \rho\, \nabla\bar\ell(m_t) \oslash s_{t+1}.

    Symbols: :math:`m_0` is ``m0``, :math:`s_0` is ``precision0`` (a vector), ρ is ``rho``,
    :math:`\nabla\bar\ell` is ``grad`` and :math:`\mathrm{diag}\,\nabla^2\bar\ell` is ``hess_diag``
    (Khan & Rue 2023, Sec. 4.2). With ρ = 1 it is Newton's method with the Hessian replaced by its
    diagonal; RMSprop replaces the diagonal by squared gradients and takes a square root, which the
    BLR does not imply.

    Parameters
    ----------
    grad : callable
        ``grad(m)``: ``(*batch, D)`` → ``(*batch, D)``.
    hess_diag : callable
        ``hess_diag(m)``: ``(*batch, D)`` → ``(*batch, D)``, the Hessian's diagonal.
    m0 : array_like, shape (*batch, D)
        Starting mean. An array of any Array API library (PyTorch, JAX, CuPy, …) makes the run
        compute with that library: ``grad`` and ``hess_diag`` then take and return its arrays, and
        so does the result.
    n_steps : int
        Number of steps, ≥ 0.
    rho : float or array_like of shape (*batch,), default 1.0
        Learning rate in (0, 1].
    precision0 : array_like, shape (*batch, D), optional
        Starting diagonal precision, > 0; required if any ρ < 1. If omitted (ρ = 1),
        ``precisions[0]`` reports ``hess_diag(m0)``.

    Returns
    -------
    DiagonalNewtonResult
        ``means`` and ``precisions``, both ``(n_steps + 1, *batch, D)``.

    Raises
    ------
    TypeError
        Array arguments from different libraries (the message names the argument).
    ValueError
        Bad ρ, ``n_steps``, ``m0`` or ``precision0``; a precision entry that is not positive
        (naming ``hess_diag``).

    References
    ----------
    Khan & Rue, "The Bayesian Learning Rule", JMLR 24 (2023), Sec. 4.2.

    Examples
    --------
    A separable quadratic: one step with ρ = 1 is exact.

    >>> import numpy as np
    >>> from blrkit.algorithms import diagonal_newton
    >>> h = np.array([2.0, 8.0])
    >>> res = diagonal_newton(lambda m: h * (m - 1), lambda m: np.broadcast_to(h, m.shape), np.zeros(2), n_steps=1)
    >>> res.means[-1], res.precisions[-1]
    (array([1., 1.]), array([2., 8.]))
    """
    xp = array_namespace(m0=m0, rho=rho, precision0=precision0)
    m = check_start(m0)
    run = Run(xp, n_steps=n_steps, dtype=floating_dtype(xp, m0=m0, precision0=precision0))
    r = check_rho(rho, tuple(m.shape[:-1]))
    full_step = r == 1.0 if isinstance(r, float) else bool(xp.all(r == 1.0))
    if precision0 is not None:
        # on_device: a number or list for precision0 beside another library's m0 becomes that library's array
        s = broadcast_to_batch(on_device(xp, check_positive(precision0, "precision0"), m), "precision0",
                               tuple(m.shape))
    elif full_step:
        s = xp.ones(m.shape, dtype=xp.float64, device=device(m))  # ρ = 1 overwrites s₀
    else:
        raise ValueError("precision0 is required when rho < 1")
    grad = run.oracle(grad, "grad")
    hess_diag = run.oracle(hess_diag, "hess_diag", what="a diagonal Hessian")

    def step(state):
        with np.errstate(divide="ignore", invalid="ignore"):  # s = 0 is reported by the check
            return diagonal_newton_step(*state, r, grad, hess_diag)

    def check(t, state):
        m, s = state
        check_step(t, xp.where(s > 0, m, xp.zeros_like(m)), s, hess="hess_diag")
        if not bool(xp.all(s > 0)):
            raise ValueError(f"hess_diag made the precision non-positive at step {t}")

    means, precisions = run.loop(step, (m, s), check=check)
    if precision0 is None:
        # ρ = 1 overwrites s₀: report the diagonal Hessian at m₀
        first = precisions[1, ...] if run.n_steps else hess_diag(m)
        precisions = xp.concat([first[None, ...], precisions[1:, ...]])
    return DiagonalNewtonResult(means=means, precisions=precisions)
