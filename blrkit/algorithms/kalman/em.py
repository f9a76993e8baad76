r"""Expectation–maximisation for a linear-Gaussian state-space model (Shumway & Stoffer), the BLR's EM row
(Khan & Rue 2023, Sec. 5.2): the E-step is the filter and the RTS smoother (the exact posterior of the
states), the M-step the closed-form maximiser of the expected complete-data log-likelihood.
"""

from __future__ import annotations

import numpy as np

from blrkit._array_api import array_library, array_namespace
from blrkit._validation import check_count, cholesky_succeeds
from blrkit.algorithms._common import failure_is_error
from blrkit.algorithms.kalman.filter import INNOVATIONS, filter_time_major
from blrkit.algorithms._namespace import as_dtype, floating_dtype
from blrkit.algorithms.kalman.model import (
    Model,
    check_model,
    check_time_varying,
    cov_batch,
    pad_time_major,
)
from blrkit.algorithms.kalman.smoother import smooth_time_major
from blrkit.algorithms.results import KalmanEMResult

__all__ = ["kalman_em"]

_EM_PARAMETERS = ("F", "Q", "H", "R", "m0", "P0")


def kalman_em(y, F0, Q0, H0, R0, m00, P00, *, n_steps, fit=_EM_PARAMETERS, transition_offsets=None,
              observation_offsets=None, time_varying=()) -> KalmanEMResult:
    r"""Fit a linear-Gaussian state-space model by expectation–maximisation (Shumway & Stoffer).

    Each iteration runs the filter and the RTS smoother (the E-step: the exact posterior
    :math:`q(x_{0:T-1})`, one ρ = 1 BLR step) and then maximises :math:`\mathbb E_q[\log p(x, y \mid
    \Theta)]` in closed form (the M-step: the BLR's EM row, the delta method for the parameters;
    Khan & Rue 2023, Sec. 5.2). With :math:`m^s_t, P^s_t` the smoothed marginals,
    :math:`C_t = \operatorname{Cov}(x_{t+1}, x_t \mid y)`, the moments
    :math:`\mathbb E[x_t x_t^\top] = P^s_t + m^s_t m^{s\top}_t`,
    :math:`\mathbb E[x_{t+1} x_t^\top] = C_t + m^s_{t+1} m^{s\top}_t`, and sums over the observed steps
    :math:`\mathcal O` (for ``H`` and ``R``) or over the transitions :math:`t = 0..T-2`:

    .. math::

        H &= \Big(\sum_{\mathcal O} (y_t - d_t)\, m^{s\top}_t\Big)\Big(\sum_{\mathcal O} \mathbb E[x_t x_t^\top]\Big)^{-1},
        \quad R = \frac{1}{|\mathcal O|}\sum_{\mathcal O} (y_t - d_t - H m^s_t)(\cdot)^\top + H P^s_t H^\top,

        F &= \Big(\sum_t \mathbb E[x_{t+1} x_t^\top] - b_t m^{s\top}_t\Big)\Big(\sum_t \mathbb E[x_t x_t^\top]\Big)^{-1},

        Q &= \frac{1}{T-1}\sum_t (m^s_{t+1} - F m^s_t - b_t)(\cdot)^\top + F P^s_t F^\top + P^s_{t+1}
             - C_t F^\top - F C_t^\top,

        m_0 &= m^s_0, \quad P_0 = P^s_0 + (m^s_0 - m_0)(m^s_0 - m_0)^\top,

    each in this order, a parameter not in ``fit`` keeping its value (``R`` uses the new ``H``,
    ``Q`` the new ``F``, ``P0`` the new ``m0``: the joint maximiser, and pykalman's order). The
    log-likelihood never decreases from one iteration to the next.

    Parameters
    ----------
    y : array_like or numpy.ma.MaskedArray, shape (*batch, T, O)
        Observations (NumPy: the arrays of another library raise ``TypeError``, convert them with
        ``np.asarray``); NaN or masked entries are missing. Rows entirely missing are left out of the
        ``H`` and ``R`` sums (as pykalman does); a row with some components observed enters them
        completed in expectation: its missing residual given the observed one has mean
        :math:`R_{mo}R_{oo}^{-1} r_o` and variance :math:`R_{mm} - R_{mo}R_{oo}^{-1}R_{om}` under the
        current :math:`R` (Shumway & Stoffer's treatment of missing data).
    F0, Q0, H0, R0, m00, P00 : array_like
        The starting parameters, shapes as for :func:`kalman_filter` (no time axes).
    n_steps : int
        Number of EM iterations (≥ 0).
    fit : collection of str, optional
        Which of ``"F", "Q", "H", "R", "m0", "P0"`` to fit; the others stay fixed.
    transition_offsets, observation_offsets : array_like, optional
        Known offsets, as for :func:`kalman_filter` (not fitted).
    time_varying : collection of str, optional
        Which arguments carry a time axis (see :func:`kalman_filter`): the offsets, and those of
        ``"F", "Q", "H", "R"`` that are not fitted (a fitted parameter is one matrix for all
        steps; fitting F needs a constant Q, fitting H a constant R, for the closed forms above);
        the sums above then use :math:`F_t, H_t` at each step.

    Each series of a batch is fitted on its own (the parameters gain the batch axes).

    Returns
    -------
    KalmanEMResult
        The fitted ``F, Q, H, R, m0, P0``; their ``*_history`` (index k: after k iterations, index 0
        the start; shape ``(n_steps + 1, *batch, ...)``); ``log_likelihood``
        ``(n_steps + 1, *batch)``, that of the parameters at index k.

    References
    ----------
    Shumway & Stoffer, "An approach to time series smoothing and forecasting using the EM
    algorithm", J. Time Series Analysis 3 (1982); Khan & Rue (2023), Sec. 5.2.

    Examples
    --------
    >>> import numpy as np
    >>> from blrkit.algorithms import kalman_em
    >>> rng = np.random.default_rng(0)
    >>> x = np.cumsum(rng.normal(size=200))                 # a random walk, Q = 1
    >>> y = (x + 0.5 * rng.normal(size=200))[:, None]      # observed with R = 0.25
    >>> one = np.eye(1)
    >>> res = kalman_em(y, one, 0.1 * one, one, one, np.zeros(1), one, n_steps=50, fit=("Q", "R"))
    >>> bool(np.all(np.diff(res.log_likelihood) >= 0))
    True
    >>> float(res.Q[0, 0].round(1)), float(res.R[0, 0].round(1))     # near the true 1 and 0.25
    (1.0, 0.2)
    """
    named = dict(y=y, F0=F0, Q0=Q0, H0=H0, R0=R0, m00=m00, P00=P00, transition_offsets=transition_offsets,
                 observation_offsets=observation_offsets)
    if array_namespace(**named) is not np:
        name, lib = next((n, array_library(v)) for n, v in named.items() if array_library(v) not in (None, "numpy"))
        raise TypeError(f"kalman_em runs on NumPy arrays; {name} is a {lib} array: convert it with np.asarray({name})")
    # float32 arrays: float32 results (the iterations run in float64: the M-step's sums need the range)
    dtype = floating_dtype(np, **named)
    if isinstance(fit, str):
        fit = (fit,)
    fit = tuple(fit)
    unknown = set(fit) - set(_EM_PARAMETERS)
    if unknown:
        raise ValueError(f"fit names parameters among {_EM_PARAMETERS}; got {sorted(unknown)}")
    if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 0:
        raise ValueError(f"n_steps must be an integer ≥ 0, got {n_steps!r}")
    check_count(n_steps, "n_steps", 0)  # within int64, as every count
    tv = check_time_varying(time_varying)
    fitted_tv = tv & set(fit)
    if fitted_tv:
        raise ValueError(f"time_varying names fitted parameters {sorted(fitted_tv)}: a fitted parameter is one matrix "
                         f"for all steps; fit=(...) without them, or give them without a time axis")
    for fitted, noise in (("F", "Q"), ("H", "R")):
        if fitted in fit and noise in tv:
            # Σ_t Q_t⁻¹(E[x_{t+1}x_tᵀ] − F E[x_t x_tᵀ]) = 0 has no closed form F when Q_t varies (R_t, H alike)
            raise ValueError(f"fitting {fitted} needs a constant {noise}; {noise!r} is in time_varying")
    mod = check_model(y, F0, Q0, H0, R0, m00, P00, transition_offsets, observation_offsets, tv,
                       names=("F0", "Q0", "H0", "R0", "m00", "P00"))
    observed = np.ones(mod.y.shape, dtype=bool) if mod.observed is None else mod.observed
    T, D, O = mod.T, mod.D, mod.O
    if T < 2 and {"F", "Q"} & set(fit):
        raise ValueError(f"fitting F or Q needs y with T ≥ 2 steps, got T = {T}")
    batch = mod.batch
    params = {"F": mod.F, "Q": mod.Q, "H": mod.H, "R": mod.R, "m0": mod.m0, "P0": mod.P0}
    trailing = {"F": (D, D), "Q": (D, D), "H": (O, D), "R": (O, O), "m0": (D,), "P0": (D, D)}
    # a time-varying (so fixed) parameter is returned as given, its history a read-only broadcast
    given = {"F": F0, "Q": Q0, "H": H0, "R": R0}
    fixed_tv = {k: np.array(given[k], dtype=float) for k in tv & set(given)}
    history = {k: np.empty((n_steps + 1,) + batch + trailing[k]) for k in _EM_PARAMETERS if k not in fixed_tv}
    history.update({k: np.broadcast_to(v, (n_steps + 1,) + v.shape) for k, v in fixed_tv.items()})
    loglik = np.empty((n_steps + 1,) + batch)
    observed_rows = observed.all(axis=-1)                                   # (T, *ybatch)
    w = np.broadcast_to(observed_rows, (T,) + batch).astype(float)          # weights of H, R sums
    # y − d on the observed rows, 0 elsewhere (time-major)
    d = 0.0 if mod.d is None else mod.d
    resid = np.where(np.broadcast_to(observed_rows[..., None], (T,) + batch + (O,)), mod.y - d, 0.0)
    b = None if mod.b is None else np.broadcast_to(mod.b, (T - 1,) + batch + (D,)) \
        if "transition_offsets" in tv else np.broadcast_to(mod.b, batch + (D,))
    # partly observed rows: their missing components are completed in expectation in the M-step
    partial = np.broadcast_to(observed.any(axis=-1) & ~observed_rows, (T,) + batch)
    partial_rows = None
    if {"H", "R"} & set(fit) and partial.any():
        partial_rows = (np.argwhere(partial), np.broadcast_to(observed, (T,) + batch + (O,)),
                        np.broadcast_to(mod.y - d, (T,) + batch + (O,)))
    n_obs = w.sum(axis=0) + partial.sum(axis=0)
    if {"H", "R"} & set(fit) and np.any(n_obs == 0):
        raise ValueError("y has a series with no observed row; H and R cannot be fitted from it")
    for k in range(n_steps + 1):
        for name in _EM_PARAMETERS:
            if name not in fixed_tv:
                history[name][k] = params[name]
        step = Model(y=mod.y, observed=mod.observed, F=params["F"], Q=params["Q"], H=params["H"], R=params["R"],
                      m0=params["m0"], P0=params["P0"], b=mod.b, d=mod.d, tv=tv, T=T, D=D, O=O,
                      batch=batch, cov_batch=cov_batch(mod.observed, params["F"], params["Q"], params["H"],
                                                        params["R"], params["P0"], tv))
        with np.errstate(over="ignore", invalid="ignore"), failure_is_error(f"{INNOVATIONS}, EM iteration {k}"):
            m_f, P_f, ll = filter_time_major(step)
        if not (np.all(np.isfinite(ll)) and np.all(np.isfinite(m_f)) and np.all(np.isfinite(P_f))):
            raise _overflow(params, mod.y, k)
        loglik[k] = ll
        if k == n_steps:
            break
        ms, Ps, cross = smooth_time_major(m_f, P_f, step.F, step.Q, step.b, tv, True)
        params = _m_step(params, fit, ms, Ps, cross, resid, w, n_obs, b, batch, T, tv, partial_rows)
        _check_fitted_covariances(params, fit, k + 1)
    params.update(fixed_tv)
    params, history, loglik = ({k: as_dtype(np, dtype, v) for k, v in params.items()},
                               {k: as_dtype(np, dtype, v) for k, v in history.items()}, as_dtype(np, dtype, loglik))
    return KalmanEMResult(F=params["F"], Q=params["Q"], H=params["H"], R=params["R"], m0=params["m0"],
                          P0=params["P0"], F_history=history["F"], Q_history=history["Q"], H_history=history["H"],
                          R_history=history["R"], m0_history=history["m0"], P0_history=history["P0"],
                          log_likelihood=loglik)


def _overflow(params, y, k: int) -> ValueError:
    """The error for a filter pass of EM iteration ``k`` that overflowed float64, naming the largest scales."""
    scales = {("y" if n == "y" else f"{n}0" if k == 0 else n): float(np.max(np.abs(np.nan_to_num(v, nan=0.0))))
              for n, v in (("y", y), *params.items()) if np.size(v)}
    worst = ", ".join(f"|{n}| up to {v:.3g}" for n, v in sorted(scales.items(), key=lambda kv: -kv[1])[:3])
    return ValueError(f"kalman_em: the filter overflowed float64 at iteration {k} ({worst}): rescale y and the "
                      "model so that the covariances H P Hᵀ + R stay below about 1e150")


def _check_fitted_covariances(params, fit, k: int) -> None:
    """Each fitted covariance (Q, R, P0) still positive definite after EM iteration ``k``, or ``ValueError``
    naming it and the iteration: a covariance the data determine exactly (two identical sensors: R has a zero
    eigenvalue) is a legitimate end of EM, not a failure of the filter that would next solve with it."""
    for name in ("Q", "R", "P0"):
        if name in fit and not cholesky_succeeds(params[name]):
            raise ValueError(f"kalman_em: the fitted {name} became singular (not positive definite) at iteration "
                             f"{k}: the data determine it exactly (for example two identical sensors leave R a zero "
                             f"eigenvalue); keep {name} fixed (leave it out of fit) or add noise to the data")


def _m_step(params, fit, ms, Ps, cross, resid, w, n_obs, b, batch, T, tv, partial_rows=None):
    """The closed-form M-step of :func:`kalman_em` (time-major inputs, sums over axis 0; a
    time-varying F or H is time-major too, and only used, never fitted). ``partial_rows``: the
    (t, *batch index) of rows with some components missing, the observed mask and y − d."""
    new = dict(params)
    Ps = np.broadcast_to(pad_time_major(Ps, len(batch), 2), ms.shape[:1] + batch + Ps.shape[-2:])
    cross = np.broadcast_to(pad_time_major(cross, len(batch), 2), (T - 1,) + batch + Ps.shape[-2:])

    def outer_sum(a, c, weight=None):
        # Σ_t weight_t a_t c_tᵀ over the time axis
        if weight is not None:
            a = a * weight[..., None]
        return np.einsum("t...i,t...j->...ij", a, c)

    def tr(a):
        return np.swapaxes(a, -1, -2)

    def sym(a):
        return 0.5 * (a + tr(a))

    def apply(M, name, x):
        # M_t x_t for every t (M time-varying) or M x_t
        return np.einsum("t...ij,t...j->t...i" if name in tv else "...ij,t...j->t...i", M, x)

    def sandwich_sum(M, name, S, weight=None):
        # Σ_t weight_t M_t S_t M_tᵀ
        if name in tv:
            terms = M @ S @ tr(M)
            if weight is not None:
                terms = terms * weight[..., None, None]
            return terms.sum(axis=0)
        S = S.sum(axis=0) if weight is None else np.einsum("t...,t...ij->...ij", weight, S)
        return M @ S @ tr(M)

    if "H" in fit or "R" in fit:
        # Σ_O E[x_t x_tᵀ] = Σ_O P^s_t + m^s_t m^s_tᵀ
        Exx_obs = np.einsum("t...,t...ij->...ij", w, Ps) + outer_sum(ms, ms, w)
        Syx = outer_sum(resid, ms)
        partial = None if partial_rows is None else _partial_row_moments(partial_rows, params, ms, Ps, batch, tv)
        if partial is not None:
            # the partly observed rows, completed: E[(y_t − d_t) x_tᵀ] and E[x_t x_tᵀ]
            for idx, Exx, Eyx, _, _ in partial:
                Exx_obs[idx[1:]] += Exx
                Syx[idx[1:]] += Eyx
    if "H" in fit:
        # H = (Σ_O E[(y_t − d_t) x_tᵀ])(Σ_O E[x_t x_tᵀ])⁻¹  (the residual is 0 off the observed rows)
        new["H"] = tr(np.linalg.solve(Exx_obs, tr(Syx)))
    if "R" in fit:
        H = new["H"]
        # e_t = y_t − d_t − H m^s_t on the observed rows
        e = resid - apply(H, "H", ms) * w[..., None]
        # R = (Σ_O e_t e_tᵀ + H P^s_t Hᵀ) / |O|
        S = outer_sum(e, e) + sandwich_sum(H, "H", Ps, w)
        if partial is not None:
            H_new = np.broadcast_to(H, batch + H.shape[-2:])
            for idx, Exx, _, Err, Erx in partial:
                # E[(r + Δx)(r + Δx)ᵀ], r = y − d − H_old x, Δ = H_old − H_new
                delta = _at_row(params["H"], "H", idx, batch, tv) - H_new[idx[1:]]
                S[idx[1:]] += Err + Erx @ delta.T + delta @ Erx.T + delta @ Exx @ delta.T
        new["R"] = sym(S / n_obs[..., None, None])
    if "F" in fit or "Q" in fit:
        m_now, m_next = ms[:-1], ms[1:]
        # S00 = Σ E[x_t x_tᵀ], S10 = Σ E[x_{t+1} x_tᵀ] − b_t m^s_tᵀ over the transitions
        S00 = Ps[:-1].sum(axis=0) + outer_sum(m_now, m_now)
        S10 = cross.sum(axis=0) + outer_sum(m_next, m_now)
        if b is not None:
            S10 = S10 - (outer_sum(np.broadcast_to(b, m_now.shape), m_now) if b.ndim == m_now.ndim
                         else b[..., :, None] * m_now.sum(axis=0)[..., None, :])
    if "F" in fit:
        # F = S10 S00⁻¹
        new["F"] = tr(np.linalg.solve(S00, tr(S10)))
    if "Q" in fit:
        F = new["F"]
        # e_t = m^s_{t+1} − F m^s_t − b_t
        e = m_next - apply(F, "F", m_now)
        if b is not None:
            e = e - b
        # Σ C_t F_tᵀ
        CF = (cross @ tr(F)).sum(axis=0) if "F" in tv else cross.sum(axis=0) @ tr(F)
        # Q = (Σ e eᵀ + F P^s_t Fᵀ + P^s_{t+1} − C_t Fᵀ − F C_tᵀ) / (T − 1)
        S = outer_sum(e, e) + sandwich_sum(F, "F", Ps[:-1]) + Ps[1:].sum(axis=0) - CF - tr(CF)
        new["Q"] = sym(S / (T - 1))
    if "m0" in fit:
        # m0 = m^s_0
        new["m0"] = ms[0].copy()
    if "P0" in fit:
        # P0 = P^s_0 + (m^s_0 − m0)(m^s_0 − m0)ᵀ
        dm = ms[0] - new["m0"]
        new["P0"] = sym(Ps[0] + dm[..., :, None] * dm[..., None, :])
    return {k: np.array(np.broadcast_to(v, batch + v.shape[v.ndim - (1 if k == "m0" else 2):]))
            if k in fit else v for k, v in new.items()}


def _at_row(a, name, idx, batch, tv):
    """The matrix of one row (t, *batch index) of a time-major argument."""
    a = a[idx[0]] if name in tv else a
    return np.broadcast_to(a, batch + a.shape[-2:])[tuple(idx[1:])]


def _partial_row_moments(partial_rows, params, ms, Ps, batch, tv):
    r"""The E-step moments of the rows with some components missing, completed in expectation.

    Under the current :math:`H, R` and given the observed components, the residual
    :math:`r = y - d - Hx` is :math:`J r_o + (0, u)`: :math:`J` stacks the identity on the observed
    components and :math:`R_{mo}R_{oo}^{-1}` on the missing ones, :math:`u \sim \mathcal N(0, R_{mm} -
    R_{mo}R_{oo}^{-1}R_{om})` independent. With :math:`x \sim \mathcal N(m^s_t, P^s_t)`:
    :math:`E[r x^	op] = J((y_o - d_o) m^{s	op}_t - H_o E[xx^	op])`,
    :math:`E[rr^	op] = J((y_o - d_o - H_o m^s_t)(\cdot)^	op + H_o P^s_t H_o^	op)J^	op + (0, \mathrm{Var}\,u)`,
    :math:`E[(y - d)x^	op] = E[rx^	op] + H E[xx^	op]`. Returns, per row, (index, E[xxᵀ],
    E[(y − d)xᵀ], E[rrᵀ], E[rxᵀ]); a Python loop over those rows.
    """
    rows, observed, y_d = partial_rows
    R_all = np.broadcast_to(params["R"], batch + params["R"].shape[-2:])
    out = []
    for idx in map(tuple, rows):
        o = observed[idx]
        mi = ~o
        x, P = ms[idx], Ps[idx]
        Exx = P + np.outer(x, x)
        H = _at_row(params["H"], "H", idx, batch, tv)
        R = R_all[idx[1:]]
        O = len(o)
        J = np.zeros((O, int(o.sum())))
        J[o] = np.eye(int(o.sum()))
        # R_mo R_oo⁻¹
        J[mi] = np.linalg.solve(R[np.ix_(o, o)], R[np.ix_(o, mi)]).T
        yo, Ho = y_d[idx][o], H[o]
        Erx = J @ (np.outer(yo, x) - Ho @ Exx)
        ro = yo - Ho @ x
        Err = J @ (np.outer(ro, ro) + Ho @ P @ Ho.T) @ J.T
        # Var u = R_mm − R_mo R_oo⁻¹ R_om
        Err[np.ix_(mi, mi)] += R[np.ix_(mi, mi)] - J[mi] @ R[np.ix_(o, mi)]
        out.append((idx, Exx, Erx + H @ Exx, Err, Erx))
    return out
