r"""Non-conjugate VMP for Bayesian logistic regression: the Gaussian BLR with ρ = 1 and exact expectations.

The recipe ``ncvmp`` derives the step (Khan & Rue 2023, Sec. 5.3; Knowles & Minka 2011): the BLR for
:math:`q = \mathcal N(m, S^{-1})`, the loss
:math:`\sum_i[\log(1 + e^{x_i^\top\theta}) - y_i x_i^\top\theta]` with labels :math:`y_i \in \{0, 1\}`, the prior
:math:`\mathcal N(0, \alpha^{-1}I)`, with ρ = 1 and the expectations of :math:`f'` and :math:`f''` on each
one-dimensional predictive by Gauss–Hermite quadrature,

.. math::

    S_{t+1} = \alpha I + X^\top\mathrm{diag}\,\mathbb E_{q_t}[f''(\eta)]\,X, \qquad
    m_{t+1} = m_t - S_{t+1}^{-1}\big(\alpha m_t + X^\top\mathbb E_{q_t}[f'(\eta)]\big).

It is the variational-Newton row at ρ = 1 with the Monte-Carlo average replaced by quadrature; a
fixed point is a stationary point of the evidence lower bound over Gaussians (exact Gaussian VI).
NC-VMP itself is not guaranteed to converge (ρ = 1); the emitted step is
:func:`~blrkit.algorithms._generated.ncvmp.ncvmp_step`.
"""

from __future__ import annotations

import numpy as np

from blrkit._array_api import device, on_device
from blrkit._validation import as_float_array, check_binary_labels, check_positive, check_spd
from blrkit.algorithms._common import broadcast_to_batch, check_n_steps, named_failures
from blrkit.algorithms._generated.ncvmp import ncvmp_step
from blrkit.algorithms._namespace import as_dtype, floating_dtype, namespace_and_reference
from blrkit.algorithms.results import NewtonResult

__all__ = ["ncvmp_logistic"]


@named_failures
def ncvmp_logistic(X, y, *, alpha, n_steps: int, m0=None, precision0=None) -> NewtonResult:
    r"""Run ``n_steps`` steps of non-conjugate VMP for Bayesian logistic regression.

    Parameters
    ----------
    X : array_like, shape (*batch, N, D)
        Inputs.  Arrays of another Array API library (PyTorch, CuPy, JAX, …; every array argument from the
        same one) compute with it and give its arrays, on their device.
    y : array_like, shape (*batch, N)
        Labels in {0, 1} (for ±1 labels pass ``(y + 1) / 2``).
    alpha : float or array_like of shape (*batch,)
        Prior precision, > 0.
    n_steps : int
        Steps, ≥ 0.
    m0, precision0 : array_like, optional
        Start ``(*batch, D)`` and ``(*batch, D, D)`` (symmetric positive definite); default 0 and αI.

    Returns
    -------
    NewtonResult
        ``means`` ``(n_steps + 1, *batch, D)`` and ``precisions`` ``(n_steps + 1, *batch, D, D)``.

    Examples
    --------
    >>> import numpy as np
    >>> from blrkit.algorithms import ncvmp_logistic
    >>> X = np.array([[1.0, 0.5], [0.3, -1.0], [-1.2, 0.2], [0.8, 0.9]]); y = np.array([1.0, 0.0, 0.0, 1.0])
    >>> res = ncvmp_logistic(X, y, alpha=1.0, n_steps=20)
    >>> bool(np.allclose(res.means[-1], res.means[-2], atol=1e-12))   # a fixed point: exact Gaussian VI
    True
    """
    xp, like = namespace_and_reference(X=X, y=y, alpha=alpha, m0=m0, precision0=precision0)
    dtype = floating_dtype(xp, X=X, m0=m0, precision0=precision0)  # float32 in, float32 out (steps in float64)
    X = on_device(xp, as_float_array(X, "X", min_ndim=2), like)
    y = on_device(xp, as_float_array(y, "y", min_ndim=1), like)
    if tuple(y.shape) != tuple(X.shape[:-1]):
        raise ValueError(f"y must have shape {tuple(X.shape[:-1])} (one label per row of X), got {tuple(y.shape)}")
    check_binary_labels(y, "y", "the logistic loss log(1 + exp(xᵀθ)) - y xᵀθ")
    batch, D = tuple(X.shape[:-2]), X.shape[-1]

    def beside_X(a, name, shape):  # α or a start (NumPy for a Python number), broadcast to ``shape`` on X's device
        a = broadcast_to_batch(a, name, shape)
        return a.copy() if xp is np else xp.asarray(a, dtype=xp.float64, device=device(X))

    a = beside_X(check_positive(alpha, "alpha"), "alpha", batch)
    m = beside_X(np.zeros(()) if m0 is None else as_float_array(m0, "m0"), "m0", batch + (D,))
    # symmetry before definiteness: a Cholesky factorisation reads one triangle only
    S = (a[..., None, None] * xp.eye(D, dtype=xp.float64, device=device(X)) if precision0 is None
         else beside_X(check_spd(precision0, "precision0", D), "precision0", batch + (D, D)))
    n_steps = check_n_steps(n_steps)
    means, precisions = [m], [S]
    for t in range(1, n_steps + 1):
        m, S = ncvmp_step(m, S, a, X, y)
        if not bool(xp.all(xp.isfinite(m))):
            raise ValueError(f"the mean became non-finite at step {t}: NC-VMP (rho = 1) diverged on this problem")
        means.append(m)
        precisions.append(S)
    means, precisions = (as_dtype(xp, dtype, xp.stack(a)) for a in (means, precisions))
    return NewtonResult(means=means, precisions=precisions)
