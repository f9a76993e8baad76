r"""Multimodal optimisation: the BLR with a mixture of Gaussians and the delta method (Khan & Rue 2023, Sec. 3.2).

Each component :math:`k` of :math:`q(\theta) = \sum_k\pi_k\mathcal N(m_k, S_k^{-1})` runs damped Newton
from its own start, and the log-weights :math:`v_k = \log(\pi_k/\pi_K)` move towards the Laplace
evidence of the mode it finds, :math:`\pi_k \propto e^{-\bar\ell(m_k)}\det S_k^{-1/2}`: a mixture of
Laplace approximations, one per mode.  The recipe ``multimodal`` derives the step (the natural
gradient of the joint over (θ, z), the responsibility approximation, the delta method); the numeric
update is the emitted :func:`~blrkit.algorithms._generated.multimodal.mixture_newton_step`.
"""

from __future__ import annotations

import numpy as np

from blrkit._array_api import array_namespace, device, on_device, to_numpy
from blrkit._validation import as_float_array, check_count, check_simplex, cholesky_succeeds
from blrkit.algorithms._checks import check_output, check_scalar, require_callable
from blrkit.algorithms._common import check_rho
from blrkit.algorithms._generated.multimodal import mixture_newton_step
from blrkit.algorithms._generated.ncvi import mixture_vi_step
from blrkit.algorithms._namespace import floating_dtype, namespace_and_reference
from blrkit.algorithms._runner import Run
from blrkit.algorithms.results import MixtureResult

__all__ = ["mixture_newton", "mixture_vi"]


def mixture_newton(loss, grad, hess, means0, *, rho, n_steps: int, precisions0=None, weights0=None) -> MixtureResult:
    r"""Run ``n_steps`` BLR steps of a K-component Gaussian mixture with the delta method.

    .. math::

        S_{k,t+1} = (1-\rho)S_{k,t} + \rho\nabla^2\bar\ell(m_{k,t}), \qquad
        m_{k,t+1} = m_{k,t} - \rho S_{k,t+1}^{-1}\nabla\bar\ell(m_{k,t}),

        v_{k,t+1} = (1-\rho)v_{k,t} - \rho\big(\bar\ell(m_{k,t}) + \tfrac12\log\det S_{k,t}
                    - \bar\ell(m_{K,t}) - \tfrac12\log\det S_{K,t}\big),

    :math:`\pi_k \propto e^{v_k}` (Khan & Rue 2023, Sec. 3.2).  At a fixed point every :math:`m_k` is a
    stationary point of :math:`\bar\ell`, :math:`S_k` its Hessian there, and :math:`\pi` the normalised
    Laplace evidences.  Two components in one basin both keep the full evidence (the responsibility
    approximation ignores their overlap).

    Parameters
    ----------
    loss, grad, hess : callable
        ℓ̄(θ) ``(..., D)`` → ``(...)``, ∇ℓ̄ → ``(..., D)``, ∇²ℓ̄ → ``(..., D, D)``; called once per step
        on all components at once, θ ``(*batch, K, D)``, an array of the library of ``means0``.
    means0 : array_like, shape (*batch, K, D)
        Starting means, K ≥ 1 components.  Arrays of another Array API library (PyTorch, CuPy, JAX, …;
        every array argument from the same one) compute with it and give its arrays, on their device.
    rho : float or array_like of shape (*batch,)
        Learning rate in (0, 1].
    n_steps : int
        Number of steps, ≥ 0.
    precisions0 : array_like, broadcastable to (*batch, K, D, D), optional
        Starting precisions, symmetric positive definite; default the identity.
    weights0 : array_like, broadcastable to (*batch, K), optional
        Starting weights on the simplex (positive, summing to one); default uniform.

    Returns
    -------
    MixtureResult

    Raises
    ------
    ValueError
        Bad shapes, ρ, weights off the simplex, a precision that is not positive definite (at the start,
        or after a step: the component and the step are named; lower ρ or start where ∇²ℓ̄ is positive
        definite), a loss, gradient or Hessian that is not finite at a component's mean.

    Examples
    --------
    A double well: the components settle in the two minima, weighted by their Laplace evidence.

    >>> import numpy as np
    >>> from blrkit.algorithms import mixture_newton
    >>> f = lambda th: (th[..., 0] ** 4 / 4 - 2 * th[..., 0] ** 2 + th[..., 0] / 2)
    >>> g = lambda th: th ** 3 - 4 * th + 0.5
    >>> h = lambda th: (3 * th ** 2 - 4)[..., None]
    >>> res = mixture_newton(f, g, h, [[-1.5], [1.5]], rho=0.5, n_steps=60, precisions0=8 * np.eye(1))
    >>> np.round(res.means[:, 0], 4), np.round(res.weights, 3)
    (array([-2.0598,  1.9343]), array([0.87, 0.13]))
    """
    xp, like = namespace_and_reference(means0=means0, rho=rho, precisions0=precisions0, weights0=weights0)
    m = on_device(xp, as_float_array(means0, "means0", min_ndim=2), like)
    batch, K, D = _mixture_shape(m)
    r = _per_problem(xp, check_rho(rho, batch), m)  # one ρ per problem, shared by its K components
    run = Run(xp, n_steps=n_steps,
              dtype=floating_dtype(xp, means0=means0, precisions0=precisions0, weights0=weights0))
    for name, fn in (("loss", loss), ("grad", grad), ("hess", hess)):
        require_callable(fn, name)
    S = _precisions(xp, precisions0, m)
    v = _log_weights(xp, weights0, m)
    grad, hess, loss = (_finite(run, fn, name) for fn, name in ((grad, "grad"), (hess, "hess"), (loss, "loss")))
    return _run(run, lambda state: mixture_newton_step(*state, r, grad, hess, loss), m, S, v)


def mixture_vi(loss, grad, hess, means0, *, rho, n_steps: int, precisions0, n_samples: int = 10, rng=None,
               rho_weights=None, weights0=None) -> MixtureResult:
    r"""Variational inference with a mixture of K Gaussians: the BLR without approximations (Sec. 5.4).

    Every expectation under a component is a Monte-Carlo average over ``n_samples`` draws from it, the
    mixture's own :math:`\log q` included (Lin, Khan & Schmidt 2019); the precisions follow the
    improved BLR (Lin, Schmidt & Khan 2020), positive definite for every ρ:

    .. math::

        \hat G_k = \mathbb{E}_{q_k}[\nabla^2\bar\ell + \nabla^2\log q], \quad
        S_{k,t+1} = S_{k,t} + \rho\hat G_k + \tfrac{\rho^2}{2}\hat G_k S_{k,t}^{-1}\hat G_k, \quad
        m_{k,t+1} = m_{k,t} - \rho S_{k,t+1}^{-1}\mathbb{E}_{q_k}[\nabla\bar\ell + \nabla\log q],

        v_{k,t+1} = v_{k,t} - \rho_\pi\big(\mathbb{E}_{q_k}[\bar\ell + \log q] - \mathbb{E}_{q_K}[\bar\ell + \log q]\big).

    A fixed point is a stationary point of :math:`\mathbb{E}_q[\bar\ell] + \mathbb{E}_q[\log q]` over the
    mixtures (:math:`\bar\ell = -\log p(\theta, \mathcal D)`): if the target is itself a mixture of K
    Gaussians, it is one, and there every estimate above is exactly zero.  The step ``recipe ncvi``
    is emitted as :func:`~blrkit.algorithms._generated.ncvi.mixture_vi_step` (Khan & Rue 2023, Sec. 5.4).

    Parameters
    ----------
    loss, grad, hess : callable
        ℓ̄, ∇ℓ̄, ∇²ℓ̄ at the samples θ ``(n_samples, *batch, K, D)``.
    means0 : array_like, shape (*batch, K, D)
        Arrays of another Array API library (every array argument from the same one) compute with it and
        give its arrays; the draws come from ``rng`` on the host and move to their device.
    rho : float or array_like of shape (*batch,)
        Step of the components, in (0, 1].
    n_steps : int
    precisions0 : array_like broadcastable to (*batch, K, D, D)
        Symmetric positive definite.
    n_samples : int, default 10
        Draws per component and step.
    rng : numpy.random.Generator or int or None
    rho_weights : float, optional
        Step ρ_π > 0 of the log-weights; default ``rho / 10`` (the weights move slower than the
        components, as in Lin, Khan & Schmidt's code).
    weights0 : array_like broadcastable to (*batch, K), optional
        On the simplex; default uniform.

    Returns
    -------
    MixtureResult

    Examples
    --------
    The target 0.3 N(−2, 0.5²) + 0.7 N(2, 1) is a mixture of two Gaussians: from (−3, 3) the components
    find it.

    >>> import numpy as np
    >>> from blrkit.algorithms import mixture_vi
    >>> w, mu, var = np.array([0.3, 0.7]), np.array([-2.0, 2.0]), np.array([0.25, 1.0])
    >>> def log_p(th):  # log of the target at θ (..., 1), and its components' log-densities
    ...     c = np.log(w) - 0.5 * np.log(2 * np.pi * var) - (th - mu) ** 2 / (2 * var)
    ...     return np.logaddexp.reduce(c, axis=-1), c
    >>> def loss(th): return -log_p(th)[0]
    >>> def grad(th):
    ...     lp, c = log_p(th); r = np.exp(c - lp[..., None])
    ...     return np.sum(r * (th - mu) / var, axis=-1, keepdims=True)
    >>> def hess(th):
    ...     lp, c = log_p(th); r = np.exp(c - lp[..., None]); s = -(th - mu) / var
    ...     return (np.sum(r / var, -1) - np.sum(r * s**2, -1) + np.sum(r * s, -1) ** 2)[..., None, None]
    >>> res = mixture_vi(loss, grad, hess, [[-3.0], [3.0]], rho=0.2, n_steps=400, precisions0=np.eye(1),
    ...                  rho_weights=0.05, rng=0)
    >>> np.round(res.weights, 3), np.round(res.means[:, 0], 3), np.round(1 / res.precisions[:, 0, 0], 3)
    (array([0.3, 0.7]), array([-2.,  2.]), array([0.25, 1.  ]))
    """
    xp, like = namespace_and_reference(means0=means0, rho=rho, precisions0=precisions0, rho_weights=rho_weights,
                                       weights0=weights0)
    m = on_device(xp, as_float_array(means0, "means0", min_ndim=2), like)
    batch, K, D = _mixture_shape(m)
    r = _per_problem(xp, check_rho(rho, batch), m)
    if rho_weights is None:
        r_pi = r / 10
    else:
        r_pi = check_scalar(rho_weights, "rho_weights", low=0.0)
    run = Run(xp, n_steps=n_steps, rng=rng, sampling=True,
              dtype=floating_dtype(xp, means0=means0, precisions0=precisions0, weights0=weights0))
    check_count(n_samples, "n_samples")
    for name, fn in (("loss", loss), ("grad", grad), ("hess", hess)):
        require_callable(fn, name)
    if precisions0 is None:
        raise ValueError("precisions0 is required (the spread of each component at the start)")
    S = _precisions(xp, precisions0, m)
    v = _log_weights(xp, weights0, m)
    grad, hess, loss = (_finite(run, fn, name, samples=True)
                        for fn, name in ((grad, "grad"), (hess, "hess"), (loss, "loss")))
    return _run(run, lambda state: mixture_vi_step(*state, r, r_pi, grad, hess, loss, int(n_samples), run.rng),
                m, S, v)


def _mixture_shape(m):
    """``(batch, K, D)`` of the means ``(*batch, K, D)``, K and D at least one."""
    if m.shape[-2] == 0 or m.shape[-1] == 0:
        raise ValueError(f"means0 must have shape (*batch, K, D) with K, D ≥ 1, got {tuple(m.shape)}")
    return tuple(m.shape[:-2]), m.shape[-2], m.shape[-1]


def _per_problem(xp, r, like):
    """ρ (a float or ``(*batch,)``) as ``(*batch, 1)``, broadcasting over the components, beside ``like``."""
    if xp is np:
        return np.asarray(r, dtype=float)[..., None]
    r = xp.asarray(r, dtype=xp.float64, device=device(like))
    return xp.reshape(r, (*r.shape, 1))


def _run(run, step, m, S, v) -> MixtureResult:
    """The loop of both drivers on the runner: the state (means, precisions, log-weights), each step's
    components checked positive definite, the weights from the log-weights."""
    xp = run.xp
    means, precs, logw = run.loop(step, (m, S, v), check=lambda t, state: _check_components(xp, state[1], state[0], t))
    weights = _softmax(xp, logw)
    return MixtureResult(means=means[-1, ...], precisions=precs[-1, ...], weights=weights[-1, ...],
                         mean_path=means, precision_path=precs, weight_path=weights)


def _precisions(xp, precisions0, m):
    """The starting precisions ``(*batch, K, D, D)`` beside the means ``m``: the identity by default."""
    shape = tuple(m.shape) + tuple(m.shape[-1:])
    if precisions0 is None:
        if xp is np:
            return np.broadcast_to(np.eye(shape[-1]), shape).copy()
        return xp.broadcast_to(xp.eye(shape[-1], dtype=xp.float64, device=device(m)), shape)
    S = on_device(xp, as_float_array(precisions0, "precisions0", min_ndim=2), m)
    try:
        S = xp.broadcast_to(S, shape)
    except (ValueError, RuntimeError):  # RuntimeError: PyTorch's
        raise ValueError(f"precisions0 must broadcast to {shape}, got shape {tuple(S.shape)}") from None
    if not bool(xp.all(xp.abs(S - S.mT) <= 1e-12 * xp.abs(S.mT))):
        raise ValueError("precisions0 must be symmetric")
    _check_components(xp, S, None, 0)
    return S


def _log_weights(xp, weights0, m):
    """The starting log-weights v_k = log(π_k/π_K) ``(*batch, K)`` beside the means ``m``: 0 by default."""
    shape = tuple(m.shape[:-1])
    if weights0 is None:
        return np.zeros(shape) if xp is np else xp.zeros(shape, dtype=xp.float64, device=device(m))
    w = on_device(xp, as_float_array(weights0, "weights0", min_ndim=1), m)
    try:
        w = xp.broadcast_to(w, shape)
    except (ValueError, RuntimeError):
        raise ValueError(f"weights0 must broadcast to {shape} (one weight per component), got shape "
                         f"{tuple(w.shape)}") from None
    check_simplex(w, "weights0")
    return xp.log(w) - xp.log(w[..., -1:])


def _softmax(xp, v):
    e = xp.exp(v - xp.max(v, axis=-1, keepdims=True))
    return e / xp.sum(e, axis=-1, keepdims=True)


def _finite(run, fn, name, samples=False):
    """θ ↦ ``fn(θ)`` checked at every call (:func:`~blrkit.algorithms._checks.check_output`, the step read from
    the ``run``): θ's library, real, the shape of a loss ``(..., K)``, a gradient ``(..., K, D)`` or a Hessian
    ``(..., K, D, D)``, finite (else the component is named)."""
    where = "a sample of" if samples else "the mean of"
    what = {"loss": "one loss per component", "grad": "a gradient", "hess": "a Hessian"}[name]

    def call(theta):
        xp = array_namespace(theta=theta)
        shape = {"loss": tuple(theta.shape[:-1]), "grad": tuple(theta.shape),
                 "hess": tuple(theta.shape) + tuple(theta.shape[-1:])}[name]
        t = run.t
        out = check_output(fn(theta), name, theta, shape=shape, what=what, step=t, finite=False, xp=xp)
        out = xp.astype(out, xp.float64, copy=False) if xp is not np else out
        if not bool(xp.all(xp.isfinite(out))):
            bad = np.argwhere(~np.isfinite(to_numpy(out).reshape(tuple(theta.shape[:-1]) + (-1,)).sum(-1)))[0]
            raise ValueError(f"{name} is not finite at {where} component {int(bad[-1])} at step {t}")
        return out
    return call


def _check_components(xp, S, m, t):
    """Every precision positive definite (a Cholesky factor exists) and every mean finite."""
    if not cholesky_succeeds(S):
        S = to_numpy(S)  # find the component to name, one matrix at a time
        ok = np.array([[_is_pd(x) for x in row] for row in S.reshape((-1,) + S.shape[-3:])])
        k = int(np.argwhere(~ok)[0][-1])
        where = "precisions0" if t == 0 else f"the precision after step {t}"
        raise ValueError(f"{where} of component {k} is not positive definite"
                         + ("" if t == 0 else ": lower rho, or start where the Hessian is positive definite"))
    if m is not None and not bool(xp.all(xp.isfinite(m))):
        raise ValueError(f"a component's mean became non-finite at step {t}")


def _is_pd(S):
    try:
        np.linalg.cholesky(S)
        return True
    except np.linalg.LinAlgError:
        return False
