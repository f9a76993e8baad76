r"""Gradient descent derived from the Bayesian learning rule.

Take the candidate posterior :math:`q(\theta) = \mathcal N(m, I)` with a fixed, identity
covariance. Its natural and expectation parameters are both the mean, so the BLR moves
only :math:`m`, along :math:`-\nabla_m \mathbb E_q[\bar\ell]`. The delta method
:math:`\mathbb E_q[\nabla\bar\ell(\theta)] \approx \nabla\bar\ell(m)` turns that into
plain gradient descent with step size ρ (Khan & Rue 2023, Sec. 1.3).

The numeric update is the emitted step
:func:`blrkit.algorithms._generated.gradient_descent.gradient_descent_step`; this module is
the driver around it (checks, the loop, the result).
"""

from __future__ import annotations

from blrkit._array_api import array_namespace
from blrkit.algorithms._common import check_rho, check_start, check_step
from blrkit.algorithms._generated.gradient_descent import gradient_descent_step
from blrkit.algorithms._namespace import floating_dtype
from blrkit.algorithms._runner import Run
from blrkit.algorithms.results import GradientDescentResult

__all__ = ["gradient_descent"]


def gradient_descent(grad, m0, *, rho, n_steps: int) -> GradientDescentResult:
    r"""Run ``n_steps`` steps of the BLR with a fixed-covariance Gaussian: gradient descent.

    .. math::

        m_{t+1} = m_t - \rho \, \nabla\bar\ell(m_t)

    Symbols: :math:`m_0` is ``m0``, ρ is ``rho`` and :math:`\nabla\bar\ell` is ``grad``.
    This is the BLR for :math:`q = \mathcal N(m, I)` with the delta method
    (Khan & Rue 2023, Sec. 1.3); with :math:`q = \mathcal N(m, \sigma^2 I)` the step size
    would be :math:`\rho\sigma^2`.

    Parameters
    ----------
    grad : callable
        ``grad(m)`` maps ``(*batch, D)`` to the gradient of the loss, ``(*batch, D)``.
    m0 : array_like, shape (*batch, D)
        Starting mean; leading axes are independent problems. An array of any Array API library
        (PyTorch, JAX, CuPy, …) makes the whole run compute with that library: ``grad`` then takes
        and returns its arrays, and so does the result.
    rho : float or array_like of shape (*batch,)
        Learning rate in (0, 1] (one per problem if an array).
    n_steps : int
        Number of steps, ≥ 0.

    Returns
    -------
    GradientDescentResult
        ``means`` of shape ``(n_steps + 1, *batch, D)``: every iterate, ``means[0] = m0``.

    Raises
    ------
    TypeError
        ``m0`` and ``rho`` from different array libraries (the message names the argument).
    ValueError
        If ρ is outside (0, 1], ``m0`` is not finite, ``grad`` returns the wrong shape,
        or the iterates become non-finite.

    References
    ----------
    Khan & Rue, "The Bayesian Learning Rule", JMLR 24 (2023), Sec. 1.3.

    Examples
    --------
    A quadratic :math:`\bar\ell(\theta) = \tfrac12 \|\theta\|^2` halves at ρ = 0.5:

    >>> from blrkit.algorithms import gradient_descent
    >>> gradient_descent(lambda m: m, [4.0, -2.0], rho=0.5, n_steps=2).means
    array([[ 4. , -2. ],
           [ 2. , -1. ],
           [ 1. , -0.5]])
    """
    xp = array_namespace(m0=m0, rho=rho)
    m = check_start(m0)
    run = Run(xp, n_steps=n_steps, dtype=floating_dtype(xp, m0=m0))
    r = check_rho(rho, tuple(m.shape[:-1]))
    grad = run.oracle(grad, "grad")  # every call checked
    (means,) = run.loop(lambda state: (gradient_descent_step(state[0], r, grad),), (m,),
                        check=lambda t, state: check_step(t, state[0]))
    return GradientDescentResult(means=means)
