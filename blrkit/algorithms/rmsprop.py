r"""RMSprop and Adam: the diagonal-Gaussian BLR with a squared-gradient Hessian, a square root and a
decoupled step (Khan & Rue 2023, Sec. 4.2).

The BLR with a mean-field Gaussian :math:`q = \mathcal N(m, \mathrm{diag}(s)^{-1})`, the delta method,
a minibatch gradient :math:`\bar g` and the Hessian approximation :math:`\mathrm{diag}\,\nabla^2\ell \approx
N\bar g^2` is, in the per-example precision :math:`v = s/N`,

.. math::

    v_{t+1} = (1-\rho)\,v_t + \rho\,\bar g^2, \qquad m_{t+1} = m_t - \rho\,\bar g / v_{t+1}.

RMSprop then takes the square root of :math:`v` with an :math:`\epsilon` and its own step α (``lr``);
Adam also averages the gradients (β₁) and corrects both averages for their zero start. Those last
steps are not implied by the BLR; each is a named rewrite in the derivation (``blrkit derive
diagonal-gaussian --approx …``, recipes ``rmsprop`` and ``adam``). The numeric updates are the
emitted :func:`~blrkit.algorithms._generated.rmsprop.rmsprop_step` (Adam's:
:mod:`blrkit.algorithms.adam`).

The hyperparameters map one to one (:func:`blr_from_rmsprop`, :func:`rmsprop_from_blr`, and
:func:`~blrkit.algorithms.adam.blr_from_adam` for Adam): PyTorch's
RMSprop ``alpha`` and Adam's β₂ are :math:`1 - \rho`, ``lr`` is α, ``eps`` is ε, β₁ is the average's
decay. Where the textbook algorithms are *not* the BLR: the square root (the BLR divides by
:math:`v`), ε (in the BLR the prior's precision :math:`\delta/N` sits in both numerator and
denominator), the bias correction (a step-size schedule) and weight decay (PyTorch adds it to the
gradient before squaring; the BLR's prior stays outside :math:`v`).

The drivers compute with the namespace of their array arguments (:mod:`blrkit._array_api`): the arrays of
another Array API library (PyTorch, JAX, CuPy, array-api-strict) run in that library, ``grad`` receives its
arrays (the iterate) and the result holds its arrays.
"""

from __future__ import annotations

import numpy as np

from blrkit._array_api import array_namespace
from blrkit._validation import check_learning_rate
from blrkit.algorithms._common import check_interval, check_start, per_problem
from blrkit.algorithms._generated.rmsprop import rmsprop_step
from blrkit.algorithms._namespace import floating_dtype, scalar_or_array
from blrkit.algorithms._runner import Run
from blrkit.algorithms.results import GradientDescentResult

__all__ = ["blr_from_rmsprop", "check_lr_eps", "rmsprop", "rmsprop_from_blr", "run_moment_step"]


def check_lr_eps(lr, eps):
    """``lr`` > 0 and ``eps`` ≥ 0, each a number or one per problem, as arrays (text refused)."""
    return check_interval(lr, "lr", 0.0, np.inf), check_interval(eps, "eps", 0.0, np.inf, closed_low=True)


def run_moment_step(xp, step, grad, m0, n_steps, state0: int, hyper: dict, names: dict, *, counts_steps: bool = False):
    """Loop ``step`` in the namespace ``xp`` of the array arguments: every call of ``grad`` is checked (shape,
    real, finite, and every gᵢ below √(largest float) in magnitude: v holds g²); every iterate is checked finite. ``hyper`` are
    the checked hyperparameters, each a scalar or one value per problem (``names``: the user's name of each,
    for the message), passed to every step (with
    ``t``, from 1, when ``counts_steps``): as they are for NumPy (bit for bit the values the step always got),
    for another library a number as a Python float and an array as the library's
    (:func:`~blrkit.algorithms._namespace.scalar_or_array`)."""
    m = check_start(m0)
    run = Run(xp, n_steps=n_steps, dtype=floating_dtype(xp, m0=m0))
    for key, v in hyper.items():
        per_problem(v, names.get(key, key), tuple(m.shape[:-1]))
    if xp is not np:
        hyper = {name: scalar_or_array(v, xp, m) for name, v in hyper.items()}
    grad = run.oracle(grad, "grad", squared=True)  # every call checked, |g| below √(largest float)

    def moment_step(state):
        return step(*state, grad_mean=grad, **hyper, **({"t": run.t} if counts_steps else {}))

    def check(t, state):
        if not bool(xp.all(xp.isfinite(state[0]))):
            raise ValueError(f"the iterates became non-finite at step {t}: grad returned NaN or inf, "
                             "or lr is too large")

    (means,) = run.loop(moment_step, (m,) + tuple(xp.zeros_like(m) for _ in range(state0)), keep=(0,), check=check)
    return GradientDescentResult(means=means)


def rmsprop(grad, m0, *, lr=0.01, alpha=0.99, eps=1e-8, n_steps: int) -> GradientDescentResult:
    r"""RMSprop with PyTorch's names and defaults, running the BLR's emitted step.

    .. math::

        v_{t+1} = \alpha\,v_t + (1-\alpha)\,\bar g(m_t)^2, \qquad
        m_{t+1} = m_t - \mathrm{lr}\,\frac{\bar g(m_t)}{\sqrt{v_{t+1}} + \epsilon}, \qquad v_0 = 0,

    the BLR with ρ = 1 − ``alpha`` (Khan & Rue 2023, Sec. 4.2).

    Parameters
    ----------
    grad : callable
        ``grad(m)``, ``(*batch, D)`` → ``(*batch, D)``: the gradient ḡ, called once per step (a
        minibatch gradient is the caller's closure).
    m0 : array_like, shape (*batch, D)
        Start; leading axes are independent problems.
    lr : float, default 0.01
        Step α of the mean, > 0.
    alpha : float, default 0.99
        Smoothing constant of v, in [0, 1): the BLR's 1 − ρ.
    eps : float, default 1e-8
        ε ≥ 0 added to √v.
    n_steps : int
        Number of steps, ≥ 0.

    Returns
    -------
    GradientDescentResult
        ``means`` ``(n_steps + 1, *batch, D)``.

    Examples
    --------
    >>> from blrkit.algorithms import rmsprop
    >>> rmsprop(lambda m: 2 * m, [1.0], lr=0.1, n_steps=1).means.round(6)
    array([[1.],
           [0.]])
    """
    xp = array_namespace(m0=m0, lr=lr, alpha=alpha, eps=eps)
    lr, eps = check_lr_eps(lr, eps)
    rho = 1 - check_interval(alpha, "alpha", 0.0, 1.0, closed_low=True)
    return run_moment_step(xp, rmsprop_step, grad, m0, n_steps, 1, dict(rho=rho, lr=lr, eps=eps), {"rho": "alpha"})


def blr_from_rmsprop(*, lr, alpha, eps) -> dict:
    """The BLR's parameters of PyTorch's RMSprop: ``rho = 1 − alpha``, ``lr``, ``eps``.

    >>> blr_from_rmsprop(lr=0.01, alpha=0.99, eps=1e-8)["rho"] == 1 - 0.99
    True
    """
    check_lr_eps(lr, eps)
    check_interval(alpha, "alpha", 0.0, 1.0, closed_low=True)
    return {"rho": 1 - alpha, "lr": lr, "eps": eps}


def rmsprop_from_blr(*, rho, lr, eps) -> dict:
    """PyTorch's RMSprop hyperparameters of the BLR's: ``alpha = 1 − rho`` (exact back and forth for
    alpha in [0.5, 1), where 1 − alpha is exact by Sterbenz's lemma); ρ in (0, 1], checked."""
    check_lr_eps(lr, eps)
    check_learning_rate(rho, "rho")
    return {"lr": lr, "alpha": 1 - rho, "eps": eps}
