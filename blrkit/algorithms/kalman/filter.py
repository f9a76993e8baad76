r"""The Kalman filter: Bayes' rule once per observation, the emitted BLR step (ρ = 1) between predictions.

:func:`kalman_filter` checks the model (:mod:`~blrkit.algorithms.kalman.model`) and runs
:func:`filter_time_major` on NumPy arrays (the steady-state shortcuts of
:mod:`~blrkit.algorithms.kalman.steady`, time-major buffers) or :func:`_filter_plain` on the arrays of
another Array API library. The model and the shortcuts are described in :mod:`blrkit.algorithms.kalman`.
"""

from __future__ import annotations

import numpy as np

from blrkit._array_api import array_namespace, device, to_numpy
from blrkit.algorithms.kalman import model
from blrkit.algorithms.kalman.model import (
    LOG_2PI,
    RING,
    steady_rtol,
    batch_major,
    check_diverged,
    check_model,
    check_overflow,
    gaussian_logpdf,
    in_namespace,
    matvec,
    series_flat,
    sym,
    update,
)
from blrkit.algorithms._common import failure_is_error
from blrkit.algorithms._namespace import as_dtype, floating_dtype
from blrkit.algorithms.kalman.steady import steady_scan
from blrkit.algorithms.results import KalmanFilterResult

__all__ = ["INNOVATIONS", "filter_time_major", "kalman_filter"]

#: What fails when a factorisation in the filter does: Q, R and P0 are checked positive definite before it runs, so
#: an innovation covariance H P̂ Hᵀ + R that is not is the update step's (or float64's, for a model too ill-conditioned)
INNOVATIONS = "the Kalman update (its innovation covariance C = H P̂ Hᵀ + R must be positive definite)"

def kalman_filter(y, F, Q, H, R, m0, P0, *, transition_offsets=None, observation_offsets=None,
                  time_varying=()) -> KalmanFilterResult:
    r"""Filtered marginals and log-likelihood of a linear-Gaussian state-space model.

    For :math:`t = 0, \dots, T-1`, with :math:`\hat m_0 = m_0, \hat P_0 = P_0` (the first observation
    updates the prior directly) and after it
    :math:`\hat m_t = F_{t-1} m_{t-1} + b_{t-1},\ \hat P_t = F_{t-1} P_{t-1} F_{t-1}^\top + Q_{t-1}`:

    .. math::

        v_t = y_t - d_t - H_t\hat m_t, \quad C_t = H_t\hat P_t H_t^\top + R_t,
        \quad K_t = \hat P_t H_t^\top C_t^{-1},

        m_t = \hat m_t + K_t v_t, \quad
        P_t = (I - K_t H_t)\hat P_t (I - K_t H_t)^\top + K_t R_t K_t^\top,

        \log p(y_{0:T-1}) = \sum_t \log \mathcal N(v_t; 0, C_t).

    The update is one BLR step with ρ = 1 (Khan & Rue 2023, Sec. 5.1), in Joseph form so that
    :math:`P_t` stays symmetric positive definite; the predicted covariance is symmetrised.
    :math:`F_t, Q_t, H_t, R_t, b_t, d_t, m_0, P_0` are the arguments ``F, Q, H, R,
    transition_offsets, observation_offsets, m0, P0`` (at time ``t`` when time-varying; ``b`` and
    ``d`` are zero when not given). Missing components of :math:`y_t` (NaN, or masked) are dropped
    from that step: :math:`y_t, d_t, H_t` keep their observed rows and :math:`R_t` its observed
    block; with nothing observed, :math:`m_t = \hat m_t, P_t = \hat P_t` and the step adds nothing to
    the log-likelihood.

    Parameters
    ----------
    y : array_like or numpy.ma.MaskedArray or dask.array.Array, shape (*batch, T, O)
        Observations; NaN or masked entries are missing. A Dask array chunked along its batch axes
        only (one model, every series): each chunk of series is filtered in parallel and the
        results are Dask arrays chunked alike (``docs/scale.md``). The arrays of another Array API
        library (PyTorch, JAX, …; every array argument from it): the results are its arrays.
    F : array_like, shape (*batch, D, D), or (*batch, T-1, D, D) if time-varying
        Transition matrix; ``F[..., t, :, :]`` maps step t to step t+1.
    Q : array_like, shape (*batch, D, D), or (*batch, T-1, D, D) if time-varying
        Process-noise covariance (of the transition into step t+1), symmetric positive definite.
    H : array_like, shape (*batch, O, D), or (*batch, T, O, D) if time-varying
        Observation matrix.
    R : array_like, shape (*batch, O, O), or (*batch, T, O, O) if time-varying
        Observation-noise covariance, symmetric positive definite.
    m0 : array_like, shape (*batch, D)
        Prior mean of :math:`x_0`.
    P0 : array_like, shape (*batch, D, D)
        Prior covariance of :math:`x_0`, symmetric positive definite.
    transition_offsets : array_like, shape (*batch, D), or (*batch, T-1, D) if time-varying, optional
        :math:`b_t`, added to the transition into step t+1 (pykalman's convention); a control input
        is ``B @ u``.
    observation_offsets : array_like, shape (*batch, O), or (*batch, T, O) if time-varying, optional
        :math:`d_t`, added to the observation at step t.
    time_varying : collection of str, optional
        The names, among ``"F", "Q", "H", "R", "transition_offsets", "observation_offsets"``, of
        the arguments that carry a time axis, just before their matrix (or vector) axes, of length
        T − 1 for the transition's ``F, Q, transition_offsets`` and T for the rest. Only declared
        arguments have a time axis: every other leading axis is a batch axis. An undeclared
        argument whose last batch axis has the time length and would widen ``y``'s batch shape
        raises ``ValueError`` (it is probably a time axis).

    The batch shapes broadcast against each other (e.g. one model, many series).

    Returns
    -------
    KalmanFilterResult
        ``means`` ``(*batch, T, D)``, ``covariances`` ``(*batch, T, D, D)``, ``log_likelihood``
        ``(*batch,)``. Covariances shared by all series are a read-only broadcast view.

    Raises
    ------
    ValueError
        Shape mismatches (naming the argument), a time axis whose length disagrees with ``y``,
        non-SPD ``Q``, ``R`` or ``P0`` (naming the time step when time-varying), non-finite inputs
        (except NaN in ``y``); a Dask ``y`` chunked along its time or value axis, or with a model
        that has batch axes.
    TypeError
        Arguments from different array libraries (NumPy with JAX, …; naming one), or a Dask model
        parameter.

    Notes
    -----
    pykalman uses the same conventions for the first step and the offsets, but treats a row with
    any missing component as entirely missing; filterpy predicts before every update, so to match
    it, skip its first ``predict`` and pass its ``B @ u`` of the predict before update t as
    ``transition_offsets[t - 1]``. The covariance update here is Joseph's form, where pykalman and
    filterpy's default use :math:`(I - KH)\hat P`: equal in exact arithmetic.

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

    A known drive of +1 per step (a transition offset), and a sensor biased by 0.5 whose second
    reading is masked:

    >>> y = np.ma.masked_invalid([[1.5], [np.nan], [3.5]])
    >>> res = kalman_filter(y, one, one, one, one, np.zeros(1), one,
    ...                     transition_offsets=np.ones(1), observation_offsets=[0.5])
    >>> res.means[:, 0].round(4)
    array([0.5   , 1.5   , 2.8571])

    A transition matrix that changes with time, declared as such (T = 3, so two transitions):

    >>> F_t = np.array([[[1.0]], [[0.5]]])
    >>> kalman_filter([[1.0], [1.0], [1.0]], F_t, one, one, one, np.zeros(1), one,
    ...               time_varying=("F",)).means[:, 0].round(4)
    array([0.5   , 0.8   , 0.7209])
    """
    xp = array_namespace(y=y, F=F, Q=Q, H=H, R=R, m0=m0, P0=P0, transition_offsets=transition_offsets,
                         observation_offsets=observation_offsets)
    if xp is not np:
        y, F, Q, H, R, m0, P0, transition_offsets, observation_offsets = in_namespace(
            xp, y=y, F=F, Q=Q, H=H, R=R, m0=m0, P0=P0, transition_offsets=transition_offsets,
            observation_offsets=observation_offsets).values()
    # float32 arrays: a float32 model, buffers and results (the log-likelihood is summed in float64, then cast)
    dtype = floating_dtype(xp, y=y, F=F, Q=Q, H=H, R=R, m0=m0, P0=P0, transition_offsets=transition_offsets,
                           observation_offsets=observation_offsets)
    mod = check_model(y, F, Q, H, R, m0, P0, transition_offsets, observation_offsets, time_varying)
    if dtype != xp.float64:
        mod = mod.astype(xp, dtype)
    # NumPy: the optimised recursion (steady state, scans, time-major buffers); any other library:
    # the plain loop over time in its own namespace
    with failure_is_error(INNOVATIONS):
        means, covs, loglik = filter_time_major(mod) if xp is np else _filter_plain(mod, xp)
    check_overflow(xp, "filter", means, covs, loglik)
    means, covs, loglik = (as_dtype(xp, dtype, a) for a in (means, covs, loglik))
    return KalmanFilterResult(means=batch_major(means, mod.batch, 1), covariances=batch_major(covs, mod.batch, 2),
                              log_likelihood=loglik)


class _AffineUpdate:
    r"""The emitted update for one shared predicted covariance, as the affine map it computes.

    For a fixed :math:`\hat P`, ``kalman_update`` is linear in :math:`(\hat m, y, d)` with no constant
    term (:math:`m = \hat m + K(y - d - H\hat m)`, :math:`v = y - d - H\hat m`). Evaluating the emitted
    step on unit inputs (the rows of an identity matrix) gives the matrices of that map exactly, and
    the covariance outputs :math:`P, K, C`; :meth:`apply` then applies the map to a whole batch of
    means as matrix products.
    """

    def __init__(self, P_pred, H, R):
        D, O = P_pred.shape[-1], H.shape[-2]
        E = np.eye(D + 2 * O, dtype=P_pred.dtype)   # float32 model: a float32 map
        # rows 0..D−1: m̂ = e_i; rows D..D+O−1: y = e_j; rows D+O..: d = e_k (the emitted BLR step)
        m, self.P, self.K, v, C = update(E[:, :D], P_pred, E[:, D:D + O], H, R, E[:, D + O:])
        L = np.linalg.cholesky(C)
        # log N(v; 0, C) = const − ½|z|², z = L⁻¹v, const = −½(log det C + O log 2π)
        LinvT = np.linalg.solve(L, np.eye(O, dtype=L.dtype)).T
        self.const = -0.5 * (2.0 * np.sum(np.log(np.diag(L))) + O * LOG_2PI)
        # [m | z] = m̂ W_m + y W_y + d W_d, with W = [M | V L⁻ᵀ] from the rows of the unit inputs
        W = np.concatenate([m, v @ LinvT], axis=1)
        self.Wm, self.Wy, self.Wd = W[:D], W[D:D + O], W[D + O:]
        self.D = D

    def apply(self, m_pred, y, d):
        """Filtered means and log-likelihood terms of a batch: ``m_pred`` (…, D), ``y``, ``d`` (…, O)."""
        # m = m̂ M_m + y M_y + d M_d and z = L⁻¹v, v = m̂ V_m + y V_y + d V_d: the emitted step's own
        # coefficients, two (three) matrix products for the whole batch
        out = m_pred @ self.Wm
        out += y @ self.Wy
        if d is not None:
            out += d @ self.Wd
        z = out[..., self.D:]
        return out[..., :self.D], self.const - 0.5 * np.einsum("...i,...i->...", z, z)


def _batched_update(m_pred, P_pred, y_t, H, R, d, observed_t, mode):
    """The emitted update with per-series covariances; ``mode`` "all", an index array of the
    observed components (the same in every series), or "pad" (they differ between series)."""
    if mode is None:
        m, P, _, v, C = update(m_pred, P_pred, y_t, H, R, 0.0 if d is None else d)
        return m, P, gaussian_logpdf(v, C)
    if mode != "pad":
        # the observed rows of y, d, H and the observed block of R
        idx = mode
        m, P, _, v, C = update(m_pred, P_pred, y_t[..., idx], H[..., idx, :], R[..., idx[:, None], idx],
                                      0.0 if d is None else d[..., idx])
        return m, P, gaussian_logpdf(v, C)
    return _padded_update(m_pred, P_pred, y_t, H, R, d, observed_t)


def _padded_update(m_pred, P_pred, y_t, H, R, d, o, xp=np):
    """The emitted update on the observed components ``o`` (a mask ``(..., O)``, per series or shared)
    of ``y_t``: filtered mean, covariance and log-likelihood term; ``xp`` the arrays' namespace."""
    # Dropping the missing components of each series, vectorised: zero rows of y, d and H, and R
    # with an identity block there, uncoupled. The residual and the gain columns of those
    # components are then exactly 0 and C is block diagonal, so m, P equal the update on the
    # observed rows alone; the log-density of the unit block, −½ n_missing log 2π, is added back.
    missing = xp.astype(~o, R.dtype)  # in the model's dtype: float32 data stays float32
    y0 = xp.where(o, y_t, 0.0)
    d0 = 0.0 if d is None else xp.where(o, d, 0.0)
    Hp = xp.where(o[..., None], H, 0.0)
    Rp = xp.where(o[..., :, None] & o[..., None, :], R, 0.0) + missing[..., :, None] * xp.eye(
        o.shape[-1], dtype=R.dtype, device=device(R))
    m, P, _, v, C = update(m_pred, P_pred, y0, Hp, Rp, d0)
    return m, P, gaussian_logpdf(v, C, xp) + 0.5 * xp.sum(missing, axis=-1) * LOG_2PI


def _filter_plain(mod, xp):
    r"""The filter for arrays of another library than NumPy, in its namespace ``xp``: the plain loop
    over time of the prediction and the emitted update, vectorised over the series.

    Same outputs as :func:`filter_time_major` (time-major), with none of its shortcuts (no steady state, no
    scans, no buffers written in place: the steps are stacked at the end). Which steps have missing
    components is read once, on the host, from the observed mask.
    """
    T, D, batch, cb = mod.T, mod.D, mod.batch, mod.cov_batch
    if mod.observed is None:
        complete, empty, o_shared = np.ones(T, dtype=bool), np.zeros(T, dtype=bool), None
    else:
        flat = series_flat(mod.observed)
        host = to_numpy(flat)
        complete, empty = host.all(axis=(1, 2)), ~host.any(axis=(1, 2))
        # the same missing components in every series: one mask per step, one covariance for all
        o_shared = flat[:, 0, :] if bool((host == host[:, :1]).all()) else None
    loglik = xp.zeros(batch, dtype=xp.float64, device=device(mod.y))
    means, covs = [], []
    m_pred, P_pred = mod.m0, mod.P0
    m = P = None
    for t in range(T):
        if t > 0:
            F_t = mod.at("F", t - 1)
            # predict: m̂_t = F_{t−1} m_{t−1} + b_{t−1}, P̂_t = F_{t−1} P_{t−1} F_{t−1}ᵀ + Q_{t−1} (symmetrised)
            m_pred = (F_t @ m[..., None])[..., 0]
            if mod.b is not None:
                m_pred = m_pred + mod.at("b", t - 1)
            with np.errstate(over="ignore", invalid="ignore"):  # (array-api-strict computes with NumPy) reported below
                P_pred = sym(F_t @ P @ F_t.mT + mod.at("Q", t - 1))
            check_diverged(t, m_pred, P_pred, xp)
        d_t = None if mod.d is None else mod.at("d", t)
        if empty[t]:
            # nothing observed: the prediction
            m, P = m_pred, P_pred
        elif complete[t]:
            # the emitted BLR step (ρ = 1)
            m, P, _, v, C = update(m_pred, P_pred, mod.y[t, ...], mod.at("H", t), mod.at("R", t),
                                          0.0 if d_t is None else d_t)
            loglik = loglik + gaussian_logpdf(v, C, xp)
        else:
            o = mod.observed[t, ...] if o_shared is None else o_shared[t, ...]
            m, P, ll = _padded_update(m_pred, P_pred, mod.y[t, ...], mod.at("H", t), mod.at("R", t), d_t, o, xp)
            loglik = loglik + ll
        means.append(xp.broadcast_to(m, batch + (D,)))
        covs.append(xp.broadcast_to(P, cb + (D, D)))
    return xp.stack(means), xp.stack(covs), loglik


def filter_time_major(mod):
    """Filtered means ``(T, *batch, D)``, covariances ``(T, *cov_batch, D, D)`` (time-major) and the
    log-likelihood ``(*batch,)``."""
    T, D, O = mod.T, mod.D, mod.O
    batch, cb = mod.batch, mod.cov_batch
    means = np.empty((T,) + batch + (D,), dtype=mod.P0.dtype)
    rtol = steady_rtol(mod.P0.dtype)   # "steady" in ulps of the model's dtype
    covs = np.empty((T,) + cb + (D, D), dtype=mod.P0.dtype)
    loglik = np.zeros(batch)
    if mod.observed is None:
        flat = None
        complete, empty, same_pattern = np.ones(T, dtype=bool), np.zeros(T, dtype=bool), True
    else:
        flat = mod.observed.reshape(T, -1, O)
        complete = flat.all(axis=(1, 2))
        empty = ~flat.any(axis=(1, 2))
        same_pattern = flat.shape[1] == 1 or bool((flat == flat[:, :1]).all())
    shared = cb == ()
    # steady state: one constant model; the map is reused until the next incomplete step
    steady_ok = shared and not (mod.tv & {"F", "Q", "H", "R"})
    use_scan = int(np.prod(batch, dtype=int)) * D <= model.SCAN_MAX_BATCH_ELEMENTS
    incomplete = np.flatnonzero(~complete)
    stable = None
    fixed, fixed_until, P_prev = None, 0, None
    # periodic steady state (missing components in a repeating pattern): with the period p the
    # spacing of the last two incomplete steps, once P̂_t equals P̂_{t−p} (to STEADY_RTOL) after p
    # steps whose patterns repeat, step t+1 reuses the map of step t+1−p, as long as they repeat
    codes = np.zeros(T, dtype=np.intp) if flat is None else \
        np.unique(flat[:, 0, :], axis=0, return_inverse=True)[1].reshape(T)
    ring_upd, ring_P = [None] * RING, [None] * RING
    period, run, last_incomplete, cycling = 0, 0, -1, False
    m = P = None
    t = 0
    while t < T:
        if fixed is not None and t >= fixed_until:
            fixed, P_prev = None, None
        if cycling and codes[t] != codes[t - period]:
            cycling, P_prev = False, None
        if t == 0:
            m_pred = np.broadcast_to(mod.m0, batch + (D,))
            P_pred = np.broadcast_to(mod.P0, cb + (D, D))
        else:
            F_t = mod.at("F", t - 1)
            # predict: m̂_t = F_{t−1} m_{t−1} + b_{t−1}, P̂_t = F_{t−1} P_{t−1} F_{t−1}ᵀ + Q_{t−1} (symmetrised)
            m_pred = matvec(F_t, m)
            if mod.b is not None:
                m_pred = m_pred + mod.at("b", t - 1)
            if cycling:
                P_pred = ring_P[(t - period) % RING]
            elif fixed is None:
                with np.errstate(over="ignore", invalid="ignore"):  # an overflow is reported just below
                    P_pred = sym(F_t @ P @ np.swapaxes(F_t, -1, -2) + mod.at("Q", t - 1))
                check_diverged(t, m_pred, P_pred)
        d_t = None if mod.d is None else mod.at("d", t)
        upd = None
        if empty[t]:
            m, P = m_pred, P_pred
        elif shared:
            idx = None if complete[t] else np.flatnonzero(flat[t, 0])
            y_t = mod.y[t] if idx is None else mod.y[t][..., idx]
            if d_t is not None and idx is not None:
                d_t = d_t[..., idx]
            upd = fixed if fixed is not None else ring_upd[(t - period) % RING] if cycling else None
            if upd is None:
                # the observed rows of H_t and block of R_t
                H_t, R_t = mod.at("H", t), mod.at("R", t)
                if idx is not None:
                    H_t, R_t = H_t[idx], R_t[np.ix_(idx, idx)]
                if cycling or not use_scan:
                    upd = _AffineUpdate(P_pred, H_t, R_t)
            if upd is not None:
                m, ll = upd.apply(m_pred, y_t, d_t)
                P, K = upd.P, upd.K
            else:
                # a small batch: the emitted step on the means themselves
                m, P, K, v, C = update(m_pred, P_pred, y_t, H_t, R_t, 0.0 if d_t is None else d_t)
                ll = gaussian_logpdf(v, C)
            loglik += ll
        else:
            mode = None if complete[t] else (np.flatnonzero(flat[t, 0]) if same_pattern else "pad")
            m, P, ll = _batched_update(m_pred, P_pred, mod.y[t], mod.at("H", t), mod.at("R", t), d_t,
                                       None if mode is None else mod.observed[t], mode)
            loglik += ll
        means[t], covs[t] = m, P
        if steady_ok:
            ring_upd[t % RING], ring_P[t % RING] = upd, P_pred
            if not complete[t]:
                if last_incomplete >= 0 and t - last_incomplete != period:
                    period, run = t - last_incomplete, 0
                last_incomplete = t
            if period:
                run = run + 1 if t >= period and codes[t] == codes[t - period] else 0
            if (not cycling and fixed is None and 0 < period < RING and run >= period
                    and np.max(np.abs(P_pred - ring_P[(t - period) % RING])) <= rtol * np.max(np.abs(P_pred))):
                cycling = True
        # steady: the predicted covariance repeats (to STEADY_RTOL) with complete steps ahead
        if (steady_ok and not cycling and fixed is None and complete[t] and P_prev is not None and t < T - 2
                and np.max(np.abs(P_pred - P_prev)) <= rtol * np.max(np.abs(P_pred))):
            after = incomplete[np.searchsorted(incomplete, t + 1):]
            t_end = int(after[0]) if len(after) else T
            A = mod.F - mod.F @ K @ mod.H           # A = F(I − KH)
            if stable is None:
                # a scan forms powers of A: only when the recursion is stable, else keep stepping
                stable = bool(np.max(np.abs(np.linalg.eigvals(A))) < 1.0)
            if t_end - t > 2:
                if use_scan and stable:
                    steady_scan(mod, t, t_end, K, A, m, P_pred, means, covs, loglik)
                    m, P, t, P_prev = means[t_end - 1], covs[t_end - 1], t_end, None
                    continue
                fixed = upd if upd is not None else _AffineUpdate(P_pred, mod.H, mod.R)
                fixed_until = t_end
        if fixed is None:
            P_prev = P_pred
        t += 1
    return means, covs, loglik
