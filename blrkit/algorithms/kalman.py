r"""The Kalman filter, RTS smoother and EM for state-space models, derived from the Bayesian learning rule.

A linear-Gaussian state-space model: prior :math:`x_0 \sim \mathcal N(m_0, P_0)`, dynamics
:math:`x_{t+1} = F_t x_t + b_t + w_t,\ w_t \sim \mathcal N(0, Q_t)` and observations
:math:`y_t = H_t x_t + d_t + v_t,\ v_t \sim \mathcal N(0, R_t)`, for :math:`t = 0, \dots, T-1`; the
offsets :math:`b_t` (a control input :math:`B u_t` is one) and :math:`d_t` and the matrices may change
with :math:`t`. Filtering is Bayes' rule once per observation: the predicted marginal
:math:`\mathcal N(\hat m_t, \hat P_t)` is the prior, the loss :math:`\tfrac12\|y_t - d_t - H_t x\|^2_{R_t^{-1}}`
is quadratic, so one BLR step with ρ = 1 and a full Gaussian candidate gives the exact posterior
(conjugacy; Khan & Rue 2023, Sec. 5.1). In natural parameters it is the information filter; the
Woodbury identity turns it into the gain form that the emitted step
:func:`~blrkit.algorithms._generated.kalman_update.kalman_update` computes, the observation offset
:math:`d_t` entering through the loss's residual :math:`y_t - d_t - H_t\bar m` (derived, not added here).
The prediction :math:`\hat m_{t+1} = F_t m_t + b_t,\ \hat P_{t+1} = F_t P_t F_t^\top + Q_t` is Gaussian
marginalisation, not a BLR step, and is written here in the driver, as is the RTS smoother (the
classical backward pass; its result equals one ρ = 1 BLR step on the joint Gaussian of the whole
trajectory). :func:`kalman_em` fits the model's parameters by expectation–maximisation, the BLR's
EM row (Khan & Rue 2023, Sec. 5.2) with the smoother as the E-step.

Missing data. A NaN (or a masked entry of a :class:`numpy.ma.MaskedArray`) in ``y`` is a missing
component; the update of that step uses the observed components only (the observed rows of
:math:`y_t, d_t, H_t` and the observed block of :math:`R_t`); a step with nothing observed is a
prediction only.

Speed without approximation. With one model for every series (no batch axes on
:math:`F, Q, H, R, P_0`) and the same missing components in every series, the covariance
recursion does not depend on the data and is shared by all series. A small batch (at most
``_SCAN_MAX_BATCH_ELEMENTS`` series × D) calls the emitted update on its means; for a larger one the
emitted update is evaluated once per step on the shared covariance and on unit inputs, which gives
the affine map :math:`(\hat m_t, y_t, d_t) \mapsto (m_t, v_t)` it computes, and that map is applied to
the whole batch as matrix products. Where the matrices are also constant in time and the predicted
covariance stops changing (to a relative 1e-15, :data:`STEADY_RTOL`) with no missing component
ahead, the map is reused; for a small batch the mean recursion
:math:`\hat m_{t+1} = A \hat m_t + F K (y_t - d_t) + b_t`,
:math:`A = F(I - KH)`, is then an affine recursion solved by a prefix (associative) scan in
:math:`O(\log T)` NumPy passes and the emitted update is applied to all remaining steps at once (in
chunks, so temporaries stay small). When the missing components repeat with a period p (every
10th reading lost, say), the covariance recursion becomes periodic: once :math:`\hat P_t` equals
:math:`\hat P_{t-p}` (to STEADY_RTOL) the maps of the previous period are reused. Otherwise (one
model per series, or different missing components) the loop runs over time with every operation
vectorised over the batch. The smoother likewise runs with a constant gain where the filtered
covariances are steady (a backward prefix scan for a small batch). Buffers are
time-major; the returned arrays are views with the documented axis order, and covariances shared
by all series are returned as a read-only broadcast view of one ``(T, D, D)`` array.

Other array libraries. Given the arrays of another Array API library (PyTorch, JAX, CuPy,
array-api-strict; :mod:`blrkit._array_api`), :func:`kalman_filter` and :func:`rts_smoother` compute
in its namespace, on its device, and return its arrays: the plain loop over time of the prediction
and the emitted update, vectorised over the series, the log-likelihood by Cholesky, and missing
components (NaN) dropped as above; none of the shortcuts of the NumPy path (the two agree to
rounding). :func:`kalman_em` runs on NumPy arrays only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from blrkit._array_api import array_library, array_namespace, device, to_numpy
from blrkit._validation import as_float_array, check_count, cholesky_succeeds, reject_complex
from blrkit.algorithms import _dask
from blrkit.algorithms._dask import is_dask_array
from blrkit.algorithms._generated.kalman_update import kalman_update
from blrkit.algorithms.results import KalmanEMResult, KalmanFilterResult, KalmanSmootherResult

__all__ = ["kalman_em", "kalman_filter", "kalman_smoother", "rts_smoother"]

#: The predicted covariance is steady when max|P̂_t − P̂_{t−1}| ≤ STEADY_RTOL · max|P̂_t|: a few ulps.
STEADY_RTOL = 1e-15

#: The arguments that may carry a time axis, in the order of the signature.
TIME_VARYING_ARGUMENTS = ("F", "Q", "H", "R", "transition_offsets", "observation_offsets")

_LOG_2PI = float(np.log(2 * np.pi))

#: Temporaries of the vectorised passes are bounded by this many floats (chunks over time).
_CHUNK_ELEMENTS = 1 << 14

#: In a steady segment the prefix scan is used while (series × D) stays below this; above it, the
#: time loop is already vectorised over enough series and a scan's O(T log T) work would cost more.
_SCAN_MAX_BATCH_ELEMENTS = 256

#: The longest period of a repeating missing-data pattern recognised by the periodic steady state.
_RING = 64

#: The model's short names of the offsets and their argument names.
_TV_NAME = {"b": "transition_offsets", "d": "observation_offsets"}


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
    if is_dask_array(y):
        return _dask.kalman_filter(y, F, Q, H, R, m0, P0, transition_offsets=transition_offsets,
                                   observation_offsets=observation_offsets, time_varying=time_varying)
    xp = array_namespace(y=y, F=F, Q=Q, H=H, R=R, m0=m0, P0=P0, transition_offsets=transition_offsets,
                         observation_offsets=observation_offsets)
    if xp is not np:
        y, F, Q, H, R, m0, P0, transition_offsets, observation_offsets = _in_namespace(
            xp, y=y, F=F, Q=Q, H=H, R=R, m0=m0, P0=P0, transition_offsets=transition_offsets,
            observation_offsets=observation_offsets).values()
    mod = _check_model(y, F, Q, H, R, m0, P0, transition_offsets, observation_offsets, time_varying)
    # NumPy: the optimised recursion (steady state, scans, time-major buffers); any other library:
    # the plain loop over time in its own namespace
    means, covs, loglik = _filter(mod) if xp is np else _filter_plain(mod, xp)
    _check_overflow(xp, "filter", means, covs, loglik)
    return KalmanFilterResult(means=_batch_major(means, mod.batch, 1), covariances=_batch_major(covs, mod.batch, 2),
                              log_likelihood=loglik)


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
    means, covs = filter_result.means, filter_result.covariances
    if is_dask_array(means) or is_dask_array(covs):
        return _dask.rts_smoother(filter_result, F, Q, transition_offsets=transition_offsets,
                                  time_varying=time_varying, cross_covariances=cross_covariances)
    xp = array_namespace(F=F, Q=Q, transition_offsets=transition_offsets, means=means, covariances=covs)
    if xp is not np:
        F, Q, transition_offsets, means, covs = _in_namespace(xp, F=F, Q=Q, transition_offsets=transition_offsets,
                                                              means=means, covariances=covs).values()
    T, D = means.shape[-2:]
    batch = tuple(means.shape[:-2])
    F, Q, b, tv = _check_smoother_model(T, D, batch, F, Q, transition_offsets, time_varying)
    if xp is not np:
        # any other library: the plain backward loop in its own namespace
        ms, Ps, cross = _smooth_plain(xp, xp.moveaxis(means, -2, 0), xp.moveaxis(covs, -3, 0), F, Q, b, tv,
                                      cross_covariances)
        _check_overflow(xp, "smoother", ms, Ps, *(() if cross is None else (cross,)))
        return KalmanSmootherResult(means=_batch_major(ms, batch, 1), covariances=_batch_major(Ps, batch, 2),
                                    cross_covariances=None if cross is None else _batch_major(cross, batch, 2))
    # time-major views; covariances shared by every series (a broadcast view) stay shared
    m_f = np.moveaxis(means, -2, 0)
    P_f = np.moveaxis(_unbroadcast(covs, len(batch)), -3, 0)
    if all(n == 1 for n in P_f.shape[1:-2]):
        P_f = P_f.reshape(P_f.shape[:1] + P_f.shape[-2:])       # one covariance sequence for all series
    ms, Ps, cross = _smooth(m_f, P_f, F, Q, b, tv, cross_covariances)
    _check_overflow(np, "smoother", ms, Ps, *(() if cross is None else (cross,)))
    return KalmanSmootherResult(means=_batch_major(ms, batch, 1), covariances=_batch_major(Ps, batch, 2),
                                cross_covariances=None if cross is None else _batch_major(cross, batch, 2))


def _check_overflow(xp, what: str, *arrays) -> None:
    """Every output of the filter or smoother finite (the inputs were): else the model's scale overflowed float64
    (F P Fᵀ, H P Hᵀ of entries beyond ~1e154): ``ValueError`` saying so, not NaN. One pass over the outputs."""
    if not all(bool(xp.all(xp.isfinite(a))) for a in arrays):
        raise ValueError(f"the Kalman {what} overflowed (a mean, covariance or log-likelihood is not finite): the "
                         "model's scale (F, Q, H, R, P0 or y, beyond ~1e154 where their products overflow float64) "
                         "is too large; rescale the model")


def _check_smoother_model(T, D, batch, F, Q, transition_offsets, time_varying):
    """The smoother's model, validated against filtered means of shape ``(*batch, T, D)``: ``F, Q, b``
    (time-major where time-varying, with ``len(batch)`` batch axes) and the set of time-varying names."""
    tv = _check_time_varying(time_varying, allowed=("F", "Q", "transition_offsets"))
    F, Fb = _check_array(F, "F", (D, D), T - 1, tv, batch, "T − 1")
    Q, Qb = _check_array(Q, "Q", (D, D), T - 1, tv, batch, "T − 1", spd=True)
    b, bb = (None, ()) if transition_offsets is None else _check_array(
        transition_offsets, "transition_offsets", (D,), T - 1, tv, batch, "T − 1")
    for name, shape in (("F", Fb), ("Q", Qb), ("transition_offsets", bb)):
        if _widens(shape, batch):
            raise ValueError(f"{name} has batch shape {shape}, incompatible with the filtered means' batch shape "
                             f"{batch}")
    nb = len(batch)
    F, Q = (_pad_time_major(a, nb, 2) if n in tv else a for n, a in (("F", F), ("Q", Q)))
    if b is not None and "transition_offsets" in tv:
        b = _pad_time_major(b, nb, 1)
    return F, Q, b, tv


#: The same function under the name used by pykalman's ``KalmanFilter.smooth``'s users.
kalman_smoother = rts_smoother


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
    if is_dask_array(y):
        raise TypeError("kalman_em runs on NumPy arrays, and y is a Dask array: pass y.compute(), or fit each chunk "
                        "of series on its own")
    named = dict(y=y, F0=F0, Q0=Q0, H0=H0, R0=R0, m00=m00, P00=P00, transition_offsets=transition_offsets,
                 observation_offsets=observation_offsets)
    if array_namespace(**named) is not np:
        name, lib = next((n, array_library(v)) for n, v in named.items() if array_library(v) not in (None, "numpy"))
        raise TypeError(f"kalman_em runs on NumPy arrays; {name} is a {lib} array: convert it with np.asarray({name})")
    if isinstance(fit, str):
        fit = (fit,)
    fit = tuple(fit)
    unknown = set(fit) - set(_EM_PARAMETERS)
    if unknown:
        raise ValueError(f"fit names parameters among {_EM_PARAMETERS}; got {sorted(unknown)}")
    if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 0:
        raise ValueError(f"n_steps must be an integer ≥ 0, got {n_steps!r}")
    check_count(n_steps, "n_steps", 0)  # within int64, as every count
    tv = _check_time_varying(time_varying)
    fitted_tv = tv & set(fit)
    if fitted_tv:
        raise ValueError(f"time_varying names fitted parameters {sorted(fitted_tv)}: a fitted parameter is one matrix "
                         f"for all steps; fit=(...) without them, or give them without a time axis")
    for fitted, noise in (("F", "Q"), ("H", "R")):
        if fitted in fit and noise in tv:
            # Σ_t Q_t⁻¹(E[x_{t+1}x_tᵀ] − F E[x_t x_tᵀ]) = 0 has no closed form F when Q_t varies (R_t, H alike)
            raise ValueError(f"fitting {fitted} needs a constant {noise}; {noise!r} is in time_varying")
    mod = _check_model(y, F0, Q0, H0, R0, m00, P00, transition_offsets, observation_offsets, tv,
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
        step = _Model(y=mod.y, observed=mod.observed, F=params["F"], Q=params["Q"], H=params["H"], R=params["R"],
                      m0=params["m0"], P0=params["P0"], b=mod.b, d=mod.d, tv=tv, T=T, D=D, O=O,
                      batch=batch, cov_batch=_cov_batch(mod.observed, params["F"], params["Q"], params["H"],
                                                        params["R"], params["P0"], tv))
        m_f, P_f, ll = _filter(step)
        loglik[k] = ll
        if k == n_steps:
            break
        ms, Ps, cross = _smooth(m_f, P_f, step.F, step.Q, step.b, tv, True)
        params = _m_step(params, fit, ms, Ps, cross, resid, w, n_obs, b, batch, T, tv, partial_rows)
        _check_fitted_covariances(params, fit, k + 1)
    params.update(fixed_tv)
    return KalmanEMResult(F=params["F"], Q=params["Q"], H=params["H"], R=params["R"], m0=params["m0"],
                          P0=params["P0"], F_history=history["F"], Q_history=history["Q"], H_history=history["H"],
                          R_history=history["R"], m0_history=history["m0"], P0_history=history["P0"],
                          log_likelihood=loglik)


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
    Ps = np.broadcast_to(_pad_time_major(Ps, len(batch), 2), ms.shape[:1] + batch + Ps.shape[-2:])
    cross = np.broadcast_to(_pad_time_major(cross, len(batch), 2), (T - 1,) + batch + Ps.shape[-2:])

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


# --------------------------------------------------------------------------------------------
# checks


@dataclass(frozen=True)
class _Model:
    """The validated model, time-major: ``y`` and ``observed`` ``(T, *ybatch, O)`` (``observed`` None
    when nothing is missing); a time-varying argument has its time axis first."""

    y: np.ndarray
    observed: np.ndarray | None
    F: np.ndarray
    Q: np.ndarray
    H: np.ndarray
    R: np.ndarray
    m0: np.ndarray
    P0: np.ndarray
    b: np.ndarray | None
    d: np.ndarray | None
    tv: frozenset
    T: int
    D: int
    O: int
    batch: tuple
    cov_batch: tuple

    def at(self, name, t):
        """The argument ``name`` at time ``t`` (itself when not time-varying)."""
        a = getattr(self, name)
        return a[t, ...] if _TV_NAME.get(name, name) in self.tv else a


def _in_namespace(xp, **named):
    """The arguments ``named``, with lists and Python numbers given beside another library's arrays
    turned into that library's float64 arrays (on their device); arrays and None unchanged."""
    like = next(v for v in named.values() if array_library(v) not in (None, "numpy"))
    out = {}
    for name, v in named.items():
        if v is not None and array_library(v) is None:
            try:
                v = xp.asarray(v, dtype=xp.float64, device=device(like))
            except (TypeError, ValueError):
                raise TypeError(f"{name} must be an array of real numbers, got {type(v).__name__}") from None
        out[name] = v
    return out


def _check_time_varying(time_varying, allowed=TIME_VARYING_ARGUMENTS):
    if isinstance(time_varying, str):
        time_varying = (time_varying,)
    tv = frozenset(time_varying)
    unknown = tv - set(allowed)
    if unknown:
        raise ValueError(f"time_varying names arguments among {allowed}; got {sorted(unknown)}")
    return tv


def _widens(shape, batch):
    """Would broadcasting ``shape`` against ``batch`` change ``batch`` (or fail)?"""
    try:
        return np.broadcast_shapes(shape, batch) != tuple(batch)
    except ValueError:
        return True


def _check_spd_steps(a, name, tv, rtol=1e-10):
    """Symmetric positive definite in the last two axes; name the time step (axis 0 if ``tv``)."""
    if not isinstance(a, np.ndarray):
        # another library: checked in its namespace; a failure is located on a host copy, for the message
        xp = array_namespace(**{name: a})
        scale = max(float(xp.max(xp.abs(a))) if 0 not in a.shape else 0.0, 1.0)
        if not bool(xp.any(xp.abs(a - a.mT) > rtol * scale)) and cholesky_succeeds(a):
            return
        _check_spd_steps(to_numpy(a), name, tv, rtol)
        raise ValueError(f"{name} must be symmetric positive definite")  # NumPy accepted what the library refused
    scale = max(float(np.max(np.abs(a), initial=0.0)), 1.0)
    asym = (np.abs(a - np.swapaxes(a, -1, -2)) > rtol * scale).any(axis=(-1, -2))
    bad_what = "symmetric"
    bad = asym
    if not asym.any():
        try:
            np.linalg.cholesky(a)
            return
        except np.linalg.LinAlgError:
            bad_what = "symmetric positive definite"
            bad = np.zeros(a.shape[:-2], dtype=bool)
            for idx in np.ndindex(*a.shape[:-2]):
                try:
                    np.linalg.cholesky(a[idx])
                except np.linalg.LinAlgError:
                    bad[idx] = True
                    break
    idx = tuple(int(i) for i in np.argwhere(bad)[0]) if bad.ndim else ()
    where = ""
    if tv:
        where = f" (not at time step {idx[0]}" + (f", batch index {idx[1:]})" if idx[1:] else ")")
    elif idx:
        where = f" (not at batch index {idx})"
    raise ValueError(f"{name} must be {bad_what}{where}")


def _check_array(x, name, trailing, T_len, tv, ybatch, what, *, spd=False, public_name=None):
    """Validate an argument with ``trailing`` core axes; a time axis first if ``public_name`` is in ``tv``.

    Returns the (time-major) array and its batch shape.
    """
    key = public_name or name
    k = len(trailing)
    timed = key in tv
    a = as_float_array(x, name, min_ndim=k + timed)
    shape = tuple(a.shape)
    dims = ", ".join(map(str, trailing))
    if shape[a.ndim - k:] != trailing:
        form = f"(*batch, {T_len}, {dims})" if timed else f"(*batch, {dims})"
        raise ValueError(f"{name} must have shape {form}, got {shape}")
    if timed:
        if shape[-k - 1] != T_len:
            raise ValueError(f"{name} is declared time-varying: its axis {-k - 1} must have length {what} = {T_len} "
                             f"(from y), got {shape[-k - 1]} (shape {shape})")
        a = array_namespace(**{name: a}).moveaxis(a, -k - 1, 0)
        batch_shape = tuple(a.shape[1:a.ndim - k])
    else:
        batch_shape = shape[:a.ndim - k]
        if batch_shape and batch_shape[-1] == T_len and T_len > 1 and _widens(batch_shape, ybatch):
            raise ValueError(
                f"{name} has shape {shape}: its axis {-k - 1} has the length of a time axis ({what} = {T_len}) but {key!r} is not in "
                f"time_varying, and as a batch axis it does not match y's batch shape {tuple(ybatch)}; declare a time "
                f"axis with time_varying=(..., {key!r}), or give y the batch axis for a batch of models")
    if spd:
        _check_spd_steps(a, name, timed)
    return a, batch_shape


def _check_diverged(t: int, m_pred: np.ndarray, P_pred: np.ndarray, xp=np) -> None:
    """Raise ``ValueError`` if the prediction for step ``t`` overflowed: the model diverged."""
    if not (bool(xp.all(xp.isfinite(P_pred))) and bool(xp.all(xp.isfinite(m_pred)))):
        what = "covariance" if not bool(xp.all(xp.isfinite(P_pred))) else "mean"
        raise ValueError(f"the model diverged at step {t}: the predicted {what} overflowed (not finite); "
                         "F amplifies a direction of the state faster than H and R observe it")


def _observations(y):
    """``y`` time-major ``(T, *batch, O)`` with NaN for masked entries (not copied unless masked), and
    the mask of observed entries."""
    if y is None:
        raise TypeError("y is required: got None, expected an array of real numbers")
    reject_complex(y, "y")
    if np.ma.isMaskedArray(y):
        try:
            y = np.ma.filled(np.ma.asarray(y, dtype=float), np.nan)
        except (TypeError, ValueError):
            raise TypeError(f"y must be an array of real numbers, got {type(y).__name__}") from None
    xp = array_namespace(y=y)
    if xp is not np:
        # another library: a float64 copy in its namespace (inf refused there), NaN marking the missing entries
        a = xp.moveaxis(as_float_array(y, "y", allow_nan=True), -2, 0) if getattr(y, "ndim", 0) >= 2 else None
        if a is None:
            raise ValueError(f"y must have shape (*batch, T, O) (at least 2 dimensions), got shape "
                             f"{tuple(getattr(y, 'shape', ()))}")
        observed = ~xp.isnan(a)
        return a, (None if bool(xp.all(observed)) else observed)
    try:
        a = np.asarray(y, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"y must be an array of real numbers, got {type(y).__name__}") from None
    if a.ndim < 2:
        raise ValueError(f"y must have shape (*batch, T, O) (at least 2 dimensions), got shape {a.shape}")
    if np.isfinite(a).all():  # one pass in the common case: nothing missing
        return np.moveaxis(a, -2, 0), None
    if np.isinf(a).any():
        raise ValueError("y must not contain inf")
    observed = ~np.isnan(a)
    return np.moveaxis(a, -2, 0), np.moveaxis(observed, -2, 0)


def _cov_batch(observed, F, Q, H, R, P0, tv=frozenset()):
    """Batch shape of the covariances: the model's, and the series' own when their missing
    components differ."""
    shapes = [tuple(a.shape[(1 if n in tv else 0):a.ndim - 2]) for n, a in zip("FQHR", (F, Q, H, R))]
    cb = np.broadcast_shapes(*shapes, tuple(P0.shape[:-2]))
    if observed is None:
        return cb
    xp = array_namespace(observed=observed)
    flat = _series_flat(observed)
    if flat.shape[1] > 1 and not bool(xp.all(flat == flat[:, :1, :])):
        cb = np.broadcast_shapes(cb, tuple(observed.shape[1:-1]))
    return cb


def _series_flat(observed):
    """The observed mask ``(T, *batch, O)`` as ``(T, series, O)``."""
    T, O = observed.shape[0], observed.shape[-1]
    return array_namespace(observed=observed).reshape(observed, (T, -1, O))


def _check_model(y, F, Q, H, R, m0, P0, transition_offsets, observation_offsets, time_varying,
                 names=("F", "Q", "H", "R", "m0", "P0")):
    nF, nQ, nH, nR, nm0, nP0 = names
    tv = _check_time_varying(time_varying)
    m0 = as_float_array(m0, nm0, min_ndim=1)
    D = m0.shape[-1]
    # D is the length of m0; when F, Q and P0 all agree on another D, m0 is the odd one out: name it
    others = {_square_size(a) for a in (F, Q, P0)}
    if len(others) == 1 and None not in others and others != {D}:
        raise ValueError(f"{nm0} must have D = {others.pop()} states on its last axis, the size of {nF}, {nQ} and "
                         f"{nP0}, got shape {tuple(m0.shape)}")
    y, observed = _observations(y)
    T, O = y.shape[0], y.shape[-1]
    ybatch = tuple(y.shape[1:-1])
    if T == 0 or O == 0 or D == 0:
        raise ValueError(f"need T ≥ 1 observations of O ≥ 1 values and D ≥ 1 states; got y with T = {T}, O = {O}, "
                         f"and {nm0} {tuple(m0.shape)}")
    trans, obs = "T − 1", "T"
    F, Fb = _check_array(F, nF, (D, D), T - 1, tv, ybatch, trans, public_name="F")
    H, Hb = _check_array(H, nH, (O, D), T, tv, ybatch, obs, public_name="H")
    Q, Qb = _check_array(Q, nQ, (D, D), T - 1, tv, ybatch, trans, spd=True, public_name="Q")
    R, Rb = _check_array(R, nR, (O, O), T, tv, ybatch, obs, spd=True, public_name="R")
    P0 = as_float_array(P0, nP0, min_ndim=2)
    if tuple(P0.shape[-2:]) != (D, D):
        raise ValueError(f"{nP0} must have shape (*batch, {D}, {D}) like {nm0}, got {tuple(P0.shape)}")
    _check_spd_steps(P0, nP0, False)
    shapes = {"y": ybatch, nF: Fb, nQ: Qb, nH: Hb, nR: Rb, nm0: tuple(m0.shape[:-1]), nP0: tuple(P0.shape[:-2])}
    b = d = None
    if transition_offsets is not None:
        b, shapes["transition_offsets"] = _check_array(transition_offsets, "transition_offsets", (D,), T - 1, tv,
                                                       ybatch, trans)
    if observation_offsets is not None:
        d, shapes["observation_offsets"] = _check_array(observation_offsets, "observation_offsets", (O,), T, tv,
                                                        ybatch, obs)
    try:
        batch = np.broadcast_shapes(*shapes.values())
    except ValueError:
        raise ValueError(f"the batch shapes of the arguments do not broadcast: {shapes}") from None
    nb = len(batch)
    y = _pad_time_major(y, nb, 1)
    observed = None if observed is None else _pad_time_major(observed, nb, 1)
    F, Q, H, R = (_pad_time_major(a, nb, 2) if n in tv else a for n, a in zip("FQHR", (F, Q, H, R)))
    if b is not None and "transition_offsets" in tv:
        b = _pad_time_major(b, nb, 1)
    if d is not None and "observation_offsets" in tv:
        d = _pad_time_major(d, nb, 1)
    return _Model(y=y, observed=observed, F=F, Q=Q, H=H, R=R, m0=m0, P0=P0, b=b, d=d, tv=tv, T=T, D=D, O=O,
                  batch=batch, cov_batch=_cov_batch(observed, F, Q, H, R, P0, tv))


def _square_size(a):
    """The size D of ``a``'s trailing (D, D) matrices read from its shape alone (no conversion), or None."""
    try:
        shape = np.shape(a)
    except (TypeError, ValueError):  # ragged: its own check names it
        return None
    return shape[-1] if len(shape) >= 2 and shape[-1] == shape[-2] else None


def _batch_major(a, batch, core):
    """A time-major ``(T, *b, *core)`` buffer as the ``(*batch, T, *core)`` view the results promise
    (a read-only broadcast view where ``b`` is narrower than ``batch``)."""
    xp = array_namespace(a=a)
    v = xp.moveaxis(a, 0, -core - 1)
    if tuple(v.shape[:-core - 1]) != tuple(batch):
        v = xp.broadcast_to(v, tuple(batch) + tuple(v.shape[-core - 1:]))
    return v


def _unbroadcast(a, n_batch):
    """The stored array behind a broadcast view: batch axes of stride 0 reduced to length 1."""
    idx = tuple(slice(0, 1) if (s == 0 and n > 1) else slice(None) for s, n in zip(a.strides[:n_batch],
                                                                                   a.shape[:n_batch]))
    return a[idx]


def _pad_time_major(a, n_batch, core):
    """Give a time-major ``(T, *b, *core)`` array ``n_batch`` batch axes (length-1 axes after time),
    so that it right-aligns with the other arguments when broadcast."""
    own = a.ndim - 1 - core
    if own >= n_batch:
        return a
    return array_namespace(a=a).reshape(a, tuple(a.shape[:1]) + (1,) * (n_batch - own) + tuple(a.shape[1:]))


# --------------------------------------------------------------------------------------------
# the filter: one loop over time, vectorised over the batch


def _matvec(M, x):
    """:math:`M x` over leading axes; one matrix product when ``M`` is a single matrix."""
    if M.ndim == 2:
        return x @ M.T
    return (M @ x[..., None])[..., 0]


def _sym(a):
    return 0.5 * (a + a.mT)


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
        E = np.eye(D + 2 * O)
        # rows 0..D−1: m̂ = e_i; rows D..D+O−1: y = e_j; rows D+O..: d = e_k (the emitted BLR step)
        m, self.P, self.K, v, C = kalman_update(E[:, :D], P_pred, E[:, D:D + O], H, R, E[:, D + O:])
        L = np.linalg.cholesky(C)
        # log N(v; 0, C) = const − ½|z|², z = L⁻¹v, const = −½(log det C + O log 2π)
        LinvT = np.linalg.solve(L, np.eye(O)).T
        self.const = -0.5 * (2.0 * np.sum(np.log(np.diag(L))) + O * _LOG_2PI)
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


def _gaussian_logpdf(v, C, xp=np):
    """log N(v; 0, C) over leading axes, by Cholesky: −½ (vᵀC⁻¹v + log det C + O log 2π).

    One shared C (O, O) is factorised once and its triangular factor inverted (O × O), so that one
    matrix product serves every v. ``xp``: the namespace of ``v`` and ``C``.
    """
    L = xp.linalg.cholesky(C)
    O = v.shape[-1]
    # log det C = 2 Σ log L_ii
    logdet = 2.0 * xp.sum(xp.log(xp.linalg.diagonal(L)), axis=-1)
    if C.ndim == 2:
        # z = L⁻¹v for every v at once
        z = v @ xp.linalg.inv(L).T
    else:
        z = xp.linalg.solve(L, v[..., None])[..., 0]
    return -0.5 * (xp.sum(z * z, axis=-1) + logdet + O * _LOG_2PI)


def _batched_update(m_pred, P_pred, y_t, H, R, d, observed_t, mode):
    """The emitted update with per-series covariances; ``mode`` "all", an index array of the
    observed components (the same in every series), or "pad" (they differ between series)."""
    if mode is None:
        m, P, _, v, C = kalman_update(m_pred, P_pred, y_t, H, R, 0.0 if d is None else d)
        return m, P, _gaussian_logpdf(v, C)
    if mode != "pad":
        # the observed rows of y, d, H and the observed block of R
        idx = mode
        m, P, _, v, C = kalman_update(m_pred, P_pred, y_t[..., idx], H[..., idx, :], R[..., idx[:, None], idx],
                                      0.0 if d is None else d[..., idx])
        return m, P, _gaussian_logpdf(v, C)
    return _padded_update(m_pred, P_pred, y_t, H, R, d, observed_t)


def _padded_update(m_pred, P_pred, y_t, H, R, d, o, xp=np):
    """The emitted update on the observed components ``o`` (a mask ``(..., O)``, per series or shared)
    of ``y_t``: filtered mean, covariance and log-likelihood term; ``xp`` the arrays' namespace."""
    # Dropping the missing components of each series, vectorised: zero rows of y, d and H, and R
    # with an identity block there, uncoupled. The residual and the gain columns of those
    # components are then exactly 0 and C is block diagonal, so m, P equal the update on the
    # observed rows alone; the log-density of the unit block, −½ n_missing log 2π, is added back.
    missing = xp.astype(~o, xp.float64)
    y0 = xp.where(o, y_t, 0.0)
    d0 = 0.0 if d is None else xp.where(o, d, 0.0)
    Hp = xp.where(o[..., None], H, 0.0)
    Rp = xp.where(o[..., :, None] & o[..., None, :], R, 0.0) + missing[..., :, None] * xp.eye(
        o.shape[-1], dtype=xp.float64, device=device(R))
    m, P, _, v, C = kalman_update(m_pred, P_pred, y0, Hp, Rp, d0)
    return m, P, _gaussian_logpdf(v, C, xp) + 0.5 * xp.sum(missing, axis=-1) * _LOG_2PI


def _filter_plain(mod, xp):
    r"""The filter for arrays of another library than NumPy, in its namespace ``xp``: the plain loop
    over time of the prediction and the emitted update, vectorised over the series.

    Same outputs as :func:`_filter` (time-major), with none of its shortcuts (no steady state, no
    scans, no buffers written in place: the steps are stacked at the end). Which steps have missing
    components is read once, on the host, from the observed mask.
    """
    T, D, batch, cb = mod.T, mod.D, mod.batch, mod.cov_batch
    if mod.observed is None:
        complete, empty, o_shared = np.ones(T, dtype=bool), np.zeros(T, dtype=bool), None
    else:
        flat = _series_flat(mod.observed)
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
                P_pred = _sym(F_t @ P @ F_t.mT + mod.at("Q", t - 1))
            _check_diverged(t, m_pred, P_pred, xp)
        d_t = None if mod.d is None else mod.at("d", t)
        if empty[t]:
            # nothing observed: the prediction
            m, P = m_pred, P_pred
        elif complete[t]:
            # the emitted BLR step (ρ = 1)
            m, P, _, v, C = kalman_update(m_pred, P_pred, mod.y[t, ...], mod.at("H", t), mod.at("R", t),
                                          0.0 if d_t is None else d_t)
            loglik = loglik + _gaussian_logpdf(v, C, xp)
        else:
            o = mod.observed[t, ...] if o_shared is None else o_shared[t, ...]
            m, P, ll = _padded_update(m_pred, P_pred, mod.y[t, ...], mod.at("H", t), mod.at("R", t), d_t, o, xp)
            loglik = loglik + ll
        means.append(xp.broadcast_to(m, batch + (D,)))
        covs.append(xp.broadcast_to(P, cb + (D, D)))
    return xp.stack(means), xp.stack(covs), loglik


def _filter(mod):
    """Filtered means ``(T, *batch, D)``, covariances ``(T, *cov_batch, D, D)`` (time-major) and the
    log-likelihood ``(*batch,)``."""
    T, D, O = mod.T, mod.D, mod.O
    batch, cb = mod.batch, mod.cov_batch
    means = np.empty((T,) + batch + (D,))
    covs = np.empty((T,) + cb + (D, D))
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
    use_scan = int(np.prod(batch, dtype=int)) * D <= _SCAN_MAX_BATCH_ELEMENTS
    incomplete = np.flatnonzero(~complete)
    stable = None
    fixed, fixed_until, P_prev = None, 0, None
    # periodic steady state (missing components in a repeating pattern): with the period p the
    # spacing of the last two incomplete steps, once P̂_t equals P̂_{t−p} (to STEADY_RTOL) after p
    # steps whose patterns repeat, step t+1 reuses the map of step t+1−p, as long as they repeat
    codes = np.zeros(T, dtype=np.intp) if flat is None else \
        np.unique(flat[:, 0, :], axis=0, return_inverse=True)[1].reshape(T)
    ring_upd, ring_P = [None] * _RING, [None] * _RING
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
            m_pred = _matvec(F_t, m)
            if mod.b is not None:
                m_pred = m_pred + mod.at("b", t - 1)
            if cycling:
                P_pred = ring_P[(t - period) % _RING]
            elif fixed is None:
                with np.errstate(over="ignore", invalid="ignore"):  # an overflow is reported just below
                    P_pred = _sym(F_t @ P @ np.swapaxes(F_t, -1, -2) + mod.at("Q", t - 1))
                _check_diverged(t, m_pred, P_pred)
        d_t = None if mod.d is None else mod.at("d", t)
        upd = None
        if empty[t]:
            m, P = m_pred, P_pred
        elif shared:
            idx = None if complete[t] else np.flatnonzero(flat[t, 0])
            y_t = mod.y[t] if idx is None else mod.y[t][..., idx]
            if d_t is not None and idx is not None:
                d_t = d_t[..., idx]
            upd = fixed if fixed is not None else ring_upd[(t - period) % _RING] if cycling else None
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
                m, P, K, v, C = kalman_update(m_pred, P_pred, y_t, H_t, R_t, 0.0 if d_t is None else d_t)
                ll = _gaussian_logpdf(v, C)
            loglik += ll
        else:
            mode = None if complete[t] else (np.flatnonzero(flat[t, 0]) if same_pattern else "pad")
            m, P, ll = _batched_update(m_pred, P_pred, mod.y[t], mod.at("H", t), mod.at("R", t), d_t,
                                       None if mode is None else mod.observed[t], mode)
            loglik += ll
        means[t], covs[t] = m, P
        if steady_ok:
            ring_upd[t % _RING], ring_P[t % _RING] = upd, P_pred
            if not complete[t]:
                if last_incomplete >= 0 and t - last_incomplete != period:
                    period, run = t - last_incomplete, 0
                last_incomplete = t
            if period:
                run = run + 1 if t >= period and codes[t] == codes[t - period] else 0
            if (not cycling and fixed is None and 0 < period < _RING and run >= period
                    and np.max(np.abs(P_pred - ring_P[(t - period) % _RING])) <= STEADY_RTOL * np.max(np.abs(P_pred))):
                cycling = True
        # steady: the predicted covariance repeats (to STEADY_RTOL) with complete steps ahead
        if (steady_ok and not cycling and fixed is None and complete[t] and P_prev is not None and t < T - 2
                and np.max(np.abs(P_pred - P_prev)) <= STEADY_RTOL * np.max(np.abs(P_pred))):
            after = incomplete[np.searchsorted(incomplete, t + 1):]
            t_end = int(after[0]) if len(after) else T
            A = mod.F - mod.F @ K @ mod.H           # A = F(I − KH)
            if stable is None:
                # a scan forms powers of A: only when the recursion is stable, else keep stepping
                stable = bool(np.max(np.abs(np.linalg.eigvals(A))) < 1.0)
            if t_end - t > 2:
                if use_scan and stable:
                    _steady_scan(mod, t, t_end, K, A, m, P_pred, means, covs, loglik)
                    m, P, t, P_prev = means[t_end - 1], covs[t_end - 1], t_end, None
                    continue
                fixed = upd if upd is not None else _AffineUpdate(P_pred, mod.H, mod.R)
                fixed_until = t_end
        if fixed is None:
            P_prev = P_pred
        t += 1
    return means, covs, loglik


def _steady_scan(mod, t, t_end, K, A, m_t, P_pred, means, covs, loglik):
    r"""Fill steps t+1..t_end−1 (complete, constant model) once P̂ is steady at step t (in place).

    The predicted means obey :math:`\hat m_{t+1} = F m_t + b_t` and
    :math:`\hat m_{s+1} = A \hat m_s + F K (y_s - d_s) + b_s` with :math:`A = F(I - KH)`: write
    :math:`\hat m_{t+1}` and the inputs into the output and scan. Then the emitted update, with the
    steady :math:`\hat P` broadcast over time, gives the filtered means, the (constant) covariance and
    the innovations for the log-likelihood.
    """
    F, H, R = mod.F, mod.H, mod.R
    tail = means[t + 1:t_end]
    n = len(tail)
    step = max(1, _CHUNK_ELEMENTS // max(1, tail[0].size))

    def offsets(name, s0, s1):
        a = getattr(mod, name)
        if a is None:
            return None
        return a[s0:s1] if name in {"b", "d"} and _TV_NAME[name] in mod.tv else a

    tail[0] = m_t @ F.T
    if mod.b is not None:
        tail[0] += mod.at("b", t)
    FKt = (F @ K).T
    for j in range(1, n, step):
        s0, s1 = t + j, t + min(n, j + step)
        # inputs F K (y_s − d_s) + b_s for s = t+1 .. t_end−2
        u = mod.y[s0:s1]
        d = offsets("d", s0, s1)
        if d is not None:
            u = u - d
        tail[j:j + (s1 - s0)] = u @ FKt
        b = offsets("b", s0, s1)
        if b is not None:
            tail[j:j + (s1 - s0)] += b
    _affine_scan(A, tail)
    P = P_pred
    for j in range(0, n, step):
        s0, s1 = t + 1 + j, t + 1 + min(n, j + step)
        d = offsets("d", s0, s1)
        # the emitted BLR update on a chunk of steps at once
        m, P, _, v, C = kalman_update(tail[j:j + (s1 - s0)], P_pred, mod.y[s0:s1], H, R, 0.0 if d is None else d)
        tail[j:j + (s1 - s0)] = m
        loglik += _gaussian_logpdf(v, C).sum(axis=0)
    covs[t + 1:t_end] = P




def _affine_scan(A, x):
    r"""In place along axis 0: :math:`x_j \leftarrow \sum_{i \le j} A^{j-i} x_i`, i.e. the recursion
    :math:`x_j = A x_{j-1} + b_j` from the inputs :math:`b_j = x_j`.

    Hillis–Steele inclusive scan: after the pass with offset k, x_j sums the last 2k terms; each pass
    adds :math:`A^k x_{j-k}`, in chunks taken from the end backwards (so every read sees values not
    yet updated in this pass), each chunk one matrix product.
    """
    n = x.shape[0]
    step = max(1, _CHUNK_ELEMENTS // max(1, x[0].size))
    power, offset = A.T, 1
    while offset < n:
        for end in range(n, offset, -step):
            start = max(offset, end - step)
            # x_j += A^offset x_{j−offset}; the product is formed before the in-place add
            x[start:end] += x[start - offset:end - offset] @ power
        power = power @ power
        offset *= 2
    return x


# --------------------------------------------------------------------------------------------
# the smoother


def _smooth(m_f, P_f, F, Q, b, tv, want_cross):
    """RTS pass over time-major filtered marginals; returns means, covariances and (if asked) the
    lag-one cross-covariances Cov(x_{t+1}, x_t | y), all time-major."""
    T, D = m_f.shape[0], m_f.shape[-1]

    def at(a, name, t):
        return a[t] if name in tv else a

    def batch_of(a, name):
        return a.shape[1:-2] if name in tv else a.shape[:-2]

    cb = np.broadcast_shapes(P_f.shape[1:-2], batch_of(F, "F"), batch_of(Q, "Q"))
    ms = np.empty(m_f.shape)
    Ps = np.empty((T,) + cb + (D, D))
    cross = np.empty((max(T - 1, 0),) + cb + (D, D)) if want_cross else None
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
            _smooth_steady_run(m_f, P_f[t], F, Q, b, tv, r, t, ms, Ps, cross)
            t = r - 1
            continue
        F_t, m, P = at(F, "F", t), m_f[t], P_f[t]
        FP = F_t @ P
        # P̂_{t+1} = F_t P_t F_tᵀ + Q_t
        P_pred = FP @ np.swapaxes(F_t, -1, -2) + at(Q, "Q", t)
        # G_t = P_t F_tᵀ P̂_{t+1}⁻¹  (solve, using the symmetry of P_t and P̂_{t+1})
        G = np.swapaxes(np.linalg.solve(P_pred, FP), -1, -2)
        # m̂_{t+1} = F_t m_t + b_t
        m_pred = _matvec(F_t, m)
        if b is not None:
            m_pred = m_pred + at(b, "transition_offsets", t)
        # m^s_t = m_t + G_t (m^s_{t+1} − m̂_{t+1})
        ms[t] = m + _matvec(G, ms[t + 1] - m_pred)
        Gt = np.swapaxes(G, -1, -2)
        # P^s_t = P_t + G_t (P^s_{t+1} − P̂_{t+1}) G_tᵀ, symmetrised
        Ps[t] = _sym(P + G @ (Ps[t + 1] - P_pred) @ Gt)
        if want_cross:
            # Cov(x_{t+1}, x_t | y) = P^s_{t+1} G_tᵀ
            cross[t] = Ps[t + 1] @ Gt
        t -= 1
    return ms, Ps, cross


def _smooth_plain(xp, m_f, P_f, F, Q, b, tv, want_cross):
    """The RTS pass of :func:`_smooth` for arrays of another library than NumPy, in its namespace
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
        Ps.append(_sym(P + G @ (Ps[-1] - P_pred) @ G.mT))
    return (_stack_reversed(xp, ms), _stack_reversed(xp, Ps),
            _stack_reversed(xp, cross) if want_cross else None)


def _stack_reversed(xp, steps):
    """Steps collected backwards in time, stacked forwards along a new axis 0 (broadcast to one shape)."""
    shape = np.broadcast_shapes(*(tuple(a.shape) for a in steps))
    return xp.stack([xp.broadcast_to(a, shape) for a in reversed(steps)])


def _smooth_steady_run(m_f, P, F, Q, b, tv, r, t, ms, Ps, cross):
    r"""Steps t, t−1, …, r of the RTS pass where :math:`P_s = P` and :math:`F, Q` are constant (in place).

    :math:`G` and :math:`\hat P` are then constant; the covariance recursion is stepped until
    :math:`P^s` stops changing (to STEADY_RTOL), then repeated. The means obey the backward affine
    recursion :math:`m^s_s = c_s + G m^s_{s+1}`, :math:`c_s = m_s - G(F m_s + b_s)`: the inputs are
    written at once and, for a small batch with a stable :math:`G`, solved by the prefix scan on the
    time-reversed view; otherwise stepped with one matrix product per step.
    """
    D = P.shape[-1]
    FP = F @ P
    # P̂ = F P Fᵀ + Q, G = P Fᵀ P̂⁻¹
    P_pred = FP @ F.T + Q
    G = np.linalg.solve(P_pred, FP).T
    Gt = G.T
    for s in range(t, r - 1, -1):
        # P^s_s = P + G (P^s_{s+1} − P̂) Gᵀ, symmetrised
        Ps[s] = _sym(P + G @ (Ps[s + 1] - P_pred) @ Gt)
        if np.max(np.abs(Ps[s] - Ps[s + 1])) <= STEADY_RTOL * np.max(np.abs(Ps[s])):
            Ps[r:s] = Ps[s]
            break
    if cross is not None:
        # Cov(x_{s+1}, x_s | y) = P^s_{s+1} Gᵀ
        np.matmul(Ps[r + 1:t + 2], Gt, out=cross[r:t + 1])
    # c_s = m_s (I − G F)ᵀ − b_s Gᵀ, written into the output, in chunks
    W = (np.eye(D) - G @ F).T
    run = ms[r:t + 1]
    step = max(1, _CHUNK_ELEMENTS // max(1, run[0].size))
    for j in range(0, len(run), step):
        sl = slice(j, j + step)
        run[sl] = m_f[r + j:r + j + len(run[sl])] @ W
        if b is not None:
            run[sl] -= (b[r + j:r + j + len(run[sl])] if "transition_offsets" in tv else b) @ Gt
    rev = run[::-1]
    # m^s_t = c_t + G m^s_{t+1}
    rev[0] += ms[t + 1] @ Gt
    small = rev[0].size <= _SCAN_MAX_BATCH_ELEMENTS
    if small and np.max(np.abs(np.linalg.eigvals(G))) < 1.0:
        _affine_scan(G, rev)
    else:
        for j in range(1, len(rev)):
            # m^s_s = c_s + G m^s_{s+1}
            rev[j] += rev[j - 1] @ Gt
