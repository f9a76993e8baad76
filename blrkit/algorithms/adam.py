r"""Adam: RMSprop's BLR (:mod:`blrkit.algorithms.rmsprop`) with a slow-moving average of the gradients
and the bias correction (Khan & Rue 2023, Sec. 4.2).

Both additions are named rewrites in the derivation (recipe ``adam``), not consequences of the BLR:
the average stands in for heavy-ball momentum in natural parameters when the scale vectors move
slowly, and the bias correction is a step-size schedule that undoes the zero start. The numeric
update is the emitted :func:`~blrkit.algorithms._generated.adam.adam_step`.

The driver computes with the namespace of its array arguments (:mod:`blrkit._array_api`): the arrays of
another Array API library (PyTorch, JAX, CuPy, array-api-strict) run in that library, ``grad`` receives its
arrays (the iterate) and the result holds its arrays.
"""

from __future__ import annotations

from blrkit._array_api import array_namespace
from blrkit._validation import check_learning_rate
from blrkit.algorithms._common import check_interval
from blrkit.algorithms._generated.adam import adam_step
from blrkit.algorithms.results import GradientDescentResult
from blrkit.algorithms.rmsprop import check_lr_eps, run_moment_step

__all__ = ["adam", "adam_from_blr", "blr_from_adam"]


def adam(grad, m0, *, lr=0.001, betas=(0.9, 0.999), eps=1e-8, n_steps: int) -> GradientDescentResult:
    r"""Adam with PyTorch's names and defaults, running the BLR's emitted step.

    .. math::

        \tilde g_{t+1} = \beta_1\tilde g_t + (1-\beta_1)\bar g(m_t), \quad
        v_{t+1} = \beta_2 v_t + (1-\beta_2)\bar g(m_t)^2, \quad
        m_{t+1} = m_t - \mathrm{lr}\,
        \frac{\tilde g_{t+1}/(1-\beta_1^{t+1})}{\sqrt{v_{t+1}/(1-\beta_2^{t+1})} + \epsilon},

    from :math:`\tilde g_0 = v_0 = 0`: the BLR with ρ = 1 − β₂ and the rewrites of the module docstring
    (Khan & Rue 2023, Sec. 4.2). ε sits outside the square root, as in PyTorch.

    Parameters
    ----------
    grad : callable
        ``grad(m)``, ``(*batch, D)`` → ``(*batch, D)``, called once per step.
    m0 : array_like, shape (*batch, D)
        Start.
    lr : float, default 0.001
        Step α, > 0.
    betas : (float, float), default (0.9, 0.999)
        Decays β₁ of the gradient average and β₂ = 1 − ρ of v, each in [0, 1).
    eps : float, default 1e-8
        ε ≥ 0.
    n_steps : int
        Number of steps, ≥ 0.

    Returns
    -------
    GradientDescentResult
        ``means`` ``(n_steps + 1, *batch, D)``.

    Examples
    --------
    The first step moves each coordinate by ``lr`` against the sign of its gradient:

    >>> from blrkit.algorithms import adam
    >>> adam(lambda m: m - 3.0, [0.0, 10.0], lr=0.1, n_steps=1).means.round(6)
    array([[ 0. , 10. ],
           [ 0.1,  9.9]])
    """
    b1, b2 = _pair(betas)
    xp = array_namespace(m0=m0, lr=lr, eps=eps, **{"betas[0]": b1, "betas[1]": b2})
    lr, eps = check_lr_eps(lr, eps)
    b1 = check_interval(b1, "betas[0]", 0.0, 1.0, closed_low=True)
    b2 = check_interval(b2, "betas[1]", 0.0, 1.0, closed_low=True)
    return run_moment_step(xp, adam_step, grad, m0, n_steps, 2, dict(rho=1 - b2, lr=lr, eps=eps, beta1=b1),
                {"rho": "betas[1]", "beta1": "betas[0]"}, counts_steps=True)


def _pair(betas):
    try:
        b1, b2 = betas
    except (TypeError, ValueError):
        raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}") from None
    return b1, b2


def blr_from_adam(*, lr, betas, eps) -> dict:
    """The BLR's parameters of PyTorch's Adam: ``rho = 1 − β₂``, ``lr``, ``eps``, ``beta1 = β₁`` (each checked as
    :func:`adam` checks it; the values are passed through)."""
    b1, b2 = _pair(betas)
    check_lr_eps(lr, eps)
    check_interval(b1, "betas[0]", 0.0, 1.0, closed_low=True)
    check_interval(b2, "betas[1]", 0.0, 1.0, closed_low=True)
    return {"rho": 1 - b2, "lr": lr, "eps": eps, "beta1": b1}


def adam_from_blr(*, rho, lr, eps, beta1) -> dict:
    """PyTorch's Adam hyperparameters of the BLR's: ``betas = (beta1, 1 − rho)``, with ρ in (0, 1] and β₁ in [0, 1)
    (checked; the values are passed through)."""
    check_lr_eps(lr, eps)
    check_learning_rate(rho, "rho")
    check_interval(beta1, "beta1", 0.0, 1.0, closed_low=True)
    return {"lr": lr, "betas": (beta1, 1 - rho), "eps": eps}
