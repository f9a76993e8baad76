r"""Stochastic gradient descent derived from the Bayesian learning rule.

As for gradient descent, take :math:`q(\theta) = \mathcal N(m, I)` and the delta method; the loss is
a sum :math:`\bar\ell = \sum_{i=1}^N \ell_i`, and its gradient is replaced by an unbiased minibatch
estimate :math:`\tfrac NM \sum_{i\in\mathcal B} \nabla\ell_i` (a stochastic approximation of the
BLR's expectation; Khan & Rue 2023, Sec. 4.1).

The numeric update is the emitted :func:`~blrkit.algorithms._generated.sgd.sgd_step`.
"""

from __future__ import annotations

from blrkit._array_api import array_namespace
from blrkit.algorithms._common import check_rho, check_start, check_step
from blrkit.algorithms._generated.sgd import sgd_step
from blrkit.algorithms._namespace import floating_dtype
from blrkit.algorithms._runner import Run
from blrkit.algorithms.results import GradientDescentResult

__all__ = ["stochastic_gradient_descent"]


def stochastic_gradient_descent(grad_terms, m0, *, rho, n_steps: int, n_data: int, batch_size: int,
                                rng=None) -> GradientDescentResult:
    r"""Run ``n_steps`` steps of the fixed-covariance Gaussian BLR with minibatch gradients.

    .. math::

        m_{t+1} = m_t - \rho\, \frac{N}{M} \sum_{i \in \mathcal B_t} \nabla\ell_i(m_t)

    Symbols: :math:`m_0` is ``m0``, ρ is ``rho``, N is ``n_data``, M is ``batch_size``;
    :math:`\mathcal B_t` is ``np.sort(rng.choice(n_data, batch_size, replace=False))``, one draw per
    step shared by the whole batch of problems, and ``grad_terms(m, idx)`` returns
    :math:`\sum_{i\in\mathrm{idx}}\nabla\ell_i(m)` (Khan & Rue 2023, Sec. 4.1). With M = N this is
    :func:`~blrkit.algorithms.gradient_descent` on :math:`\sum_i \ell_i`.

    Parameters
    ----------
    grad_terms : callable
        ``grad_terms(m, idx)``: ``(*batch, D)``, an integer index array → ``(*batch, D)``.
    m0 : array_like, shape (*batch, D)
        Starting mean. An array of any Array API library (PyTorch, JAX, CuPy, …) makes the run
        compute with that library: ``grad_terms`` then gets its arrays (``idx`` too, drawn on the host
        and moved to ``m0``'s device) and returns them, and so does the result.
    rho : float or array_like of shape (*batch,)
        Learning rate in (0, 1].
    n_steps : int
        Number of steps, ≥ 0.
    n_data, batch_size : int
        N ≥ 1 terms in the loss and M (1 ≤ M ≤ N) per minibatch.
    rng : numpy.random.Generator or int or None
        Source of the minibatches (an int seeds ``numpy.random.default_rng``).

    Returns
    -------
    GradientDescentResult
        ``means`` of shape ``(n_steps + 1, *batch, D)``.

    Raises
    ------
    TypeError
        ``m0`` and ``rho`` from different array libraries (the message names the argument).
    ValueError
        Bad ρ, ``n_steps``, ``n_data``, ``batch_size`` or ``m0``; ``grad_terms`` returning a wrong shape.

    References
    ----------
    Khan & Rue, "The Bayesian Learning Rule", JMLR 24 (2023), Sec. 4.1.

    Examples
    --------
    The mean of N = 4 numbers, one at a time: ℓ_i(θ) = (θ − x_i)²/2.

    >>> import numpy as np
    >>> from blrkit.algorithms import stochastic_gradient_descent
    >>> x = np.array([1.0, 2.0, 3.0, 4.0])
    >>> g = lambda m, idx: (m[..., None] - x[idx]).sum(axis=-1, keepdims=True)[..., 0]
    >>> res = stochastic_gradient_descent(g, np.zeros(1), rho=0.05, n_steps=400, n_data=4, batch_size=1, rng=0)
    >>> bool(abs(res.means[-1, 0] - 2.5) < 0.5)
    True
    """
    xp = array_namespace(m0=m0, rho=rho)
    m = check_start(m0)
    r = check_rho(rho, tuple(m.shape[:-1]))
    run = Run(xp, n_steps=n_steps, n_data=n_data, batch_size=batch_size, rng=rng, dtype=floating_dtype(xp, m0=m0))
    grad_terms = run.oracle(grad_terms, "grad_terms")  # every call checked

    def step(state):
        idx = run.minibatch(state[0])
        return (sgd_step(state[0], r, lambda x: grad_terms(x, idx), run.n_data, run.batch_size),)

    (means,) = run.loop(step, (m,), check=lambda t, state: check_step(t, state[0], grad="grad_terms"))
    return GradientDescentResult(means=means)
