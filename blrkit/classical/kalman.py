"""Textbook Kalman filter, RTS smoother, joint-Gaussian posterior and EM step, one series at a time.

The oracles for :mod:`blrkit.algorithms.kalman`. Model: x₀ ~ N(m0, P0);
x_t = F x_{t−1} + w_t, w ~ N(0, Q); y_t = H x_t + v_t, v ~ N(0, R), t = 0..T−1; the first
observation updates the prior directly. A row of ``y`` that is all NaN is missing.

:func:`joint_posterior` shares no recursion with the filter: it writes down the joint Gaussian
of (x_0..x_{T−1}, y_0..y_{T−1}) and conditions on the observed rows, the check dynamax uses
(``test_kalman_vs_joint``); it takes offsets, time-varying matrices and partly observed rows.
:func:`em_step` is Shumway & Stoffer's EM iteration with its own filter, smoother and lag-one
covariance recursion, sharing no code with :func:`blrkit.algorithms.kalman_em`.
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


def _per_step(a, n, ndim):
    """One series' argument at each of ``n`` steps: ``a`` itself, or ``a[t]`` when it has a time axis."""
    a = np.asarray(a, dtype=float)
    return [a[t] if a.ndim == ndim + 1 else a for t in range(n)]


def joint_posterior(y, F, Q, H, R, m0, P0, *, transition_offsets=None, observation_offsets=None,
                    return_cross=False):
    """Condition the joint Gaussian of the whole sequence on the observed entries.

    Returns the smoothed means (T, D), covariances (T, D, D) and log p(y_observed); with
    ``return_cross``, also the lag-one cross-covariances Cov(x_{t+1}, x_t | y) (T−1, D, D). For the
    filtered marginal at t, call it on ``y[:t + 1]`` (and the offsets and matrices up to t) and take
    the last row.

    One series. A matrix or offset with one axis more than its single-step shape is time-varying
    (``F, Q, transition_offsets``: T−1 steps, the transition into step t+1; ``H, R,
    observation_offsets``: T steps). Every NaN entry of ``y`` is dropped from the conditioning on its
    own (a partly observed row keeps its observed components).

    >>> m, P, ll = joint_posterior(np.array([[1.0]]), np.eye(1), np.eye(1), np.eye(1), np.eye(1),
    ...                            np.zeros(1), np.eye(1))
    >>> m, P
    (array([[0.5]]), array([[[0.5]]]))
    """
    y = np.asarray(y, dtype=float)
    T, D, O = len(y), len(m0), y.shape[1]
    Fs, Qs = _per_step(F, T - 1, 2), _per_step(Q, T - 1, 2)
    Hs, Rs = _per_step(H, T, 2), _per_step(R, T, 2)
    bs = _per_step(np.zeros(D) if transition_offsets is None else transition_offsets, T - 1, 1)
    ds = _per_step(np.zeros(O) if observation_offsets is None else observation_offsets, T, 1)
    # prior of the stacked state: mean μ_{t+1} = F_t μ_t + b_t; Cov(x_s, x_t) = F_{s−1}⋯F_t P_t (s ≥ t),
    # P_t the prior marginal
    mu = np.empty((T, D))
    marg = np.empty((T, D, D))
    mu[0], marg[0] = m0, P0
    for t in range(1, T):
        mu[t] = Fs[t - 1] @ mu[t - 1] + bs[t - 1]
        marg[t] = Fs[t - 1] @ marg[t - 1] @ Fs[t - 1].T + Qs[t - 1]
    Sigma = np.zeros((T * D, T * D))
    for t in range(T):
        block = marg[t]
        for s in range(t, T):
            Sigma[s * D:(s + 1) * D, t * D:(t + 1) * D] = block
            Sigma[t * D:(t + 1) * D, s * D:(s + 1) * D] = block.T
            if s < T - 1:
                block = Fs[s] @ block
    # the observed entries (t, i): y_ti = H_t[i] x_t + d_t[i] + v_ti, v ~ N(0, R_t) restricted to them
    entries = [(t, i) for t in range(T) for i in range(O) if not np.isnan(y[t, i])]
    x_mean = mu.reshape(-1)
    if not entries:
        out = (mu, marg, 0.0)
        if return_cross:
            out += (np.stack([Fs[t] @ marg[t] for t in range(T - 1)]) if T > 1
                    else np.zeros((0, D, D)),)
        return out
    n = len(entries)
    Hbig = np.zeros((n, T * D))
    Rbig = np.zeros((n, n))
    y_obs, d_obs = np.empty(n), np.empty(n)
    for a, (t, i) in enumerate(entries):
        Hbig[a, t * D:(t + 1) * D] = Hs[t][i]
        y_obs[a], d_obs[a] = y[t, i], ds[t][i]
        for c, (s, j) in enumerate(entries):
            if s == t:
                Rbig[a, c] = Rs[t][i, j]
    S = Hbig @ Sigma @ Hbig.T + Rbig
    gain = np.linalg.solve(S, Hbig @ Sigma).T
    y_mean = Hbig @ x_mean + d_obs
    post_mean = x_mean + gain @ (y_obs - y_mean)
    post_cov = Sigma - gain @ S @ gain.T
    ll = scipy.stats.multivariate_normal(y_mean, S).logpdf(y_obs)
    means = post_mean.reshape(T, D)
    covs = np.stack([post_cov[t * D:(t + 1) * D, t * D:(t + 1) * D] for t in range(T)])
    if not return_cross:
        return means, covs, ll
    cross = np.stack([post_cov[(t + 1) * D:(t + 2) * D, t * D:(t + 1) * D] for t in range(T - 1)]) if T > 1 \
        else np.zeros((0, D, D))
    return means, covs, ll, cross


def em_step(y, F, Q, H, R, m0, P0, *, transition_offsets=None, observation_offsets=None,
            fit=("F", "Q", "H", "R", "m0", "P0")):
    """One EM iteration for one series, as Shumway & Stoffer (1982) write it; returns the new
    (F, Q, H, R, m0, P0) and the log-likelihood of the old ones.

    E-step: the covariance-form filter and RTS smoother, and the lag-one covariances by Shumway &
    Stoffer's own backward recursion (their Property, in *Time Series Analysis and Its
    Applications*, Sec. 6.3): P_{T−1,T−2} = (I − K_{T−1} H) F P_{T−2|T−2}, then
    P_{t,t−1} = P_{t|t} J_{t−1}ᵀ + J_t (P_{t+1,t} − F P_{t|t}) J_{t−1}ᵀ. M-step: closed forms with
    sums over the rows with an observation (H, R) or the transitions (F, Q); R uses the new H, Q
    the new F, P0 the new m0. Entries of ``y`` that are NaN are missing; a row with some observed
    components enters the H and R sums completed: its missing part ỹ_m is replaced by its
    conditional law given x and the observed part, ỹ_m = A x + c + u with A = H_m − K H_o,
    c = d_m + K (y_o − d_o), K = R_mo R_oo⁻¹, u ~ N(0, R_mm − K R_om) (Shumway & Stoffer, *Time
    Series Analysis and Its Applications*, Sec. 6.4). Time-invariant matrices; offsets (D,) / (O,)
    or with a time axis.

    >>> one = np.eye(1)
    >>> new, ll = em_step(np.array([[1.0], [2.0]]), one, one, one, one, np.zeros(1), one, fit=("m0",))
    >>> new[4]                       # m0 = the smoothed mean of x_0: 0.5 + (1/3)(1.4 − 0.5)
    array([0.8])
    """
    y = np.asarray(y, dtype=float)
    T, D, O = len(y), len(m0), y.shape[1]
    bs = _per_step(np.zeros(D) if transition_offsets is None else transition_offsets, T - 1, 1)
    ds = _per_step(np.zeros(O) if observation_offsets is None else observation_offsets, T, 1)
    seen = [np.flatnonzero(~np.isnan(y[t])) for t in range(T)]     # observed components
    I = np.eye(D)
    # filter: x_{t|t}, P_{t|t}, and the predictions x_{t|t−1}, P_{t|t−1}
    xf, Pf, xp, Pp, KHs = [], [], [], [], []
    x, P, ll = np.array(m0, dtype=float), np.array(P0, dtype=float), 0.0
    for t in range(T):
        if t:
            x, P = F @ x + bs[t - 1], F @ P @ F.T + Q
        xp.append(x)
        Pp.append(P)
        o = seen[t]
        KH = np.zeros((D, D))
        if len(o):
            Ho, Ro = H[o], R[np.ix_(o, o)]
            S = Ho @ P @ Ho.T + Ro
            K = P @ Ho.T @ np.linalg.inv(S)
            innov = y[t, o] - Ho @ x - ds[t][o]
            ll += scipy.stats.multivariate_normal(np.zeros(len(o)), S).logpdf(innov)
            KH = K @ Ho
            x, P = x + K @ innov, (I - KH) @ P
        KHs.append(KH)
        xf.append(x)
        Pf.append(P)
    # smoother: x_{t|T}, P_{t|T}, J_t
    xs, Ps, J = list(xf), list(Pf), [None] * T
    for t in range(T - 2, -1, -1):
        J[t] = Pf[t] @ F.T @ np.linalg.inv(Pp[t + 1])
        xs[t] = xf[t] + J[t] @ (xs[t + 1] - xp[t + 1])
        Ps[t] = Pf[t] + J[t] @ (Ps[t + 1] - Pp[t + 1]) @ J[t].T
    # lag-one covariances P_{t,t−1|T} = Cov(x_t, x_{t−1} | y), t = 1..T−1 (Shumway & Stoffer's recursion)
    lag = [None] * T
    if T > 1:
        lag[T - 1] = (I - KHs[T - 1]) @ F @ Pf[T - 2]
        for t in range(T - 2, 0, -1):
            lag[t] = Pf[t] @ J[t - 1].T + J[t] @ (lag[t + 1] - F @ Pf[t]) @ J[t - 1].T
    new = dict(F=np.array(F, dtype=float), Q=np.array(Q, dtype=float), H=np.array(H, dtype=float),
               R=np.array(R, dtype=float), m0=np.array(m0, dtype=float), P0=np.array(P0, dtype=float))
    rows = [t for t in range(T) if len(seen[t])]

    def completed(t):
        # ỹ_t − d_t = G x + g + (0, u): G (O, D), g (O,), Var u on the missing block
        o, mi = seen[t], np.setdiff1d(np.arange(O), seen[t])
        G, g, V = np.zeros((O, D)), np.zeros(O), np.zeros((O, O))
        G[o], g[o] = 0.0, y[t, o] - ds[t][o]
        if len(mi):
            Kr = R[np.ix_(mi, o)] @ np.linalg.inv(R[np.ix_(o, o)])
            G[mi] = H[mi] - Kr @ H[o]
            g[mi] = Kr @ (y[t, o] - ds[t][o])
            V[np.ix_(mi, mi)] = R[np.ix_(mi, mi)] - Kr @ R[np.ix_(o, mi)]
        return G, g, V

    Exx = {t: Ps[t] + np.outer(xs[t], xs[t]) for t in rows}
    if "H" in fit:
        # E[(ỹ_t − d_t) x_tᵀ] = G E[x xᵀ] + g x̄ᵀ
        A = sum(completed(t)[0] @ Exx[t] + np.outer(completed(t)[1], xs[t]) for t in rows)
        new["H"] = A @ np.linalg.inv(sum(Exx[t] for t in rows))
    if "R" in fit:
        Hn = new["H"]
        acc = np.zeros((O, O))
        for t in rows:
            G, g, V = completed(t)
            # z = ỹ − d − H_new x = (G − H_new) x + g + (0, u)
            Gz = G - Hn
            acc += Gz @ Exx[t] @ Gz.T + np.outer(Gz @ xs[t], g) + np.outer(g, Gz @ xs[t]) + np.outer(g, g) + V
        new["R"] = acc / len(rows)
    if "F" in fit:
        S10 = sum(lag[t] + np.outer(xs[t], xs[t - 1]) - np.outer(bs[t - 1], xs[t - 1]) for t in range(1, T))
        S00 = sum(Ps[t - 1] + np.outer(xs[t - 1], xs[t - 1]) for t in range(1, T))
        new["F"] = S10 @ np.linalg.inv(S00)
    if "Q" in fit:
        Fn = new["F"]
        acc = np.zeros((D, D))
        for t in range(1, T):
            e = xs[t] - Fn @ xs[t - 1] - bs[t - 1]
            acc += np.outer(e, e) + Fn @ Ps[t - 1] @ Fn.T + Ps[t] - lag[t] @ Fn.T - Fn @ lag[t].T
        new["Q"] = acc / (T - 1)
    if "m0" in fit:
        new["m0"] = xs[0]
    if "P0" in fit:
        new["P0"] = Ps[0] + np.outer(xs[0] - new["m0"], xs[0] - new["m0"])
    return tuple(new[k] for k in ("F", "Q", "H", "R", "m0", "P0")), ll
