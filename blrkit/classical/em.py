r"""Expectation–maximisation for a full-covariance Gaussian mixture, by hand (Bishop 2006, §9.2.2).

Model: :math:`p(x) = \sum_k \pi_k\,\mathcal N(x \mid m_k, S_k^{-1})` with weights :math:`\pi` on the simplex,
means :math:`m_k` and precisions :math:`S_k`.  EM alternates the posterior of each point's component given the
parameters (E-step) and the maximum-likelihood parameters given those posteriors (M-step); every iteration
does not decrease the log-likelihood :math:`\sum_i \log p(x_i)`.  In the Bayesian learning rule this is the
mean-field BLR with ρ = 1 on the assignments and the delta method with ρ = 1 on the parameters
(Khan & Rue 2023, Sec. 5.2).

Written from the textbook, a plain loop over components, sharing no code with :mod:`blrkit.algorithms` or
:mod:`blrkit.derive`: the oracle of :func:`blrkit.algorithms.em_gaussian_mixture`.
:func:`sklearn_em_iterates` steps scikit-learn's ``GaussianMixture`` one EM iteration at a time from the same
parameters, the third-party check of both.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
import scipy.linalg
from scipy.special import logsumexp

from blrkit._validation import as_float_array, check_count, check_spd


class EMIterates(NamedTuple):
    """Every EM iterate of one problem, the initial one first."""

    #: π, (n_steps + 1, K)
    weights: np.ndarray
    #: m, (n_steps + 1, K, D)
    means: np.ndarray
    #: S, (n_steps + 1, K, D, D)
    precisions: np.ndarray
    #: Σ_i log p(x_i) at each iterate's parameters, (n_steps + 1,)
    log_likelihood: np.ndarray


def em_gaussian_mixture(X, weights0, means0, precisions0, n_steps) -> EMIterates:
    r"""Textbook EM for a Gaussian mixture with full covariances (Bishop 2006, §9.2.2).

    Each iteration, from the current :math:`(\pi, m, S)`:

    .. math::

        r_{ik} = \frac{\pi_k\,\mathcal N(x_i \mid m_k, S_k^{-1})}{\sum_j \pi_j\,\mathcal N(x_i \mid m_j, S_j^{-1})},
        \quad N_k = \sum_i r_{ik}, \quad
        \pi_k \leftarrow \frac{N_k}{N}, \quad
        m_k \leftarrow \frac1{N_k}\sum_i r_{ik} x_i, \quad
        S_k^{-1} \leftarrow \frac1{N_k}\sum_i r_{ik}(x_i - m_k)(x_i - m_k)^\top,

    the new mean inside the covariance.  The responsibilities are normalised in the log domain
    (log-sum-exp); densities use the Cholesky factor of :math:`S_k`, and the new precision is the inverse of
    the covariance through its Cholesky factor (no explicit ``inv``).  This is Khan & Rue 2023, Sec. 5.2's
    EM as the BLR with ρ = 1; the textbook form here is written without the BLR.

    Parameters
    ----------
    X : array_like, (N, D)
        Data, one point per row.
    weights0 : array_like, (K,)
        Initial weights π, positive, summing to 1.
    means0 : array_like, (K, D)
        Initial means m.
    precisions0 : array_like, (K, D, D)
        Initial precisions S, symmetric positive definite.
    n_steps : int
        Number of EM iterations (≥ 0).

    Returns
    -------
    EMIterates
        ``weights`` (n_steps + 1, K), ``means`` (n_steps + 1, K, D), ``precisions`` (n_steps + 1, K, D, D) and
        ``log_likelihood`` (n_steps + 1,), the total :math:`\sum_i\log p(x_i)` at each iterate.

    Raises
    ------
    ValueError
        Naming the argument: X not (N, D) or finite, K > N, weights not positive or not summing to 1, shapes that disagree,
        precisions not symmetric positive definite, n_steps negative.
    numpy.linalg.LinAlgError
        When a component's new covariance is singular (it has collapsed onto fewer than D + 1 points).

    References
    ----------
    C. M. Bishop, *Pattern Recognition and Machine Learning*, Springer 2006, §9.2.2, Eqs. (9.23)–(9.28).

    Examples
    --------
    >>> X = np.array([[0.0], [0.2], [3.0], [3.4]])
    >>> out = em_gaussian_mixture(X, [0.5, 0.5], [[0.0], [3.0]], [[[1.0]], [[1.0]]], n_steps=5)
    >>> out.means[-1].round(2).ravel()
    array([0.1, 3.2])
    >>> bool(np.all(np.diff(out.log_likelihood) >= 0))
    True
    """
    X, pi, m, S, n_steps = _check_inputs(X, weights0, means0, precisions0, n_steps)
    N = X.shape[0]
    weights, means, precisions, log_lik = [pi], [m], [S], []
    for _ in range(n_steps):
        log_resp, ll = _e_step(X, pi, m, S)
        log_lik.append(ll)
        pi, m, S = _m_step(X, np.exp(log_resp), N)
        weights.append(pi)
        means.append(m)
        precisions.append(S)
    log_lik.append(_e_step(X, pi, m, S)[1])
    return EMIterates(np.array(weights), np.array(means), np.array(precisions), np.array(log_lik))


def _e_step(X, pi, m, S):
    """Log-responsibilities log r (N, K) and the total log-likelihood Σ_i log p(x_i)."""
    N, D = X.shape
    K = len(pi)
    log_joint = np.empty((N, K))
    log_pi = np.log(pi)
    for k in range(K):
        # S_k = L Lᵀ:  log N(x | m_k, S_k⁻¹) = −D/2 log 2π + Σ_d log L_dd − ½ ‖Lᵀ(x − m_k)‖²
        L = scipy.linalg.cholesky(S[k], lower=True)
        z = (X - m[k]) @ L
        log_joint[:, k] = log_pi[k] - 0.5 * D * np.log(2 * np.pi) + np.log(np.diag(L)).sum() - 0.5 * (z**2).sum(1)
    # log p(x_i) = log Σ_k π_k N(x_i | m_k, S_k⁻¹), by log-sum-exp
    log_px = logsumexp(log_joint, axis=1)
    return log_joint - log_px[:, None], float(log_px.sum())


def _m_step(X, r, N):
    """Maximum-likelihood (π, m, S) given the responsibilities r (N, K)."""
    K, D = r.shape[1], X.shape[1]
    pi, m, S = np.empty(K), np.empty((K, D)), np.empty((K, D, D))
    for k in range(K):
        # N_k = Σ_i r_ik,  π_k = N_k / N,  m_k = Σ_i r_ik x_i / N_k
        Nk = r[:, k].sum()
        pi[k] = Nk / N
        m[k] = r[:, k] @ X / Nk
        # Σ_k = Σ_i r_ik (x_i − m_k)(x_i − m_k)ᵀ / N_k
        diff = X - m[k]
        cov = (r[:, k, None] * diff).T @ diff / Nk
        # S_k = Σ_k⁻¹ = C⁻ᵀ C⁻¹ with Σ_k = C Cᵀ (exactly symmetric)
        try:
            C = scipy.linalg.cholesky(cov, lower=True)
        except np.linalg.LinAlgError:
            raise np.linalg.LinAlgError(f"EM: the covariance of component {k} became singular "
                                        f"(N_k = {Nk:.3g}); the component has collapsed") from None
        C_inv = scipy.linalg.solve_triangular(C, np.eye(D), lower=True)
        S[k] = C_inv.T @ C_inv
    return pi, m, S


def _check_inputs(X, weights0, means0, precisions0, n_steps):
    X = as_float_array(X, "X")
    if X.ndim != 2:
        raise ValueError(f"X must be an (N, D) array, got shape {X.shape}")
    N, D = X.shape
    pi = as_float_array(weights0, "weights0")
    if pi.ndim != 1 or len(pi) == 0:
        raise ValueError(f"weights0 must be a (K,) array with K >= 1, got shape {pi.shape}")
    K = len(pi)
    if K > N:
        raise ValueError(f"weights0 has K = {K} components, more than the N = {N} rows of X")
    # the open simplex, the sum up to rounding of the caller's arithmetic (1e-10); a zero weight is a
    # component EM can never revive (its N_k stays 0 and its mean is 0/0)
    if np.any(pi <= 0) or abs(pi.sum() - 1) > 1e-10:
        raise ValueError(f"weights0 must lie in the simplex (positive, summing to 1), got {pi!r}")
    m = as_float_array(means0, "means0")
    if m.shape != (K, D):
        raise ValueError(f"means0 must be (K, D) = ({K}, {D}), got shape {m.shape}")
    S = check_spd(precisions0, "precisions0", D)
    if S.shape != (K, D, D):
        raise ValueError(f"precisions0 must be (K, D, D) = ({K}, {D}, {D}), got shape {S.shape}")
    return X, pi, m, S, check_count(n_steps, "n_steps", minimum=0)


def sklearn_em_iterates(X, weights0, means0, precisions0, n_steps) -> EMIterates:
    r"""The same EM iterates from scikit-learn's ``GaussianMixture``, one iteration per ``fit``.

    ``GaussianMixture(covariance_type="full", reg_covar=0, warm_start=True, max_iter=1)`` with ``weights_init``,
    ``means_init``, ``precisions_init`` is fitted ``n_steps`` times; warm starting, each fit is one E-step and
    one M-step from the previous parameters (its k-means initialisation is overwritten by the given
    parameters on the first fit and skipped afterwards).  ``lower_bound_`` after fit t is the *mean*
    log-likelihood at the parameters *before* that fit's M-step, i.e. at iterate t − 1, so the total
    log-likelihood of iterate t − 1 is N · ``lower_bound_``; one more fit, whose parameters are discarded, gives
    that of the last iterate (``n_steps + 1`` fits in all; with ``n_steps = 0`` this is the only way to read
    the initial log-likelihood, since a ``max_iter=0`` fit from ``precisions_init`` has no ``covariances_``).
    The ``ConvergenceWarning`` each one-iteration fit raises is suppressed.

    scikit-learn is a test dependency of blrkit, not a runtime one: it is imported here, on call.

    Parameters and returns as :func:`em_gaussian_mixture` (the inputs are not checked beyond what
    scikit-learn checks).

    Examples
    --------
    >>> X = np.array([[0.0], [0.2], [3.0], [3.4]])
    >>> sk = sklearn_em_iterates(X, [0.5, 0.5], [[0.0], [3.0]], [[[1.0]], [[1.0]]], n_steps=5)
    >>> sk.means[-1].round(2).ravel()
    array([0.1, 3.2])
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    X = np.array(X, dtype=float)
    pi0, m0, S0 = (np.array(a, dtype=float) for a in (weights0, means0, precisions0))
    n_steps = check_count(n_steps, "n_steps", minimum=0)
    gm = GaussianMixture(n_components=len(pi0), covariance_type="full", reg_covar=0.0, warm_start=True,
                         max_iter=1, weights_init=pi0, means_init=m0, precisions_init=S0, random_state=0)
    weights, means, precisions, log_lik = [pi0], [m0], [S0], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for t in range(n_steps + 1):
            gm.fit(X)
            log_lik.append(len(X) * gm.lower_bound_)  # at iterate t, before this fit's M-step
            if t < n_steps:
                weights.append(gm.weights_.copy())
                means.append(gm.means_.copy())
                precisions.append(gm.precisions_.copy())
    return EMIterates(np.array(weights), np.array(means), np.array(precisions), np.array(log_lik))
