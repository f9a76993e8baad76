r"""Online Gauss–Newton (OGN) and variational OGN (VOGN) derived from the Bayesian learning rule.

Take a diagonal Gaussian candidate :math:`q(\theta) = \mathcal N(m, \mathrm{diag}(s)^{-1})` for a loss
that is a sum :math:`\bar\ell = \sum_{i=1}^N \ell_i`.  The BLR needs :math:`\mathbb E_q[\nabla\bar\ell]`
and the diagonal of :math:`\mathbb E_q[\nabla^2\bar\ell]`; replace the Hessian's diagonal by the sum of
the squared per-example gradients :math:`\sum_i (\nabla\ell_i)^2` (the Gauss–Newton approximation
of Khan et al. 2018, no second derivatives needed) and both sums by minibatch estimates.  With
the delta method (everything at the mean) this is OGN, "Adam without the square root and with a
Gauss–Newton second moment"; without it, the gradients are taken at a sample
:math:`\theta \sim q_t`, and the precision :math:`s` becomes a posterior precision: VOGN
(Khan & Rue 2023, Sec. 4.4).

A prior :math:`\mathcal N(0, \delta^{-1} I)` enters through the loss, as in every blrkit recipe:
give each term its share, :math:`\ell_i(\theta) = \text{data term}_i + \tfrac{\delta}{2N}\|\theta\|^2`.
Its gradient is then squared with the data term's, so :math:`s` is the Gauss–Newton estimate of the
whole :math:`\bar\ell`; the slide's VOGN, :math:`m \leftarrow m - \alpha (s + \gamma)^{-1}\nabla\ell`,
instead keeps the prior precision γ out of :math:`s` and adds it exactly.  The two agree when the
prior is weak.

The numeric updates are the emitted :func:`~blrkit.algorithms._generated.ogn.ogn_step` and
:func:`~blrkit.algorithms._generated.vogn.vogn_step`.

The drivers compute with the namespace of their array arguments (:mod:`blrkit._array_api`): the arrays of
another Array API library (PyTorch, JAX, CuPy, array-api-strict) run in that library, ``grad_terms`` (or
``grad_sums``) receives its arrays (θ and the minibatch indices) and the result holds its arrays; random draws
stay on the host's ``rng``.
"""

from __future__ import annotations

import math

import numpy as np

from blrkit._array_api import array_namespace, to_numpy
from blrkit._validation import check_count, check_positive
from blrkit.algorithms._common import (
    named_failures,
    check_n_steps,
    broadcast_to_batch,
    check_minibatch,
    check_rho,
    check_rng,
    check_start,
    check_step,
)
from blrkit.algorithms._generated.ogn import ogn_step
from blrkit.algorithms._generated.vogn import vogn_step
from blrkit.algorithms._generated.vogn_improved import improved_vogn_step
from blrkit.algorithms._checks import check_output
from blrkit.algorithms._namespace import floating_dtype, on_namespace, scalar_or_array
from blrkit.algorithms._runner import Run
from blrkit.algorithms.results import DiagonalNewtonResult

__all__ = ["online_gauss_newton", "vogn"]


@named_failures
def online_gauss_newton(grad_terms, m0, *, rho, n_steps: int, n_data: int, batch_size: int, precision0,
                        rng=None, grad_sums=None) -> DiagonalNewtonResult:
    r"""Run ``n_steps`` steps of online Gauss–Newton: the diagonal-Gaussian BLR with the delta method.

    .. math::

        s_{t+1} = (1-\rho)\, s_t + \rho\, \frac NM \sum_{i\in\mathcal B_t} \nabla\ell_i(m_t)^2, \qquad
        m_{t+1} = m_t - \rho\, \frac NM \sum_{i\in\mathcal B_t} \nabla\ell_i(m_t) \oslash s_{t+1},

    squares and division elementwise. Symbols: :math:`m_0` is ``m0``, :math:`s_0` is ``precision0``,
    ρ is ``rho``, N is ``n_data``, M is ``batch_size``; :math:`\mathcal B_t` is
    ``np.sort(rng.choice(n_data, batch_size, replace=False))``, one draw per step shared by the whole
    batch of problems (as in :func:`~blrkit.algorithms.stochastic_gradient_descent`), and
    ``grad_terms(m, idx)`` returns the per-example gradients :math:`\nabla\ell_i(m)`,
    :math:`i \in` ``idx``, stacked on axis −2 (Khan & Rue 2023, Sec. 4.4). Unlike Adam or RMSprop
    there is no square root and the step is tied to the averaging weight ρ, as the BLR implies.

    Parameters
    ----------
    grad_terms : callable or None
        ``grad_terms(m, idx)``: ``(*batch, D)``, an index array of length M → ``(*batch, M, D)``; None when
        ``grad_sums`` is given.
    m0 : array_like, shape (*batch, D)
        Starting mean.
    rho : float or array_like of shape (*batch,)
        Learning rate in (0, 1].
    n_steps : int
        Number of steps, ≥ 0.
    n_data, batch_size : int
        N ≥ 1 terms in the loss and M (1 ≤ M ≤ N) per minibatch.
    precision0 : array_like, shape (*batch, D) or broadcastable
        Starting diagonal precision, > 0.
    rng : numpy.random.Generator or int or None
        Source of the minibatches (an int seeds ``numpy.random.default_rng``).

    grad_sums : callable, optional
        ``grad_sums(θ, idx)`` → ``(Σ_i ∇ℓ_i(θ), Σ_i ∇ℓ_i(θ)²)`` over the minibatch, each θ's shape: what the
        emitted step uses. Give it when the model computes both sums without stacking per-example
        gradients (``blrkit.models.MLP.gradient_square_sums``: about 10× faster on a network).

    Returns
    -------
    DiagonalNewtonResult
        ``means`` and ``precisions``, both ``(n_steps + 1, *batch, D)``.

    Raises
    ------
    ValueError
        Bad ρ, ``n_steps``, ``n_data``, ``batch_size``, ``m0`` or ``precision0``; ``grad_terms``
        returning a wrong shape or non-finite values; a precision entry that is not positive
        (ρ = 1 and every per-example gradient zero in a coordinate).

    References
    ----------
    Khan & Rue, "The Bayesian Learning Rule", JMLR 24 (2023), Sec. 4.4.
    Khan et al., "Fast and scalable Bayesian deep learning by weight-perturbation in Adam", ICML 2018.

    Examples
    --------
    Least squares, ℓ_i(θ) = (x_iᵀθ − y_i)²/2, full batch: the mean settles where Σ_i ∇ℓ_i = 0.

    >>> import numpy as np
    >>> from blrkit.algorithms import online_gauss_newton
    >>> X = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]]); y = np.array([1.0, 2.0, 2.0])
    >>> terms = lambda m, idx: ((X[idx] @ m[..., None])[..., 0] - y[idx])[..., None] * X[idx]
    >>> res = online_gauss_newton(terms, np.zeros(2), rho=0.5, n_steps=200, n_data=3, batch_size=3,
    ...                           precision0=np.ones(2), rng=0)
    >>> np.round(res.means[-1], 6)
    array([1., 1.])
    """
    xp, m, r, s, rng = _setup(grad_terms, grad_sums, m0, rho, n_data, batch_size, precision0, rng)
    n_steps = check_n_steps(n_steps)
    # s ← (1 − ρ)s + ρ(N/M)Σ_B ∇ℓ_i(m)²,  m ← m − ρ(N/M)Σ_B ∇ℓ_i(m) / s
    run = Run(xp, n_steps=n_steps, n_data=n_data, batch_size=batch_size, rng=rng,
              dtype=floating_dtype(xp, m0=m0, precision0=precision0))
    return _iterate(run, lambda m, s, terms: ogn_step(m, s, r, terms, n_data, batch_size),
                    _sums(run, grad_terms, grad_sums, xp), m, s)


@named_failures
def vogn(grad_terms, m0, *, rho, n_steps: int, n_data: int, batch_size: int, precision0, n_samples: int = 1,
         rng=None, rule: str = "blr", grad_sums=None) -> DiagonalNewtonResult:
    r"""Run ``n_steps`` steps of variational online Gauss–Newton: OGN without the delta method.

    .. math::

        \theta_k = m_t + \varepsilon_k \oslash \sqrt{s_t},\ \varepsilon_k \sim \mathcal N(0, I),\
        k = 1..K,

        s_{t+1} = (1-\rho)\, s_t + \rho\, \frac NM \frac1K \sum_k \sum_{i\in\mathcal B_t} \nabla\ell_i(\theta_k)^2,
        \qquad
        m_{t+1} = m_t - \rho\, \frac NM \frac1K \sum_k \sum_{i\in\mathcal B_t} \nabla\ell_i(\theta_k) \oslash s_{t+1}.

    Symbols as in :func:`online_gauss_newton`; K is ``n_samples``. Each step first draws the
    minibatch ``np.sort(rng.choice(n_data, batch_size, replace=False))``, then the K normal vectors
    ``rng.standard_normal((K, *batch, D))`` from the same generator; ``grad_terms`` is called once per
    step on all samples, ``(K, *batch, D)`` → ``(K, *batch, M, D)``. The slide's α is ρ here (the BLR
    ties them) and its prior precision γ sits inside the loss (see the module docstring); σ² = 1/s
    (Khan & Rue 2023, Sec. 4.4).

    Parameters
    ----------
    grad_terms : callable or None
        ``grad_terms(θ, idx)``: ``(K, *batch, D)``, an index array of length M → ``(K, *batch, M, D)``; None
        when ``grad_sums`` is given.
    m0 : array_like, shape (*batch, D)
        Starting mean.
    rho : float or array_like of shape (*batch,)
        Learning rate in (0, 1].
    n_steps : int
        Number of steps, ≥ 0.
    n_data, batch_size : int
        N ≥ 1 terms in the loss and M (1 ≤ M ≤ N) per minibatch.
    precision0 : array_like, shape (*batch, D) or broadcastable
        Starting diagonal precision, > 0 (it sets where the first samples fall).
    n_samples : int, default 1
        Monte-Carlo samples K per step.
    rule : {"blr", "improved"}, default "blr"
        ``"improved"``: the improved BLR (Lin, Schmidt & Khan 2020), s_{t+1} = (s_t + b²/s_t)/2 with b the
        plain rule's precision (recipe ``vogn_improved``); positive for every ρ.
    rng : numpy.random.Generator or int or None
        Source of the minibatches and the samples (an int seeds ``numpy.random.default_rng``). The
        default, a fresh ``default_rng()``, differs from call to call: pass a seed to reproduce a run.

    grad_sums : callable, optional
        ``grad_sums(θ, idx)`` → ``(Σ_i ∇ℓ_i(θ), Σ_i ∇ℓ_i(θ)²)`` over the minibatch, each θ's shape: what the
        emitted step uses. Give it when the model computes both sums without stacking per-example
        gradients (``blrkit.models.MLP.gradient_square_sums``: about 10× faster on a network).

    Returns
    -------
    DiagonalNewtonResult
        ``means`` and ``precisions`` (the posterior's diagonal precisions), ``(n_steps + 1, *batch, D)``.

    Raises
    ------
    ValueError
        As :func:`online_gauss_newton`, and a bad ``n_samples``.

    References
    ----------
    Khan & Rue, "The Bayesian Learning Rule", JMLR 24 (2023), Sec. 4.4.
    Osawa et al., "Practical deep learning with Bayesian principles", NeurIPS 2019.

    Examples
    --------
    Bayesian linear regression with a unit prior shared over N = 3 terms: the posterior precision
    s is about Σ_i x_i² r_i² plus the prior's share, and σ = 1/√s is the mean's uncertainty.

    >>> import numpy as np
    >>> from blrkit.algorithms import vogn
    >>> X = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]]); y = np.array([1.0, 2.0, 2.0])
    >>> def terms(th, idx):
    ...     r = (th[..., None, :] * X[idx]).sum(-1) - y[idx]
    ...     return r[..., None] * X[idx] + th[..., None, :] / 3
    >>> res = vogn(terms, np.zeros(2), rho=0.1, n_steps=500, n_data=3, batch_size=3, precision0=np.ones(2),
    ...            n_samples=4, rng=0)
    >>> res.means.shape, bool(np.all(res.precisions > 0))
    ((501, 2), True)
    """
    xp, m, r, s, rng = _setup(grad_terms, grad_sums, m0, rho, n_data, batch_size, precision0, rng)
    n_steps = check_n_steps(n_steps)
    if rule not in ("blr", "improved"):
        raise ValueError(f"rule must be 'blr' or 'improved', got {rule!r}")
    step = improved_vogn_step if rule == "improved" else vogn_step
    check_count(n_samples, "n_samples")
    K = int(n_samples)
    # θ_k = m + ε_k/√s;  s ← (1 − ρ)s + ρ(N/M) mean_k Σ_B ∇ℓ_i(θ_k)²;  m ← m − ρ(N/M) mean_k Σ_B ∇ℓ_i(θ_k) / s
    run = Run(xp, n_steps=n_steps, n_data=n_data, batch_size=batch_size, rng=rng,
              dtype=floating_dtype(xp, m0=m0, precision0=precision0))
    return _iterate(run, lambda m, s, terms: step(m, s, r, terms, n_data, batch_size, K, run.rng),
                    _sums(run, grad_terms, grad_sums, xp), m, s)


def _setup(grad_terms, grad_sums, m0, rho, n_data, batch_size, precision0, rng):
    """Validate the arguments shared by both drivers, once; the namespace ``xp`` of the array arguments
    (NumPy, or the one library they all come from: the iterates are that library's arrays)."""
    xp = array_namespace(m0=m0, precision0=precision0, rho=rho)
    m = check_start(m0)
    r = check_rho(rho, m.shape[:-1])
    check_minibatch(n_data, batch_size)
    if grad_sums is not None:
        if not callable(grad_sums):
            raise TypeError(f"grad_sums must be callable, got {type(grad_sums).__name__}")
    elif not callable(grad_terms):
        raise TypeError(f"grad_terms must be callable (or give grad_sums), got {type(grad_terms).__name__}")
    if precision0 is None:
        raise ValueError("precision0 is required")
    s = broadcast_to_batch(check_positive(precision0, "precision0"), "precision0", tuple(m.shape))
    s = s.copy() if xp is np else on_namespace(xp, s, m)
    # a Python float when scalar: the emitted step's scalar arithmetic stays scalar
    return xp, m, scalar_or_array(r, xp, m), s, check_rng(rng)


#: The iterates are checked for NaN, inf and non-positive precisions once per this many steps, in
#: one pass over the block (a per-step check cost more than the arithmetic of a small step); a
#: failure is still reported at the step where it happened. Steps after it, up to the block's end,
#: have run on the bad values (their results are discarded with the error).
CHECK_EVERY = 32


def _sums(run, grad_terms, grad_sums, xp):
    """``(θ, idx) ↦ (Σ_i ∇ℓ_i(θ), Σ_i ∇ℓ_i(θ)²)`` over the minibatch, every call checked (the runner's oracles):
    the user's ``grad_sums`` (a pair of θ's shape, the second ≥ 0), or the sums of ``grad_terms``' per-example
    gradients ``(*batch, M, D)`` (axis −2)."""
    if grad_sums is None:
        terms = run.oracle(grad_terms, "grad_terms", what="per-example gradients", arg_name="θ",
                           shape=lambda theta: tuple(theta.shape[:-1]) + (run.batch_size, theta.shape[-1]))
        if xp is np:
            shapes = {}  # θ's shape -> the documented shape of the terms (θ's shape is the same at every step)

            def from_terms(theta, idx):  # array methods, not np.sum: a few µs a step on small problems
                g = grad_terms(theta, idx)
                expected = shapes.get(theta.shape) or shapes.setdefault(
                    theta.shape, theta.shape[:-1] + (run.batch_size, theta.shape[-1]))
                if type(g) is not np.ndarray or g.shape != expected or g.dtype.kind != "f" or g.dtype.itemsize < 4:
                    g = terms.check(g, theta)  # the full check (the types, the shape, what to say)
                    return g.sum(axis=-2), (g * g).sum(axis=-2)
                g_sum, g_sq = g.sum(axis=-2), (g * g).sum(axis=-2)
                # NaN or inf in any term makes Σ g² NaN or inf, and so its dot product with itself (non-negative
                # entries: no cancellation): one BLAS call on D numbers, not a pass over M·D terms, and 1 µs
                # cheaper than a sum's ufunc machinery. Only then the exact test (which finite terms pass, such
                # as terms above 1e77, whose Σ g² squared overflows)
                v = g_sq.ravel()  # a view: the sum is a fresh contiguous array
                if not math.isfinite(v.dot(v)):
                    terms.check(g, theta)
                return g_sum, g_sq
        else:
            def from_terms(theta, idx):
                g = terms(theta, idx)
                return xp.sum(g, axis=-2), xp.sum(g * g, axis=-2)
        return from_terms

    def from_sums(theta, idx):
        out = grad_sums(theta, idx)
        if not (isinstance(out, tuple) and len(out) == 2):
            raise ValueError(f"grad_sums must return a pair (Σ_i ∇ℓ_i, Σ_i ∇ℓ_i²), got {type(out).__name__} at step "
                             f"{run.t}")
        shape = tuple(theta.shape)
        shapes = [tuple(getattr(x, "shape", np.shape(x))) for x in out]
        if shapes != [shape] * 2:
            raise ValueError(f"grad_sums must return two arrays of shape {shape}, got {shapes[0]} and {shapes[1]} "
                             f"at step {run.t}")
        g = check_output(out[0], "grad_sums", theta, shape=shape, arg_name="θ", step=run.t, xp=xp,
                         what="the summed gradient Σ_i ∇ℓ_i (first of the pair)")
        g2 = check_output(out[1], "grad_sums", theta, shape=shape, arg_name="θ", step=run.t, xp=xp, nonnegative=True,
                          what="the sum of squares Σ_i ∇ℓ_i² (second of the pair)")
        return g, g2

    return from_sums


def _iterate(run, step, grad_sums, m, s) -> DiagonalNewtonResult:
    """The loop of both drivers: each step draws its minibatch B and calls ``step(m, s, θ ↦ grad_sums(θ, B))``.

    Every call of the user's callable is checked (``grad_sums`` is the runner's oracle); the iterates are
    stored and checked (complex, non-finite, non-positive) in blocks of :data:`CHECK_EVERY` steps.
    The iterates of another library than NumPy are collected in lists and stacked.
    """
    xp, n_steps = run.xp, run.n_steps
    m, s = run.cast(m), run.cast(s)
    on_host = xp is np
    if on_host:  # NumPy: rows of preallocated arrays (lists stacked at the end cost ~5 % more on small problems)
        means, precisions = np.empty((n_steps + 1,) + m.shape, m.dtype), np.empty((n_steps + 1,) + m.shape, m.dtype)
        means[0], precisions[0] = m, s
    else:        # other libraries: lists, stacked (JAX arrays have no item assignment)
        means, precisions = [m], [s]
    checked_to = 0
    minibatch, cast = run.minibatch, run.cast  # bound once, not looked up at every step
    # NumPy: the run's dtype (a canonical, hence unique, dtype object); a step's output of that dtype needs neither
    # the complex test nor a cast, and is known by one identity test (0.6 µs a step less than both)
    dtype = np.dtype(run.dtype) if on_host and run.dtype is not None else None
    # s = 0, and squares or sums that overflow, are reported by the block check (as a ValueError, not a warning)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for t in range(n_steps):
            run.t = t + 1
            idx = minibatch(m)
            try:
                m, s = step(m, s, lambda theta: grad_sums(theta, idx))
            except ValueError:
                # a bad answer at iterates not yet checked: an earlier step's failure comes first
                _check_block(means, precisions, checked_to, t, xp)
                raise
            if m.dtype is not dtype or s.dtype is not dtype:
                if on_host and (m.dtype.kind == "c" or s.dtype.kind == "c"):  # a float row would drop the imaginary part
                    check_step(t + 1, m, s, grad="grad_terms", hess="grad_terms")
                m, s = cast(m), cast(s)
            if on_host:
                means[t + 1], precisions[t + 1] = m, s
            else:
                means.append(m)
                precisions.append(s)
            if t + 1 - checked_to == CHECK_EVERY:
                _check_block(means, precisions, checked_to, t + 1, xp)
                checked_to = t + 1
    _check_block(means, precisions, checked_to, n_steps, xp)
    if not on_host:
        means, precisions = xp.stack(means), xp.stack(precisions)
    return DiagonalNewtonResult(means=means, precisions=precisions)


def _check_block(means, precisions, t0, t1, xp):
    """Check the iterates of steps ``t0 + 1 .. t1`` (rows or items ``t0 + 1 .. t1``; step 1 is the first, as in every
    message of the runner) in one pass; at the first bad step, raise the error that step's own check would
    (:func:`check_step`, then :func:`_positive_or_raise`)."""
    if t1 <= t0:
        return
    m, s = means[t0 + 1:t1 + 1], precisions[t0 + 1:t1 + 1]  # NumPy: views of the rows; else lists
    if xp is np:
        # three reductions instead of ten calls (13 µs a block less at D = 10): a NaN makes the minimum fail the
        # test (inf: an empty batch passes); a sum of positive numbers is finite exactly when they all are, and a
        # NaN or inf in m makes the total non-finite. Only a failure (or a total that overflows) pays for the
        # exact search below
        if s.min(initial=math.inf) > 0 and math.isfinite(s.sum() + m.sum()):
            return
    else:
        m, s = xp.stack(m), xp.stack(s)
        if _is_complex(m, xp) or _is_complex(s, xp):  # the first complex step raises its TypeError
            for t in range(t0 + 1, t1 + 1):
                check_step(t, means[t], precisions[t], grad="grad_terms", hess="grad_terms")
    m, s = xp.reshape(m, (t1 - t0, -1)), xp.reshape(s, (t1 - t0, -1))
    ok = xp.all(s > 0, axis=1) & xp.all(xp.isfinite(s), axis=1) & xp.all(xp.isfinite(m), axis=1)
    if bool(xp.all(ok)):
        return
    t = t0 + 1 + int(np.argmin(to_numpy(ok)))
    m, s = means[t], precisions[t]
    check_step(t, xp.where(s > 0, m, xp.zeros_like(m)), s, grad="grad_terms", hess="grad_terms")
    _positive_or_raise(s, t, xp)


def _is_complex(a, xp) -> bool:
    return xp.isdtype(a.dtype, "complex floating")


def _positive_or_raise(s, t, xp):
    if not bool(xp.all(s > 0)):
        raise ValueError(f"the precision became non-positive at step {t}: with rho = 1, every per-example "
                         "gradient from grad_terms was zero in some coordinate; use rho < 1")
