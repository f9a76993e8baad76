r"""Textbook conjugate posteriors, written from the closed forms: oracles for the conjugate recipes.

Each function takes the prior's parameters and the data y₁..y_N and returns the posterior's
parameters, by the update found in any Bayesian textbook (Bernardo & Smith 1994, App. A;
Murphy 2007, "Conjugate Bayesian analysis of the Gaussian distribution"). Nothing here comes
from :mod:`blrkit.derive`; the tests set these beside the BLR's one step with ρ = 1
(Khan & Rue 2023, Sec. 5.1).

All functions are batched: leading axes of every argument broadcast against each other and are
independent problems; the data axis is the last one (``(..., N)``), or the second-to-last for
one-hot categorical data (``(..., N, K)``).
"""

from __future__ import annotations

import numpy as np


def beta_bernoulli(alpha_0, beta_0, y):
    r"""Beta prior, Bernoulli likelihood: the Beta posterior.

    .. math::

        \alpha_N = \alpha_0 + \sum_{i=1}^N y_i, \qquad
        \beta_N = \beta_0 + N - \sum_{i=1}^N y_i

    for :math:`\theta \sim \mathrm{Beta}(\alpha_0, \beta_0)`, :math:`y_i \mid \theta \sim \mathrm{Bernoulli}(\theta)`.

    Parameters
    ----------
    alpha_0, beta_0 : float or array (...)
        Prior Beta parameters, positive.
    y : array (..., N)
        Observations in {0, 1}.

    Returns
    -------
    alpha_N, beta_N : arrays (...)

    Examples
    --------
    >>> beta_bernoulli(1.0, 1.0, np.array([1.0, 0.0, 1.0]))
    (array(3.), array(2.))
    """
    y = np.asarray(y, dtype=float)
    heads = y.sum(axis=-1)
    tails = y.shape[-1] - heads
    return np.asarray(alpha_0 + heads, dtype=float), np.asarray(beta_0 + tails, dtype=float)


def gamma_poisson(alpha_0, beta_0, y):
    r"""Gamma prior (shape α, rate β), Poisson likelihood: the Gamma posterior.

    .. math::

        \alpha_N = \alpha_0 + \sum_{i=1}^N y_i, \qquad \beta_N = \beta_0 + N

    for :math:`\theta \sim \mathrm{Gamma}(\alpha_0, \beta_0)` (density
    :math:`\propto \theta^{\alpha_0 - 1} e^{-\beta_0\theta}`), :math:`y_i \mid \theta \sim \mathrm{Poisson}(\theta)`.

    Parameters
    ----------
    alpha_0, beta_0 : float or array (...)
        Prior shape and rate, positive.
    y : array (..., N)
        Counts.

    Returns
    -------
    alpha_N, beta_N : arrays (...)

    Examples
    --------
    >>> gamma_poisson(2.0, 1.0, np.array([3.0, 0.0, 1.0]))
    (array(6.), array(4.))
    """
    y = np.asarray(y, dtype=float)
    return np.asarray(alpha_0 + y.sum(axis=-1), dtype=float), np.asarray(beta_0 + y.shape[-1], dtype=float)


def dirichlet_categorical(alpha_0, y):
    r"""Dirichlet prior, categorical likelihood: the Dirichlet posterior adds the counts.

    .. math::

        \alpha_{N,k} = \alpha_{0,k} + n_k, \qquad n_k = \sum_{i=1}^N [y_i = k], \quad k = 1..K

    for :math:`\theta \sim \mathrm{Dir}(\alpha_0)`, :math:`y_i \mid \theta \sim \mathrm{Cat}(\theta)`,
    with :math:`y_i` given one-hot.

    Parameters
    ----------
    alpha_0 : array (..., K)
        Prior concentrations, positive.
    y : array (..., N, K)
        One-hot observations.

    Returns
    -------
    alpha_N : array (..., K)

    Examples
    --------
    >>> dirichlet_categorical(np.ones(3), np.eye(3)[[0, 2, 2]])
    array([2., 1., 3.])
    """
    counts = np.asarray(y, dtype=float).sum(axis=-2)
    return np.asarray(alpha_0, dtype=float) + counts


def gaussian_mean(m_0, S_0, y, noise_variance):
    r"""Gaussian prior on the mean of Gaussian data with known variance: the Gaussian posterior.

    .. math::

        S_N = S_0 + \frac{N}{\sigma^2}, \qquad
        m_N = \frac{1}{S_N}\Big(S_0 m_0 + \frac{1}{\sigma^2}\sum_{i=1}^N y_i\Big)

    for :math:`\theta \sim \mathcal{N}(m_0, S_0^{-1})`, :math:`y_i \mid \theta \sim \mathcal{N}(\theta, \sigma^2)`;
    ``S_0`` and the returned ``S_N`` are precisions, ``noise_variance`` is σ².

    Parameters
    ----------
    m_0, S_0 : float or array (...)
        Prior mean and precision.
    y : array (..., N)
        Observations.
    noise_variance : float or array (...)
        Known variance σ² of each observation.

    Returns
    -------
    m_N, S_N : arrays (...)

    Examples
    --------
    >>> gaussian_mean(0.0, 1.0, np.array([2.0, 4.0]), 1.0)
    (array(2.), array(3.))
    """
    y = np.asarray(y, dtype=float)
    S_N = S_0 + y.shape[-1] / np.asarray(noise_variance, dtype=float)
    m_N = (S_0 * np.asarray(m_0, dtype=float) + y.sum(axis=-1) / noise_variance) / S_N
    return np.asarray(m_N, dtype=float), np.asarray(S_N, dtype=float)


def normal_gamma(m_0, kappa_0, alpha_0, beta_0, y):
    r"""Normal–Gamma prior on the mean and precision of Gaussian data: the Normal–Gamma posterior.

    .. math::

        \kappa_N = \kappa_0 + N, \qquad m_N = \frac{\kappa_0 m_0 + N\bar y}{\kappa_N}, \qquad
        \alpha_N = \alpha_0 + \frac N2, \\
        \beta_N = \beta_0 + \frac12\sum_{i=1}^N (y_i - \bar y)^2
                  + \frac{\kappa_0 N (\bar y - m_0)^2}{2\kappa_N}

    for :math:`\tau \sim \mathrm{Gamma}(\alpha_0, \beta_0)` (rate β),
    :math:`x \mid \tau \sim \mathcal{N}(m_0, (\kappa_0\tau)^{-1})`,
    :math:`y_i \mid x, \tau \sim \mathcal{N}(x, \tau^{-1})`, :math:`\bar y` the sample mean
    (Murphy 2007, Eqs. 86–89).

    Parameters
    ----------
    m_0, kappa_0, alpha_0, beta_0 : float or array (...)
        Prior parameters (κ₀, α₀, β₀ positive).
    y : array (..., N)
        Observations, N ≥ 1.

    Returns
    -------
    m_N, kappa_N, alpha_N, beta_N : arrays (...)

    Examples
    --------
    >>> normal_gamma(0.0, 1.0, 1.0, 1.0, np.array([1.0, 3.0]))
    (array(1.33333333), array(3.), array(2.), array(3.33333333))
    """
    y = np.asarray(y, dtype=float)
    N = y.shape[-1]
    y_bar = y.mean(axis=-1)
    scatter = ((y - y_bar[..., None]) ** 2).sum(axis=-1)
    kappa_N = kappa_0 + N
    m_N = (kappa_0 * np.asarray(m_0, dtype=float) + N * y_bar) / kappa_N
    alpha_N = alpha_0 + N / 2
    beta_N = beta_0 + scatter / 2 + kappa_0 * N * (y_bar - m_0) ** 2 / (2 * kappa_N)
    return tuple(np.asarray(a, dtype=float) for a in (m_N, kappa_N, alpha_N, beta_N))
