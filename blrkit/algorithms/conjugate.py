r"""Conjugate Bayes derived from the Bayesian learning rule.

When the candidate family q is the conjugate prior's family, every likelihood term is linear in
the sufficient statistics, :math:`-\ell_i(\theta) = \langle\tilde\lambda_i, T(\theta)\rangle + c_i`,
so the natural gradient of :math:`\mathbb E_q[\bar\ell]` is a constant. One BLR step with ρ = 1
then lands, from any start, on the natural parameters
:math:`\lambda = \lambda_0 + \sum_i \tilde\lambda_i`: Bayes' rule written in natural
parameters, the exact posterior (Khan & Rue 2023, Sec. 5.1).

Each function here validates the prior and the data, calls the emitted one-step posterior from
:mod:`blrkit.algorithms._generated` (``beta_bernoulli``, ``gamma_poisson``,
``dirichlet_categorical``, ``gaussian_mean``, ``normal_gamma``) and returns a small frozen
result. All are batched: leading axes of the prior parameters and of the data broadcast and are
independent problems; the data axis is the last axis of ``y``. Arrays of any Array API library
(PyTorch, JAX, CuPy, …) give results holding that library's arrays; arguments from two libraries
raise ``TypeError`` naming one of them.
"""

from __future__ import annotations

import numpy as np

from blrkit._array_api import array_namespace, device, on_device
from blrkit._validation import as_float_array, check_positive
from blrkit.algorithms._generated.beta_bernoulli import beta_bernoulli_posterior
from blrkit.algorithms._generated.dirichlet_categorical import (
    dirichlet_categorical_posterior,
)
from blrkit.algorithms._generated.gamma_poisson import gamma_poisson_posterior
from blrkit.algorithms._generated.gaussian_mean import gaussian_mean_posterior
from blrkit.algorithms._generated.normal_gamma import normal_gamma_posterior
from blrkit.algorithms.results import (
    BetaPosterior,
    DirichletPosterior,
    GammaPosterior,
    NormalGammaPosterior,
    NormalPosterior,
)

__all__ = ["beta_bernoulli", "dirichlet_categorical", "gamma_poisson", "gaussian_mean", "normal_gamma"]


def beta_bernoulli(y, *, alpha0=1.0, beta0=1.0) -> BetaPosterior:
    r"""The Beta posterior of Bernoulli data: one BLR step with ρ = 1.

    .. math::

        \alpha = \alpha_0 + \sum_{i=1}^N y_i, \qquad \beta = \beta_0 + N - \sum_{i=1}^N y_i

    for :math:`\theta \sim \mathrm{Beta}(\alpha_0, \beta_0)` and
    :math:`y_i \mid \theta \sim \mathrm{Bernoulli}(\theta)`. Symbols: :math:`y` is ``y``,
    :math:`\alpha_0, \beta_0` are ``alpha0, beta0`` (Khan & Rue 2023, Sec. 5.1).

    Parameters
    ----------
    y : array_like, shape (*batch, N)
        Observations in {0, 1}.
    alpha0, beta0 : float or array_like of shape (*batch,), default 1.0
        Prior parameters, > 0 (the default is the uniform prior).

    Returns
    -------
    BetaPosterior
        ``alpha``, ``beta`` ``(*batch,)``, with ``mean`` and ``variance``.

    Raises
    ------
    ValueError
        ``y`` not in {0, 1} or not finite; ``alpha0`` or ``beta0`` not positive; shapes that do
        not broadcast.

    References
    ----------
    Khan & Rue, "The Bayesian Learning Rule", JMLR 24 (2023), Sec. 5.1.

    Examples
    --------
    >>> from blrkit.algorithms.conjugate import beta_bernoulli
    >>> post = beta_bernoulli([1, 0, 1, 1])
    >>> post.alpha, post.beta, round(float(post.mean), 4)
    (array(4.), array(2.), 0.6667)
    """
    xp = array_namespace(y=y, alpha0=alpha0, beta0=beta0)
    y = _data(y, "y")
    if bool(xp.any((y != 0) & (y != 1))):
        raise ValueError("y must contain only 0 and 1 (Bernoulli observations)")
    a0, b0 = (on_device(xp, check_positive(v, n), y) for v, n in ((alpha0, "alpha0"), (beta0, "beta0")))
    batch = _broadcast(tuple(y.shape[:-1]), alpha0=a0, beta0=b0)
    return BetaPosterior(*_shaped(xp, _finite(xp, beta_bernoulli_posterior, a0, b0, y, positive=("alpha", "beta")), batch))


def gamma_poisson(y, *, alpha0, beta0) -> GammaPosterior:
    r"""The Gamma posterior of the rate of Poisson counts: one BLR step with ρ = 1.

    .. math::

        \alpha = \alpha_0 + \sum_{i=1}^N y_i, \qquad \beta = \beta_0 + N

    for :math:`\theta \sim \mathrm{Gamma}(\alpha_0, \text{rate } \beta_0)` and
    :math:`y_i \mid \theta \sim \mathrm{Poisson}(\theta)`. Symbols: :math:`y` is ``y``,
    :math:`\alpha_0` (shape) and :math:`\beta_0` (rate) are ``alpha0`` and ``beta0``
    (Khan & Rue 2023, Sec. 5.1).

    Parameters
    ----------
    y : array_like, shape (*batch, N)
        Counts: non-negative integers.
    alpha0, beta0 : float or array_like of shape (*batch,)
        Prior shape and rate, > 0.

    Returns
    -------
    GammaPosterior
        ``alpha`` (shape), ``beta`` (rate) ``(*batch,)``, with ``mean`` and ``variance``.

    Raises
    ------
    ValueError
        ``y`` not non-negative integers or not finite; non-positive ``alpha0`` or ``beta0``.

    References
    ----------
    Khan & Rue, "The Bayesian Learning Rule", JMLR 24 (2023), Sec. 5.1.

    Examples
    --------
    >>> from blrkit.algorithms.conjugate import gamma_poisson
    >>> post = gamma_poisson([3, 0, 1], alpha0=2.0, beta0=1.0)
    >>> post.alpha, post.beta, float(post.mean)
    (array(6.), array(4.), 1.5)
    """
    xp = array_namespace(y=y, alpha0=alpha0, beta0=beta0)
    y = _data(y, "y")
    if bool(xp.any((y < 0) | (y != xp.round(y)))):
        raise ValueError("y must contain non-negative integers (Poisson counts)")
    a0, b0 = (on_device(xp, check_positive(v, n), y) for v, n in ((alpha0, "alpha0"), (beta0, "beta0")))
    batch = _broadcast(tuple(y.shape[:-1]), alpha0=a0, beta0=b0)
    return GammaPosterior(*_shaped(xp, _finite(xp, gamma_poisson_posterior, a0, b0, y, positive=("alpha", "beta")), batch))


def dirichlet_categorical(y, *, alpha0) -> DirichletPosterior:
    r"""The Dirichlet posterior of categorical data: one BLR step with ρ = 1.

    .. math::

        \alpha_k = \alpha_{0,k} + n_k, \qquad n_k = \#\{i : y_i = k\}, \quad k = 0, \dots, K-1

    for :math:`\theta \sim \mathrm{Dir}(\alpha_0)` and :math:`y_i \mid \theta \sim \mathrm{Cat}(\theta)`.
    Symbols: :math:`y` is ``y``, :math:`\alpha_0` is ``alpha0`` and K is its last axis
    (Khan & Rue 2023, Sec. 5.1). The labels are turned into one-hot rows, the sufficient
    statistics the emitted step sums.

    Parameters
    ----------
    y : array_like of int, shape (*batch, N)
        Integer class labels in 0..K−1 (not one-hot).
    alpha0 : array_like, shape (*batch, K)
        Prior concentrations, > 0; K ≥ 2 is the number of classes.

    Returns
    -------
    DirichletPosterior
        ``alpha`` ``(*batch, K)``, with ``mean``.

    Raises
    ------
    ValueError
        Labels outside 0..K−1, non-integer or non-finite; non-positive ``alpha0`` or fewer than
        two classes; shapes that do not broadcast.

    References
    ----------
    Khan & Rue, "The Bayesian Learning Rule", JMLR 24 (2023), Sec. 5.1.

    Examples
    --------
    >>> from blrkit.algorithms.conjugate import dirichlet_categorical
    >>> dirichlet_categorical([0, 2, 2], alpha0=[1.0, 1.0, 1.0]).alpha
    array([2., 1., 3.])
    """
    xp = array_namespace(y=y, alpha0=alpha0)
    y = _data(y, "y")
    a0 = on_device(xp, check_positive(alpha0, "alpha0"), y)
    if a0.ndim < 1 or a0.shape[-1] < 2:
        raise ValueError(f"alpha0 must have shape (*batch, K) with K ≥ 2 classes, got shape {tuple(a0.shape)}")
    K = a0.shape[-1]
    if bool(xp.any((y < 0) | (y >= K) | (y != xp.round(y)))):
        raise ValueError(f"y must contain integer class labels in 0..{K - 1} (K = {K} from alpha0)")
    batch = _broadcast(tuple(y.shape[:-1]), alpha0=a0[..., 0])
    # y_i → onehot(y_i), the sufficient statistic of the categorical likelihood: [y_i = k] for k = 0..K-1
    # (a comparison, not np.eye(K)[y]: integer-array indexing is not in every Array API library)
    onehot = xp.astype(y[..., None] == xp.arange(K, dtype=xp.float64, device=device(y)), xp.float64)
    return DirichletPosterior(*_shaped(xp, _finite(xp, dirichlet_categorical_posterior, a0, onehot, positive=("alpha",)), batch + (K,)))


def gaussian_mean(y, *, m0, precision0, noise_variance) -> NormalPosterior:
    r"""The Gaussian posterior of the mean of Gaussian data with known variance: one BLR step, ρ = 1.

    .. math::

        S = S_0 + \frac{N}{\sigma^2}, \qquad m = \frac{1}{S}\Big(S_0 m_0 + \frac{1}{\sigma^2}\sum_{i=1}^N y_i\Big)

    for :math:`\theta \sim \mathcal N(m_0, S_0^{-1})` and :math:`y_i \mid \theta \sim \mathcal N(\theta, \sigma^2)`.
    Symbols: :math:`y` is ``y``, :math:`m_0` is ``m0``, :math:`S_0` (a precision) is
    ``precision0`` and :math:`\sigma^2` is ``noise_variance`` (Khan & Rue 2023, Sec. 5.1).
    For a vector mean with a linear model see :func:`blrkit.algorithms.ridge`.

    Parameters
    ----------
    y : array_like, shape (*batch, N)
        Observations.
    m0 : float or array_like of shape (*batch,)
        Prior mean.
    precision0 : float or array_like of shape (*batch,)
        Prior precision, > 0.
    noise_variance : float or array_like of shape (*batch,)
        Known variance σ² of each observation, > 0.

    Returns
    -------
    NormalPosterior
        ``mean``, ``precision`` ``(*batch,)``, with ``variance``.

    Raises
    ------
    ValueError
        Non-finite ``y`` or ``m0``; non-positive ``precision0`` or ``noise_variance``.

    References
    ----------
    Khan & Rue, "The Bayesian Learning Rule", JMLR 24 (2023), Sec. 5.1.

    Examples
    --------
    >>> from blrkit.algorithms.conjugate import gaussian_mean
    >>> post = gaussian_mean([2.0, 4.0], m0=0.0, precision0=1.0, noise_variance=1.0)
    >>> post.mean, post.precision
    (array(2.), array(3.))
    """
    xp = array_namespace(y=y, m0=m0, precision0=precision0, noise_variance=noise_variance)
    y = _data(y, "y")
    m_0 = on_device(xp, as_float_array(m0, "m0"), y)
    S_0 = on_device(xp, check_positive(precision0, "precision0"), y)
    s2 = on_device(xp, check_positive(noise_variance, "noise_variance"), y)
    batch = _broadcast(tuple(y.shape[:-1]), m0=m_0, precision0=S_0, noise_variance=s2)
    return NormalPosterior(*_shaped(xp, _finite(xp, gaussian_mean_posterior, m_0, S_0, y, s2, positive=(None, "precision")), batch))


def normal_gamma(y, *, m0, kappa0, alpha0, beta0) -> NormalGammaPosterior:
    r"""The Normal–Gamma posterior of the mean and precision of Gaussian data: one BLR step, ρ = 1.

    .. math::

        \kappa = \kappa_0 + N, \quad m = \frac{\kappa_0 m_0 + \sum_i y_i}{\kappa}, \quad
        \alpha = \alpha_0 + \frac N2, \quad
        \beta = \beta_0 + \frac12\sum_{i=1}^N (y_i - \bar y)^2 + \frac{\kappa_0 N (\bar y - m_0)^2}{2\kappa}

    for :math:`\tau \sim \mathrm{Gamma}(\alpha_0, \text{rate } \beta_0)`,
    :math:`\mu \mid \tau \sim \mathcal N(m_0, (\kappa_0\tau)^{-1})` and
    :math:`y_i \mid \mu, \tau \sim \mathcal N(\mu, \tau^{-1})`, with :math:`\bar y` the sample mean.
    Symbols: :math:`y` is ``y`` and :math:`m_0, \kappa_0, \alpha_0, \beta_0` are ``m0, kappa0,
    alpha0, beta0`` (Khan & Rue 2023, Sec. 5.1). The emitted step writes β with raw sums
    (:math:`\sum y`, :math:`\sum y^2`); it is the same polynomial. The posterior is
    shift-equivariant, so the driver calls the step on :math:`y - c` and :math:`m_0 - c`, with
    :math:`c` the centre of the data's range, and adds :math:`c` back to :math:`m`: raw sums of
    centred data keep their spread (y = 1e8 ± 1 gives the textbook β).

    Parameters
    ----------
    y : array_like, shape (*batch, N)
        Observations.
    m0 : float or array_like of shape (*batch,)
        Prior mean of μ.
    kappa0, alpha0, beta0 : float or array_like of shape (*batch,)
        Prior pseudo-count of μ, Gamma shape and rate of τ; all > 0.

    Returns
    -------
    NormalGammaPosterior
        ``m``, ``kappa``, ``alpha``, ``beta`` ``(*batch,)``, with ``mean`` (E[μ]) and
        ``precision_mean`` (E[τ]).

    Raises
    ------
    ValueError
        Non-finite ``y`` or ``m0``; non-positive ``kappa0``, ``alpha0`` or ``beta0``; a posterior that
        overflows.
    TypeError
        Complex ``y`` or prior parameters.

    References
    ----------
    Khan & Rue, "The Bayesian Learning Rule", JMLR 24 (2023), Sec. 5.1.

    Examples
    --------
    >>> from blrkit.algorithms.conjugate import normal_gamma
    >>> post = normal_gamma([1.0, 3.0], m0=0.0, kappa0=1.0, alpha0=1.0, beta0=1.0)
    >>> post.m, post.kappa, post.alpha, post.beta
    (array(1.33333333), array(3.), array(2.), array(3.33333333))
    """
    xp = array_namespace(y=y, m0=m0, kappa0=kappa0, alpha0=alpha0, beta0=beta0)
    y = _data(y, "y")
    m_0 = on_device(xp, as_float_array(m0, "m0"), y)
    k0, a0, b0 = (on_device(xp, check_positive(v, n), y)
                  for v, n in ((kappa0, "kappa0"), (alpha0, "alpha0"), (beta0, "beta0")))
    batch = _broadcast(tuple(y.shape[:-1]), m0=m_0, kappa0=k0, alpha0=a0, beta0=b0)
    # shift-equivariance: NG(m, κ, α, β) for data y and prior mean m₀ is NG(m + c, κ, α, β) of the data
    # y − c and prior mean m₀ − c. With c the centre of the data, the raw sums Σy, Σy² of the emitted
    # step are of y − c, small, so β keeps the data's spread (no cancellation of ~N·c² terms)
    c = _centre(xp, y)
    m, kappa, alpha, beta = _finite(xp, normal_gamma_posterior, m_0 - c, k0, a0, b0, y - c[..., None],
                                     positive=(None, "kappa", "alpha", "beta"))
    return NormalGammaPosterior(*_shaped(xp, (m + c, kappa, alpha, beta), batch))


def _finite(xp, step, *args, positive: tuple = ()) -> tuple[np.ndarray, ...]:
    """Call an emitted posterior step; raise ``ValueError`` if a posterior parameter overflowed, or if one named
    in ``positive`` (by output position; None: any sign) is not > 0 (the inputs were checked, so the step is at
    fault: it is named).

    >>> _finite(np, lambda y: np.sum(y, axis=-1), np.array([1e308, 1e308]))
    Traceback (most recent call last):
    ...
    ValueError: the posterior overflowed (a parameter is not finite): the data or the prior parameters are too large in magnitude; rescale them
    """
    with np.errstate(over="ignore", invalid="ignore"):
        out = step(*args)
    out = out if isinstance(out, tuple) else (out,)
    if not all(bool(xp.all(xp.isfinite(o))) for o in out):
        raise ValueError("the posterior overflowed (a parameter is not finite): the data or the prior "
                         "parameters are too large in magnitude; rescale them")
    for name, o in zip(positive, out):
        if name is not None and not bool(xp.all(o > 0)):
            raise ValueError(f"the update step {getattr(step, '__name__', 'step')} gave a posterior {name} that is not "
                             f"positive (down to {float(xp.min(o)):.3g}) from positive prior parameters")
    return out


def _centre(xp, y: np.ndarray) -> np.ndarray:
    """A centre of each series ``(*batch, N)``: the midpoint of its range (it cannot overflow)."""
    return 0.5 * xp.min(y, axis=-1) + 0.5 * xp.max(y, axis=-1)


def _data(y, name: str) -> np.ndarray:
    """Finite observations ``(*batch, N)`` with N ≥ 1 (a copy, as float)."""
    a = as_float_array(y, name, min_ndim=1)
    if a.shape[-1] == 0:
        raise ValueError(f"{name} must hold at least one observation (last axis), got shape {tuple(a.shape)}")
    return a


def _broadcast(data_batch: tuple[int, ...], **params: np.ndarray) -> tuple[int, ...]:
    """The batch shape: the prior parameters' shapes broadcast with the data's batch shape."""
    try:
        return np.broadcast_shapes(data_batch, *(tuple(p.shape) for p in params.values()))
    except ValueError:
        shapes = ", ".join(f"{k} {tuple(v.shape)}" for k, v in params.items())
        raise ValueError(f"the batch shapes do not broadcast: y {data_batch + ('N',)}, {shapes}") from None


def _shaped(xp, outputs, shape: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """Every output as a new float array of the full batch shape (a prior term alone, like β₀ + N, has
    only the prior's shape)."""
    if xp is np:
        return tuple(np.array(np.broadcast_to(o, shape), dtype=float) for o in outputs)
    return tuple(xp.asarray(xp.broadcast_to(o, shape), dtype=xp.float64, copy=True) for o in outputs)
