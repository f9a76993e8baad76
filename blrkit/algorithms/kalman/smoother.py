r"""The Rauch–Tung–Striebel smoother: the backward pass over the filtered marginals.

Its result equals one ρ = 1 BLR step on the joint Gaussian of the whole trajectory (Khan & Rue 2023,
Sec. 5.1); it is written as the classical backward recursion, with the steady runs of
:mod:`~blrkit.algorithms.kalman.steady` where the filtered covariances are constant.
"""

from __future__ import annotations

import numpy as np

from blrkit._array_api import array_namespace
from blrkit._validation import check_flag
from blrkit.algorithms._namespace import as_dtype, floating_dtype
from blrkit.algorithms.kalman.model import (
    batch_major,
    check_array,
    check_overflow,
    check_time_varying,
    in_namespace,
    matvec,
    pad_time_major,
    sym,
    unbroadcast,
    widens,
)
from blrkit.algorithms.kalman.steady import smooth_steady_run
from blrkit.algorithms.results import KalmanFilterResult, KalmanSmootherResult

__all__ = ["check_smoother_model", "kalman_smoother", "rts_smoother", "smooth_time_major"]

def rts_smoother(filter_result: KalmanFilterResult, F, Q, *, transition_offsets=None, time_varying=(),
                 cross_covariances=False) -> KalmanSmootherResult:
    r"""Rauch–Tung–Striebel smoother: the marginals :math:`p(x_t \mid y_{0:T-1})`.

    Backwards from :math:`m^s_{T-1} = m_{T-1}, P^s_{T-1} = P_{T-1}`:

    .. math::

        \hat m_{t+1} = F_t m_t + b_t, \quad \hat P_{t+1} = F_t P_t F_t^\top + Q_t, \quad
        G_t = P_t F_t^\top \hat P_{t+1}^{-1},

        m^s_t = m_t + G_t (m^s_{t+1} - \hat m_{t+1}), \quad
        P^s_t = P_t + G_t (P^s_{t+1} - \hat P_{t+1}) G_t^\top,

        \operatorname{Cov}(x_{t+1}, x_t \mid y_{0:T-1}) = P^s_{t+1} G_t^\top.

    :math:`m_t, P_t` are the filtered ``means`` and ``covariances`` of ``filter_result``;
    :math:`F_t, Q_t, b_t` are the model's ``F``, ``Q`` and ``transition_offsets``, which must be those
    used for filtering. This backward pass is classical and hand-written, not an emitted BLR step;
    its output equals one ρ = 1 BLR step on the joint Gaussian over the whole trajectory, whose
    precision is block tridiagonal (Khan & Rue 2023, Sec. 5.1). The lag-one cross-covariances are
    the sufficient statistics the EM M-step needs (:func:`kalman_em`).

    Parameters
    ----------
    filter_result : KalmanFilterResult
        The output of :func:`kalman_filter` (of Dask arrays for a Dask ``y``: then smoothed chunk by
        chunk, with Dask results; of another Array API library's arrays: then smoothed in it, with
        its arrays, ``F, Q`` and the offsets from the same library).
    F, Q : array_like, shape (*batch, D, D), or (*batch, T-1, D, D) if time-varying
        The transition matrix and process-noise covariance used for filtering.
    transition_offsets : array_like, shape (*batch, D), or (*batch, T-1, D) if time-varying, optional
        The transition offsets used for filtering.
    time_varying : collection of str, optional
        Which of ``"F", "Q", "transition_offsets"`` carry a time axis (see :func:`kalman_filter`).
    cross_covariances : bool, optional
        Also return :math:`\operatorname{Cov}(x_{t+1}, x_t \mid y)`.

    Returns
    -------
    KalmanSmootherResult
        ``means`` ``(*batch, T, D)``, ``covariances`` ``(*batch, T, D, D)`` and, when asked,
        ``cross_covariances`` ``(*batch, T-1, D, D)`` (else None).

    References
    ----------
    Rauch, Tung & Striebel, AIAA Journal 3 (1965); Khan & Rue (2023), Sec. 5.1.

    Examples
    --------
    >>> import numpy as np
    >>> from blrkit.algorithms import kalman_filter, rts_smoother
    >>> one = np.eye(1)
    >>> filt = kalman_filter(np.array([[1.0], [np.nan], [2.0]]), one, one, one, one, np.zeros(1), one)
    >>> smooth = rts_smoother(filt, one, one, cross_covariances=True)
    >>> smooth.means[:, 0].round(4), smooth.covariances[:, 0, 0].round(4)
    (array([0.7143, 1.1429, 1.5714]), array([0.4286, 0.8571, 0.7143]))
    >>> smooth.cross_covariances[:, 0, 0].round(4)
    array([0.2857, 0.4286])
    """
    if not isinstance(filter_result, KalmanFilterResult):
        raise TypeError("filter_result must be the KalmanFilterResult returned by kalman_filter")
    cross_covariances = check_flag(cross_covariances, "cross_covariances")
    means, covs = filter_result.means, filter_result.covariances
    xp = array_namespace(F=F, Q=Q, transition_offsets=transition_offsets, means=means, covariances=covs)
    if xp is not np:
        F, Q, transition_offsets, means, covs = in_namespace(xp, F=F, Q=Q, transition_offsets=transition_offsets,
                                                              means=means, covariances=covs).values()
    dtype = floating_dtype(xp, means=means, covariances=covs, F=F, Q=Q, transition_offsets=transition_offsets)
    T, D = means.shape[-2:]
    batch = tuple(means.shape[:-2])
    F, Q, b, tv = check_smoother_model(T, D, batch, F, Q, transition_offsets, time_varying)
    if xp is not np:
        # any other library: the plain backward loop in its own namespace, in the run's dtype (its matmul does
        # not promote: float32 filter results meet F and Q in float32)
        F, Q, b, means, covs = (None if a is None else as_dtype(xp, dtype, a) for a in (F, Q, b, means, covs))
        ms, Ps, cross = _smooth_plain(xp, xp.moveaxis(means, -2, 0), xp.moveaxis(covs, -3, 0), F, Q, b, tv,
                                      cross_covariances)
        check_overflow(xp, "smoother", ms, Ps, *(() if cross is None else (cross,)))
        ms, Ps, cross = (as_dtype(xp, dtype, a) for a in (ms, Ps, cross))
        return KalmanSmootherResult(means=batch_major(ms, batch, 1), covariances=batch_major(Ps, batch, 2),
                                    cross_covariances=None if cross is None else batch_major(cross, batch, 2))
    # time-major views; covariances shared by every series (a broadcast view) stay shared
    m_f = np.moveaxis(means, -2, 0)
    P_f = np.moveaxis(unbroadcast(covs, len(batch)), -3, 0)
    if all(n == 1 for n in P_f.shape[1:-2]):
        P_f = P_f.reshape(P_f.shape[:1] + P_f.shape[-2:])       # one covariance sequence for all series
    ms, Ps, cross = smooth_time_major(m_f, P_f, F, Q, b, tv, cross_covariances)
    check_overflow(np, "smoother", ms, Ps, *(() if cross is None else (cross,)))
    ms, Ps, cross = (as_dtype(np, dtype, a) for a in (ms, Ps, cross))
    return KalmanSmootherResult(means=batch_major(ms, batch, 1), covariances=batch_major(Ps, batch, 2),
                                cross_covariances=None if cross is None else batch_major(cross, batch, 2))


def check_smoother_model(T, D, batch, F, Q, transition_offsets, time_varying):
    """The smoother's model, validated against filtered means of shape ``(*batch, T, D)``: ``F, Q, b``
    (time-major where time-varying, with ``len(batch)`` batch axes) and the set of time-varying names."""
    tv = check_time_varying(time_varying, allowed=("F", "Q", "transition_offsets"))
    F, Fb = check_array(F, "F", (D, D), T - 1, tv, batch, "T − 1")
    Q, Qb = check_array(Q, "Q", (D, D), T - 1, tv, batch, "T − 1", spd=True)
    b, bb = (None, ()) if transition_offsets is None else check_array(
        transition_offsets, "transition_offsets", (D,), T - 1, tv, batch, "T − 1")
    for name, shape in (("F", Fb), ("Q", Qb), ("transition_offsets", bb)):
        if widens(shape, batch):
            raise ValueError(f"{name} has batch shape {shape}, incompatible with the filtered means' batch shape "
                             f"{batch}")
    nb = len(batch)
    F, Q = (pad_time_major(a, nb, 2) if n in tv else a for n, a in (("F", F), ("Q", Q)))
    if b is not None and "transition_offsets" in tv:
        b = pad_time_major(b, nb, 1)
    return F, Q, b, tv


#: The same function under the name used by pykalman's ``KalmanFilter.smooth``'s users.
kalman_smoother = rts_smoother


def smooth_time_major(m_f, P_f, F, Q, b, tv, want_cross):
    """RTS pass over time-major filtered marginals; returns means, covariances and (if asked) the
    lag-one cross-covariances Cov(x_{t+1}, x_t | y), all time-major."""
    T, D = m_f.shape[0], m_f.shape[-1]

    def at(a, name, t):
        return a[t] if name in tv else a

    def batch_of(a, name):
        return a.shape[1:-2] if name in tv else a.shape[:-2]

    cb = np.broadcast_shapes(P_f.shape[1:-2], batch_of(F, "F"), batch_of(Q, "Q"))
    ms = np.empty(m_f.shape, dtype=m_f.dtype)
    Ps = np.empty((T,) + cb + (D, D), dtype=P_f.dtype)
    cross = np.empty((max(T - 1, 0),) + cb + (D, D), dtype=P_f.dtype) if want_cross else None
    ms[-1], Ps[-1] = m_f[-1], P_f[-1]
    # steady runs: with one constant F, Q and filtered covariances equal from step r to t+1 (the
    # filter's steady state stores them so), G and P̂ are constant over r..t
    run_start = None
    if cb == () and not ({"F", "Q"} & tv) and T > 2:
        same = (P_f[1:] == P_f[:-1]).all(axis=(-1, -2))          # same[t]: P_t = P_{t+1}
        # run_start[t]: the first r with same[r..t] all true
        idx = np.where(same, 0, np.arange(T - 1) + 1)
        run_start = np.maximum.accumulate(idx)
    t = T - 2
    while t >= 0:
        if run_start is not None and same[t] and t - run_start[t] >= 2:
            r = int(run_start[t])
            smooth_steady_run(m_f, P_f[t], F, Q, b, tv, r, t, ms, Ps, cross)
            t = r - 1
            continue
        F_t, m, P = at(F, "F", t), m_f[t], P_f[t]
        FP = F_t @ P
        # P̂_{t+1} = F_t P_t F_tᵀ + Q_t
        P_pred = FP @ np.swapaxes(F_t, -1, -2) + at(Q, "Q", t)
        # G_t = P_t F_tᵀ P̂_{t+1}⁻¹  (solve, using the symmetry of P_t and P̂_{t+1})
        G = np.swapaxes(np.linalg.solve(P_pred, FP), -1, -2)
        # m̂_{t+1} = F_t m_t + b_t
        m_pred = matvec(F_t, m)
        if b is not None:
            m_pred = m_pred + at(b, "transition_offsets", t)
        # m^s_t = m_t + G_t (m^s_{t+1} − m̂_{t+1})
        ms[t] = m + matvec(G, ms[t + 1] - m_pred)
        Gt = np.swapaxes(G, -1, -2)
        # P^s_t = P_t + G_t (P^s_{t+1} − P̂_{t+1}) G_tᵀ, symmetrised
        Ps[t] = sym(P + G @ (Ps[t + 1] - P_pred) @ Gt)
        if want_cross:
            # Cov(x_{t+1}, x_t | y) = P^s_{t+1} G_tᵀ
            cross[t] = Ps[t + 1] @ Gt
        t -= 1
    return ms, Ps, cross


def _smooth_plain(xp, m_f, P_f, F, Q, b, tv, want_cross):
    """The RTS pass of :func:`smooth_time_major` for arrays of another library than NumPy, in its namespace
    ``xp``: the plain backward loop (no steady runs), the steps stacked at the end; time-major."""
    T = m_f.shape[0]

    def at(a, name, t):
        return a[t, ...] if name in tv else a

    ms, Ps, cross = [m_f[T - 1, ...]], [P_f[T - 1, ...]], []
    for t in range(T - 2, -1, -1):
        F_t, m, P = at(F, "F", t), m_f[t, ...], P_f[t, ...]
        FP = F_t @ P
        # P̂_{t+1} = F_t P_t F_tᵀ + Q_t
        P_pred = FP @ F_t.mT + at(Q, "Q", t)
        # G_t = P_t F_tᵀ P̂_{t+1}⁻¹  (solve, using the symmetry of P_t and P̂_{t+1})
        G = xp.linalg.solve(P_pred, FP).mT
        # m̂_{t+1} = F_t m_t + b_t
        m_pred = (F_t @ m[..., None])[..., 0]
        if b is not None:
            m_pred = m_pred + at(b, "transition_offsets", t)
        if want_cross:
            # Cov(x_{t+1}, x_t | y) = P^s_{t+1} G_tᵀ
            cross.append(Ps[-1] @ G.mT)
        # m^s_t = m_t + G_t (m^s_{t+1} − m̂_{t+1})
        ms.append(m + (G @ (ms[-1] - m_pred)[..., None])[..., 0])
        # P^s_t = P_t + G_t (P^s_{t+1} − P̂_{t+1}) G_tᵀ, symmetrised
        Ps.append(sym(P + G @ (Ps[-1] - P_pred) @ G.mT))
    return (_stack_reversed(xp, ms), _stack_reversed(xp, Ps),
            _stack_reversed(xp, cross) if want_cross else None)


def _stack_reversed(xp, steps):
    """Steps collected backwards in time, stacked forwards along a new axis 0 (broadcast to one shape)."""
    shape = np.broadcast_shapes(*(tuple(a.shape) for a in steps))
    return xp.stack([xp.broadcast_to(a, shape) for a in reversed(steps)])
