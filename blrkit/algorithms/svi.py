r"""Stochastic variational inference: the conjugate BLR with minibatches and a Robbins–Monro ρ_t (Sec. 5.3).

For a model whose likelihood is conjugate to q, the BLR with the stochastic approximation
:math:`\sum_{i=1}^N\ell_i \approx \tfrac NM\sum_{i\in\mathcal B_t}\ell_i` is SVI (Hoffman et al. 2013):
:math:`\lambda_{t+1} = (1-\rho_t)\lambda_t + \rho_t(\lambda_0 + \tfrac NM\sum_{i\in\mathcal B_t}\tilde\lambda_i)`.
The recipe ``svi`` derives it for a Gaussian mean with known noise variance; the numeric step is the
emitted :func:`~blrkit.algorithms._generated.svi.svi_step`.
"""

from __future__ import annotations

import numpy as np

from blrkit._validation import as_float_array, check_positive
from blrkit.algorithms._common import check_minibatch, check_rng
from blrkit.algorithms._generated.svi import svi_step
from blrkit.algorithms.gradient_descent import _check_n_steps

__all__ = ["svi_gaussian_mean"]


def svi_gaussian_mean(y, *, prior_mean, prior_precision, noise_variance, batch_size: int, n_steps: int,
                      learning_offset=1.0, learning_decay=0.7, m0=None, precision0=None, batches=None, rng=None):
    r"""SVI for the mean θ of :math:`y_i \sim \mathcal N(\theta, \sigma^2)`, prior :math:`\mathcal N(m_0, S_0^{-1})`.

    Step t = 1, 2, … draws a minibatch ``np.sort(rng.choice(N, batch_size, replace=False))`` (or takes
    ``batches[t − 1]``) and moves the natural parameters with :math:`\rho_t = (\tau_0 + t)^{-\kappa}`,
    scikit-learn's ``learning_offset`` τ₀ and ``learning_decay`` κ ∈ (0.5, 1] (Robbins–Monro; κ = 1 and
    τ₀ = 0 give ρ_t = 1/t, which over one epoch of single data without replacement reaches the exact
    posterior).

    Returns
    -------
    (means, precisions) : tuple of ndarray
        Every iterate, ``(n_steps + 1, *batch)``; index 0 is the start (default: the prior).

    Examples
    --------
    >>> import numpy as np
    >>> from blrkit.algorithms import svi_gaussian_mean
    >>> y = np.random.default_rng(0).normal(2.0, 1.0, size=100)
    >>> m, S = svi_gaussian_mean(y, prior_mean=0.0, prior_precision=1.0, noise_variance=1.0, batch_size=10,
    ...                          n_steps=500, rng=0)
    >>> bool(abs(m[-1] - y.sum() / 101) < 0.05), float(S[-1])    # the exact posterior: mean Σy/(N+1), S = N+1
    (True, 101.0)
    """
    y = as_float_array(y, "y", min_ndim=1)
    N = y.shape[-1]
    check_minibatch(N, batch_size)
    m0_, S0 = as_float_array(prior_mean, "prior_mean"), check_positive(prior_precision, "prior_precision")
    s2 = check_positive(noise_variance, "noise_variance")
    tau0 = float(as_float_array(learning_offset, "learning_offset"))
    kappa = float(as_float_array(learning_decay, "learning_decay"))
    if tau0 < 0 or not 0.5 < kappa <= 1:
        raise ValueError(f"learning_offset must be ≥ 0 and learning_decay in (0.5, 1] (Robbins–Monro), got "
                         f"{learning_offset!r}, {learning_decay!r}")
    n_steps = _check_n_steps(n_steps)
    m = np.broadcast_to(m0_ if m0 is None else as_float_array(m0, "m0"), y.shape[:-1]).astype(float)
    S = np.broadcast_to(S0 if precision0 is None else check_positive(precision0, "precision0"),
                        y.shape[:-1]).astype(float)
    rng = check_rng(rng)
    means, precisions = [m], [S]
    for t in range(1, n_steps + 1):
        idx = np.sort(rng.choice(N, batch_size, replace=False)) if batches is None else np.asarray(batches[t - 1])
        rho = (tau0 + t) ** -kappa
        m, S = svi_step(m, S, rho, m0_, S0, y[..., idx], s2, N)
        means.append(m)
        precisions.append(S)
    return np.stack(means), np.stack(precisions)
