r"""Dropout as the BLR: a spike-and-slab mixture per weight, the responsibility approximation, the delta
method and one mask per step (Khan & Rue 2023, Sec. 4.3).

The recipe ``dropout`` derives the step :math:`m \leftarrow m - \rho\,\tfrac NM\,(z/p)\odot\hat g_{\mathcal B}(z\odot m)`,
DropConnect SGD on the slab means; with :math:`\tilde m = p\,m` it is inverted dropout (the derivation checks
the change of variables).  The numeric step is the emitted
:func:`~blrkit.algorithms._generated.dropout.dropout_step`.

The driver computes with the namespace of its array arguments (:mod:`blrkit._array_api`): the arrays of
another Array API library (PyTorch, JAX, CuPy, array-api-strict) run in that library, ``grad_batch`` receives
its arrays (θ and the minibatch indices) and the result holds its arrays; random draws stay on the host's
``rng``.
"""

from __future__ import annotations

from blrkit._array_api import array_namespace
from blrkit.algorithms._checks import check_scalar, require_callable
from blrkit.algorithms._common import check_rho, check_start
from blrkit.algorithms._generated.dropout import dropout_step
from blrkit.algorithms._generated.dropout_noise import dropout_noise_step
from blrkit.algorithms._namespace import floating_dtype, scalar_or_array
from blrkit.algorithms._runner import Run
from blrkit.algorithms.results import GradientDescentResult

__all__ = ["dropout_sgd"]


def dropout_sgd(grad_batch, m0, *, rho, keep_prob, n_steps: int, n_data: int, batch_size: int,
                slab_sd=0.0, rng=None) -> GradientDescentResult:
    r"""Run ``n_steps`` BLR steps of dropout: every slab mean ``(n_steps + 1, *batch, D)``.

    Each step draws the minibatch ``np.sort(rng.choice(n_data, batch_size, replace=False))`` and then one mask
    ``rng.uniform(size=D) < keep_prob`` (shared by a batch of problems), and moves
    :math:`m \leftarrow m - \rho\,\tfrac NM (z/p)\odot\hat g_{\mathcal B}(z\odot m)`, with ``grad_batch(θ, idx)``
    the minibatch's *summed* gradient.  DropConnect SGD with step ρN/(Mp); ``keep_prob * means`` are the
    weights of inverted dropout with step ρNp/M (its gradient (z/p) ⊙ ĝ at the forward pass z ⊙ m̃/p).

    ``slab_sd`` σ > 0 keeps the slab's variance instead of the delta method (the recipe ``dropout_noise``): after
    the mask each step draws ``rng.standard_normal(D)`` = ε and takes the gradient at z ⊙ (m + σε), Gaussian
    noise on the kept weights; σ = 0 (the default) is DropConnect (the recipe ``dropout``), with no extra draws.

    Examples
    --------
    >>> import numpy as np
    >>> from blrkit.algorithms import dropout_sgd
    >>> X = np.random.default_rng(0).normal(size=(50, 3)); y = X @ [1.0, -2.0, 0.5]
    >>> g = lambda th, idx: ((th @ X[idx].T) - y[idx]) @ X[idx]
    >>> res = dropout_sgd(g, np.zeros(3), rho=0.002, keep_prob=0.8, n_steps=3000, n_data=50, batch_size=10, rng=1)
    >>> res.means[-1].round(1)                    # the slab means (dropout acts as a penalty)
    array([ 0.9, -2. ,  0.5])
    """
    xp = array_namespace(m0=m0, rho=rho, keep_prob=keep_prob, slab_sd=slab_sd)
    m = check_start(m0)
    r = scalar_or_array(check_rho(rho, m.shape[:-1]), xp, m)
    p = check_scalar(keep_prob, "keep_prob", low=0.0, high=1.0, closed_high=True)
    run = Run(xp, n_steps=n_steps, n_data=n_data, batch_size=batch_size, rng=rng, dtype=floating_dtype(xp, m0=m0))
    require_callable(grad_batch, "grad_batch")
    sd = check_scalar(slab_sd, "slab_sd", low=0.0, closed_low=True)  # the slab's standard deviation σ
    if sd > 0:
        def step(m, r, p, grad, n, M, rng):
            return dropout_noise_step(m, r, p, sd, grad, n, M, rng)
    else:
        step = dropout_step
    grad_batch = run.oracle(grad_batch, "grad_batch", what="the summed minibatch gradient", arg_name="θ")

    def blr_step(state):
        idx = run.minibatch(state[0])
        return (step(state[0], r, p, lambda theta: grad_batch(theta, idx), run.n_data, run.batch_size, run.rng),)

    def check(t, state):
        if not bool(xp.all(xp.isfinite(state[0]))):
            raise ValueError(f"the means became non-finite at step {t}: grad_batch returned NaN or inf, or rho is "
                             "too large")

    (means,) = run.loop(blr_step, (m,), check=check)
    return GradientDescentResult(means=means)
