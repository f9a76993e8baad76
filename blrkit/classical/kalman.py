"""Textbook Kalman filter, RTS smoother and the joint-Gaussian posterior, one series at a time.

The oracles for :mod:`blrkit.algorithms.kalman`. Model: x₀ ~ N(m0, P0);
x_t = F x_{t−1} + w_t, w ~ N(0, Q); y_t = H x_t + v_t, v ~ N(0, R), t = 0..T−1; the first
observation updates the prior directly. A row of ``y`` that is all NaN is missing.

:func:`joint_posterior` shares no recursion with the filter: it writes down the joint Gaussian
of (x_0..x_{T−1}, y_0..y_{T−1}) and conditions on the observed rows, the check dynamax uses
(``test_kalman_vs_joint``).
"""

from __future__ import annotations

import numpy as np
import scipy.stats


def kalman_filter(y, F, Q, H, R, m0, P0):
    """Covariance-form filter: returns (means (T, D), covariances (T, D, D), log-likelihood).

    >>> m, P, ll = kalman_filter(np.array([[1.0]]), np.eye(1), np.eye(1), np.eye(1), np.eye(1),
    ...                          np.zeros(1), np.eye(1))
    >>> m, P
    (array([[0.5]]), array([[[0.5]]]))
    """
    T, D = len(y), len(m0)
    means, covs = np.empty((T, D)), np.empty((T, D, D))
    m, P, ll = np.array(m0, dtype=float), np.array(P0, dtype=float), 0.0
    for t in range(T):
        if t > 0:
            m = F @ m
            P = F @ P @ F.T + Q
        if not np.isnan(y[t]).all():
            S = H @ P @ H.T + R
            K = np.linalg.solve(S, H @ P).T
            v = y[t] - H @ m
            ll += scipy.stats.multivariate_normal(np.zeros(len(v)), S).logpdf(v)
            m = m + K @ v
            P = P - K @ S @ K.T
        means[t], covs[t] = m, P
    return means, covs, ll


def rts_smoother(means, covs, F, Q):
    """Rauch–Tung–Striebel backward pass over filtered marginals: (means, covariances).

    >>> rts_smoother(np.zeros((1, 1)), np.ones((1, 1, 1)), np.eye(1), np.eye(1))[1]
    array([[[1.]]])
    """
    ms, Ps = means.copy(), covs.copy()
    for t in range(len(means) - 2, -1, -1):
        P_pred = F @ covs[t] @ F.T + Q
        G = covs[t] @ F.T @ np.linalg.inv(P_pred)
        ms[t] = means[t] + G @ (ms[t + 1] - F @ means[t])
        Ps[t] = covs[t] + G @ (Ps[t + 1] - P_pred) @ G.T
    return ms, Ps


def joint_posterior(y, F, Q, H, R, m0, P0):
    """Condition the joint Gaussian of the whole sequence on the observed rows.

    Returns the smoothed means (T, D), covariances (T, D, D) and log p(y_observed). For the
    filtered marginal at t, call it on ``y[:t + 1]`` and take the last row.

    >>> m, P, ll = joint_posterior(np.array([[1.0]]), np.eye(1), np.eye(1), np.eye(1), np.eye(1),
    ...                            np.zeros(1), np.eye(1))
    >>> m, P
    (array([[0.5]]), array([[[0.5]]]))
    """
    T, D, O = len(y), len(m0), H.shape[0]
    # prior of the stacked state: mean F^t m0, Cov(x_s, x_t) = F^{s-t} P_t (s ≥ t), P_t the prior marginal
    mu = np.empty((T, D))
    marg = np.empty((T, D, D))
    mu[0], marg[0] = m0, P0
    for t in range(1, T):
        mu[t] = F @ mu[t - 1]
        marg[t] = F @ marg[t - 1] @ F.T + Q
    Sigma = np.zeros((T * D, T * D))
    for t in range(T):
        block = marg[t]
        for s in range(t, T):
            Sigma[s * D:(s + 1) * D, t * D:(t + 1) * D] = block
            Sigma[t * D:(t + 1) * D, s * D:(s + 1) * D] = block.T
            block = F @ block
    observed = [t for t in range(T) if not np.isnan(y[t]).all()]
    Hbig = np.zeros((len(observed) * O, T * D))
    for i, t in enumerate(observed):
        Hbig[i * O:(i + 1) * O, t * D:(t + 1) * D] = H
    Rbig = np.kron(np.eye(len(observed)), R)
    y_obs = np.concatenate([y[t] for t in observed]) if observed else np.zeros(0)
    if not observed:
        return mu, marg, 0.0
    x_mean = mu.reshape(-1)
    S = Hbig @ Sigma @ Hbig.T + Rbig
    gain = np.linalg.solve(S, Hbig @ Sigma).T
    post_mean = x_mean + gain @ (y_obs - Hbig @ x_mean)
    post_cov = Sigma - gain @ S @ gain.T
    ll = scipy.stats.multivariate_normal(Hbig @ x_mean, S).logpdf(y_obs)
    means = post_mean.reshape(T, D)
    covs = np.stack([post_cov[t * D:(t + 1) * D, t * D:(t + 1) * D] for t in range(T)])
    return means, covs, ll
