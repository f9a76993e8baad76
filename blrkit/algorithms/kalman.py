r"""The Kalman filter and RTS smoother derived from the Bayesian learning rule.

A linear-Gaussian state-space model: prior :math:`x_0 \sim \mathcal N(m_0, P_0)`, dynamics
:math:`x_t = F x_{t-1} + w_t,\ w_t \sim \mathcal N(0, Q)` and observations
:math:`y_t = H x_t + v_t,\ v_t \sim \mathcal N(0, R)`, for :math:`t = 0, \dots, T-1`.
Filtering is Bayes' rule once per observation: the predicted marginal
:math:`\mathcal N(\hat m_t, \hat P_t)` is the prior, the loss
:math:`\tfrac12\|y_t - Hx\|^2_{R^{-1}}` is quadratic, so one BLR step with ρ = 1 and a full Gaussian
candidate gives the exact posterior (conjugacy; Khan & Rue 2023, Sec. 5.1). In natural parameters
it is the information filter; the Woodbury identity turns it into the gain form that the emitted
step :func:`~blrkit.algorithms._generated.kalman_update.kalman_update` computes. The prediction
:math:`\hat m_{t+1} = F m_t,\ \hat P_{t+1} = F P_t F^\top + Q` is Gaussian marginalisation, not a BLR
step, and is written here in the driver, as is the RTS smoother (the classical backward pass;
its result equals one ρ = 1 BLR step on the joint Gaussian of the whole trajectory).

Speed without approximation. With one time-invariant model (no batch axes on :math:`F, Q, H, R,
P_0`) and the same missing rows in every series, the covariance recursion does not depend on the
data and is shared by all series. Once the predicted covariance stops changing (to a relative
1e-15, :data:`STEADY_RTOL`) after the last missing row, it is reused, and the mean recursion
:math:`\hat m_{t+1} = A \hat m_t + F K y_t`, :math:`A = F(I - KH)`, is an affine recursion solved by a
prefix (associative) scan in :math:`O(\log T)` NumPy passes; the emitted update is then applied to all
remaining steps at once (in chunks, so temporaries stay small). Otherwise (one model per series, or
different missing rows) the loop runs over time with every operation vectorised over the batch.
"""

from __future__ import annotations

import numpy as np

from blrkit._validation import as_float_array, check_spd
from blrkit.algorithms._generated.kalman_update import kalman_update
from blrkit.algorithms.results import KalmanFilterResult, KalmanSmootherResult

__all__ = ["kalman_filter", "kalman_smoother", "rts_smoother"]

#: The predicted covariance is steady when max|P̂_t − P̂_{t−1}| ≤ STEADY_RTOL · max|P̂_t|: a few ulps.
STEADY_RTOL = 1e-15

_LOG_2PI = np.log(2 * np.pi)


def kalman_filter(y, F, Q, H, R, m0, P0) -> KalmanFilterResult:
    r"""Filtered marginals and log-likelihood of a linear-Gaussian state-space model.

    For :math:`t = 0, \dots, T-1`, with :math:`\hat m_0 = m_0, \hat P_0 = P_0` (the first observation
    updates the prior directly) and :math:`\hat m_t = F m_{t-1}, \hat P_t = F P_{t-1} F^\top + Q` after:

    .. math::

        v_t = y_t - H\hat m_t, \quad C_t = H\hat P_t H^\top + R, \quad K_t = \hat P_t H^\top C_t^{-1},

        m_t = \hat m_t + K_t v_t, \quad
        P_t = (I - K_t H)\hat P_t (I - K_t H)^\top + K_t R K_t^\top,

        \log p(y_{0:T-1}) = \sum_t \log \mathcal N(v_t; 0, C_t).

    The update is one BLR step with ρ = 1 (Khan & Rue 2023, Sec. 5.1), in Joseph form so that
    :math:`P_t` stays symmetric positive definite; the predicted covariance is symmetrised.
    Symbols are the arguments of the same name. A row of ``y`` that is entirely NaN is a missing
    observation: :math:`m_t = \hat m_t, P_t = \hat P_t` and it adds nothing to the log-likelihood.

    Parameters
    ----------
    y : array_like, shape (*batch, T, O)
        Observations; all-NaN rows are missing.
    F : array_like, shape (*batch, D, D)
        Transition matrix.
    Q : array_like, shape (*batch, D, D)
        Process-noise covariance, symmetric positive definite.
    H : array_like, shape (*batch, O, D)
        Observation matrix.
    R : array_like, shape (*batch, O, O)
        Observation-noise covariance, symmetric positive definite.
    m0 : array_like, shape (*batch, D)
        Prior mean of :math:`x_0`.
    P0 : array_like, shape (*batch, D, D)
        Prior covariance of :math:`x_0`, symmetric positive definite.

    The batch shapes broadcast against each other (e.g. one model, many series).

    Returns
    -------
    KalmanFilterResult
        ``means`` ``(*batch, T, D)``, ``covariances`` ``(*batch, T, D, D)``, ``log_likelihood``
        ``(*batch,)``.

    Raises
    ------
    ValueError
        Shape mismatches, non-SPD ``Q``, ``R`` or ``P0``, non-finite inputs (except all-NaN rows
        of ``y``), rows of ``y`` that are only partly NaN.

    Notes
    -----
    pykalman uses the same convention for the first step; filterpy predicts before every update,
    so to match it, skip its first ``predict``. The covariance update here is Joseph's form, where
    pykalman and filterpy's default use :math:`(I - KH)\hat P`: equal in exact arithmetic.

    References
    ----------
    Khan & Rue, "The Bayesian Learning Rule", JMLR 24 (2023), Sec. 5.1.
    R. E. Kalman, "A new approach to linear filtering and prediction problems", 1960.

    Examples
    --------
    A random walk observed with unit noise; the second observation is missing:

    >>> import numpy as np
    >>> from blrkit.algorithms import kalman_filter
    >>> one = np.eye(1)
    >>> res = kalman_filter(np.array([[1.0], [np.nan], [2.0]]), one, one, one, one, np.zeros(1), one)
    >>> res.means[:, 0].round(4), res.covariances[:, 0, 0].round(4)
    (array([0.5   , 0.5   , 1.5714]), array([0.5   , 1.5   , 0.7143]))
    >>> float(res.log_likelihood.round(4))
    -3.3823
    """
    y, F, Q, H, R, m0, P0, missing, batch = _check_model(y, F, Q, H, R, m0, P0)
    T = y.shape[-2]
    rows = missing.reshape(-1, T)
    if F.ndim == Q.ndim == H.ndim == R.ndim == P0.ndim == 2 and (rows == rows[:1]).all():
        return _filter_shared(y, F, Q, H, R, m0, P0, rows[0], batch)
    return _filter_batch(y, F, Q, H, R, m0, P0, missing, batch)


def rts_smoother(filter_result: KalmanFilterResult, F, Q) -> KalmanSmootherResult:
    r"""Rauch–Tung–Striebel smoother: the marginals :math:`p(x_t \mid y_{0:T-1})`.

    Backwards from :math:`m^s_{T-1} = m_{T-1}, P^s_{T-1} = P_{T-1}`:

    .. math::

        \hat P_{t+1} = F P_t F^\top + Q, \quad G_t = P_t F^\top \hat P_{t+1}^{-1},

        m^s_t = m_t + G_t (m^s_{t+1} - F m_t), \quad
        P^s_t = P_t + G_t (P^s_{t+1} - \hat P_{t+1}) G_t^\top.

    :math:`m_t, P_t` are the filtered ``means`` and ``covariances`` of ``filter_result``; ``F`` and
    ``Q`` are the model's. This backward pass is classical and hand-written, not an emitted BLR
    step; its output equals one ρ = 1 BLR step on the joint Gaussian over the whole trajectory,
    whose precision is block tridiagonal (Khan & Rue 2023, Sec. 5.1).

    Parameters
    ----------
    filter_result : KalmanFilterResult
        The output of :func:`kalman_filter`.
    F, Q : array_like, shape (*batch, D, D)
        The transition matrix and process-noise covariance used for filtering.

    Returns
    -------
    KalmanSmootherResult
        ``means`` ``(*batch, T, D)`` and ``covariances`` ``(*batch, T, D, D)``.

    References
    ----------
    Rauch, Tung & Striebel, AIAA Journal 3 (1965); Khan & Rue (2023), Sec. 5.1.

    Examples
    --------
    >>> import numpy as np
    >>> from blrkit.algorithms import kalman_filter, rts_smoother
    >>> one = np.eye(1)
    >>> filt = kalman_filter(np.array([[1.0], [np.nan], [2.0]]), one, one, one, one, np.zeros(1), one)
    >>> smooth = rts_smoother(filt, one, one)
    >>> smooth.means[:, 0].round(4), smooth.covariances[:, 0, 0].round(4)
    (array([0.7143, 1.1429, 1.5714]), array([0.4286, 0.8571, 0.7143]))
    """
    if not isinstance(filter_result, KalmanFilterResult):
        raise TypeError("filter_result must be the KalmanFilterResult returned by kalman_filter")
    means, covs = filter_result.means, filter_result.covariances
    D = means.shape[-1]
    F = _check_matrix(F, "F", (D, D))
    Q = check_spd(Q, "Q", D)
    cov_batch = means.shape[:-2]
    for name, a in (("F", F), ("Q", Q)):
        if np.broadcast_shapes(a.shape[:-2], cov_batch) != cov_batch:
            raise ValueError(f"{name} has batch shape {a.shape[:-2]}, incompatible with the filtered "
                             f"means' batch shape {cov_batch}")
    T = means.shape[-2]
    ms, Ps = np.empty_like(means), np.empty_like(covs)
    ms[..., -1, :], Ps[..., -1, :, :] = means[..., -1, :], covs[..., -1, :, :]
    Ft = np.swapaxes(F, -1, -2)
    for t in range(T - 2, -1, -1):
        m, P = means[..., t, :], covs[..., t, :, :]
        # P̂_{t+1} = F P_t Fᵀ + Q
        P_pred = F @ P @ Ft + Q
        # G_t = P_t Fᵀ P̂_{t+1}⁻¹  (solve, using the symmetry of P_t and P̂_{t+1})
        G = np.swapaxes(np.linalg.solve(P_pred, F @ P), -1, -2)
        # m^s_t = m_t + G_t (m^s_{t+1} − F m_t)
        ms[..., t, :] = m + (G @ (ms[..., t + 1, :] - (F @ m[..., None])[..., 0])[..., None])[..., 0]
        # P^s_t = P_t + G_t (P^s_{t+1} − P̂_{t+1}) G_tᵀ, symmetrised
        Ps_t = P + G @ (Ps[..., t + 1, :, :] - P_pred) @ np.swapaxes(G, -1, -2)
        Ps[..., t, :, :] = 0.5 * (Ps_t + np.swapaxes(Ps_t, -1, -2))
    return KalmanSmootherResult(means=ms, covariances=Ps)


#: The same function under the name used by pykalman's ``KalmanFilter.smooth``'s users.
kalman_smoother = rts_smoother


# --------------------------------------------------------------------------------------------
# checks


def _check_diverged(t: int, m_pred: np.ndarray, P_pred: np.ndarray) -> None:
    """Raise ``ValueError`` if the prediction for step ``t`` overflowed: the model diverged."""
    if not (np.isfinite(P_pred).all() and np.isfinite(m_pred).all()):
        what = "covariance" if not np.isfinite(P_pred).all() else "mean"
        raise ValueError(f"the model diverged at step {t}: the predicted {what} overflowed (not finite); "
                         "F amplifies a direction of the state faster than H and R observe it")


def _check_matrix(x, name, trailing):
    a = as_float_array(x, name, min_ndim=len(trailing))
    if a.shape[a.ndim - len(trailing):] != trailing:
        raise ValueError(f"{name} must have shape (*batch, {', '.join(map(str, trailing))}), got {a.shape}")
    return a


def _check_model(y, F, Q, H, R, m0, P0):
    m0 = as_float_array(m0, "m0", min_ndim=1)
    D = m0.shape[-1]
    y = as_float_array(y, "y", min_ndim=2, allow_nan=True)
    T, O = y.shape[-2:]
    if T == 0 or O == 0 or D == 0:
        raise ValueError(f"need T ≥ 1 observations of O ≥ 1 values and D ≥ 1 states; got y {y.shape}, m0 {m0.shape}")
    nan = np.isnan(y)
    missing = nan.all(axis=-1)
    if (nan.any(axis=-1) & ~missing).any():
        raise ValueError("y has rows that are only partly NaN; a missing observation is a row that is entirely NaN")
    F = _check_matrix(F, "F", (D, D))
    H = _check_matrix(H, "H", (O, D))
    Q = check_spd(Q, "Q", D)
    R = check_spd(R, "R", O)
    P0 = check_spd(P0, "P0", D)
    shapes = {"y": y.shape[:-2], "F": F.shape[:-2], "Q": Q.shape[:-2], "H": H.shape[:-2], "R": R.shape[:-2],
              "m0": m0.shape[:-1], "P0": P0.shape[:-2]}
    try:
        batch = np.broadcast_shapes(*shapes.values())
    except ValueError:
        raise ValueError(f"the batch shapes of the arguments do not broadcast: {shapes}") from None
    return y, F, Q, H, R, m0, P0, missing, batch


# --------------------------------------------------------------------------------------------
# one model (no batch axes on F, Q, H, R, P0) and the same missing rows in every series:
# one covariance sequence for all series; step until it is steady, then a prefix scan


#: Temporaries of the vectorised passes are bounded by this many floats (chunks over time).
_CHUNK_ELEMENTS = 1 << 16


def _filter_shared(y, F, Q, H, R, m0, P0, missing, batch):
    T, O = y.shape[-2:]
    D = m0.shape[-1]
    y = np.broadcast_to(y, batch + (T, O))
    means, covs = np.empty(batch + (T, D)), np.empty(batch + (T, D, D))
    loglik = np.zeros(batch)
    last_missing = int(np.flatnonzero(missing)[-1]) if missing.any() else -1
    m_pred, P_pred, P_prev = np.broadcast_to(m0, batch + (D,)), P0, None
    Ft = F.T
    steady, scan_ok = False, True
    for t in range(T):
        if missing[t]:
            m, P = m_pred, P_pred
        else:
            m, P, K, v, C = kalman_update(m_pred, P_pred, y[..., t, :], H, R, 0.0)
            loglik += _gaussian_logpdf(v, C)
        means[..., t, :], covs[..., t, :, :] = m, P
        # steady: the predicted covariance repeats (to STEADY_RTOL) and no missing row lies ahead
        if (scan_ok and t > last_missing and P_prev is not None and t < T - 1
                and np.max(np.abs(P_pred - P_prev)) <= STEADY_RTOL * np.max(np.abs(P_pred))):
            A = F - F @ K @ H
            # a scan forms powers of A: only when the recursion is stable, else keep stepping
            steady = scan_ok = bool(np.max(np.abs(np.linalg.eigvals(A))) < 1.0)
            if steady:
                break
        P_prev = P_pred
        # predict: m̂_{t+1} = F m_t, P̂_{t+1} = F P_t Fᵀ + Q (symmetrised)
        with np.errstate(over="ignore", invalid="ignore"):
            m_pred = m @ Ft
            P_pred = F @ P @ Ft + Q
            P_pred = 0.5 * (P_pred + P_pred.T)
        _check_diverged(t + 1, m_pred, P_pred)
    if steady:
        _steady_tail(y, F, H, R, K, A, m, P_pred, t, means, covs, loglik)
    return KalmanFilterResult(means=means, covariances=covs, log_likelihood=loglik)


def _steady_tail(y, F, H, R, K, A, m_t, P_pred, t, means, covs, loglik):
    r"""Fill steps t+1..T−1 once P̂ is steady at step t (in place).

    The predicted means obey :math:`\hat m_{t+1} = F m_t` and
    :math:`\hat m_{s+1} = A \hat m_s + F K y_s` with :math:`A = F(I - KH)`: write
    :math:`b_0 = F m_t`, :math:`b_j = F K y_{t+j}` into the output and scan. Then the emitted
    update, with the steady :math:`\hat P` broadcast over time, gives the filtered means, the
    (constant) covariance and the innovations for the log-likelihood.
    """
    T = means.shape[-2]
    tail = means[..., t + 1:, :]
    np.matmul(y[..., t + 1:T - 1, :], (F @ K).T, out=tail[..., 1:, :])
    tail[..., 0, :] = m_t @ F.T
    _affine_scan(A, tail)
    step = max(1, _CHUNK_ELEMENTS // max(1, tail[..., 0, :].size))
    for j in range(0, tail.shape[-2], step):
        sl = slice(j, j + step)
        # the emitted BLR update on a chunk of steps at once
        m, P, _, v, C = kalman_update(tail[..., sl, :], P_pred, y[..., t + 1 + j:t + 1 + j + step, :], H, R, 0.0)
        tail[..., sl, :] = m
        loglik += _gaussian_logpdf(v, C).sum(axis=-1)
    covs[..., t + 1:, :, :] = P


def _affine_scan(A, x):
    r"""In place along axis −2: :math:`x_j \leftarrow \sum_{i \le j} A^{j-i} x_i`, i.e. the recursion
    :math:`x_j = A x_{j-1} + b_j` from the inputs :math:`b_j = x_j`.

    Hillis–Steele inclusive scan: after the pass with offset k, x_j sums the last 2k terms; each pass
    adds :math:`A^k x_{j-k}`, in chunks taken from the end backwards (so every read sees values not
    yet updated in this pass), each chunk one matrix product.
    """
    n = x.shape[-2]
    per_step = max(1, x[..., 0, :].size)
    power, offset = A.T, 1
    while offset < n:
        step = max(1, _CHUNK_ELEMENTS // per_step)
        for end in range(n, offset, -step):
            start = max(offset, end - step)
            # x_j += A^offset x_{j−offset}; the product is formed before the in-place add
            x[..., start:end, :] += x[..., start - offset:end - offset, :] @ power
        power = power @ power
        offset *= 2
    return x


def _gaussian_logpdf(v, C):
    """log N(v; 0, C) over leading axes, by Cholesky: −½ (vᵀC⁻¹v + log det C + O log 2π).

    One shared C (O, O) is factorised once and solved against every v in one call.
    """
    L = np.linalg.cholesky(C)
    O = v.shape[-1]
    if C.ndim == 2:
        z = np.linalg.solve(L, v.reshape(-1, O).T).T.reshape(v.shape)
        logdet = 2.0 * np.sum(np.log(np.diagonal(L)))
    else:
        z = np.linalg.solve(L, v[..., None])[..., 0]
        logdet = 2.0 * np.sum(np.log(np.diagonal(L, axis1=-2, axis2=-1)), axis=-1)
    return -0.5 * (np.sum(z * z, axis=-1) + logdet + O * _LOG_2PI)


# --------------------------------------------------------------------------------------------
# a batch of series: loop over time, vectorised over the batch


def _filter_batch(y, F, Q, H, R, m0, P0, missing, batch):
    T, O = y.shape[-2:]
    D = m0.shape[-1]
    means = np.empty(batch + (T, D))
    covs = np.empty(batch + (T, D, D))
    loglik = np.zeros(batch)
    # per-series models or per-series missing rows: the covariances carry the batch shape too
    miss = np.broadcast_to(missing, batch + (T,))
    y = np.broadcast_to(y, batch + (T, O))
    m_pred = np.broadcast_to(m0, batch + (D,))
    P_pred = P0
    Ft = np.swapaxes(F, -1, -2)
    for t in range(T):
        rows = miss[..., t]
        any_missing, all_missing = bool(rows.any()), bool(rows.all())
        if all_missing:
            m, P = m_pred, P_pred
        else:
            y_t = np.where(rows[..., None], 0.0, y[..., t, :]) if any_missing else y[..., t, :]
            m, P, _, v, C = kalman_update(m_pred, P_pred, y_t, H, R, 0.0)
            ll = _gaussian_logpdf(v, C)
            if any_missing:
                m = np.where(rows[..., None], m_pred, m)
                P = np.where(rows[..., None, None], P_pred, P)
                ll = np.where(rows, 0.0, ll)
            loglik += ll
        means[..., t, :] = m
        covs[..., t, :, :] = P
        # predict: m̂_{t+1} = F m_t, P̂_{t+1} = F P_t Fᵀ + Q (symmetrised)
        with np.errstate(over="ignore", invalid="ignore"):
            m_pred = (F @ m[..., None])[..., 0]
            P_pred = F @ P @ Ft + Q
            P_pred = 0.5 * (P_pred + np.swapaxes(P_pred, -1, -2))
        _check_diverged(t + 1, m_pred, P_pred)
    return KalmanFilterResult(means=means, covariances=covs, log_likelihood=loglik)
