"""blrkit.algorithms.kalman.filter (and the smoother beside it) against pykalman, filterpy and the joint-Gaussian posterior.

Mapping. blrkit's (F, Q, H, R, m0, P0) are pykalman's ``transition_matrices``,
``transition_covariance``, ``observation_matrices``, ``observation_covariance``,
``initial_state_mean``, ``initial_state_covariance``; both treat (m0, P0) as the prior of the
first observation, so the outputs compare index by index. pykalman marks missing rows with a
masked array (``np.ma.masked_invalid(y)``). filterpy's ``KalmanFilter`` has ``F, Q, H, R, x, P``
but predicts before each update: to match, set ``x = m0, P = P0`` and skip the first ``predict``;
a missing row is ``update(None)``; its log-likelihood is the sum of ``kf.log_likelihood`` over the
updates. filterpy's ``rts_smoother(Xs, Ps, Fs, Qs)`` takes the filtered means and covariances.
The joint-Gaussian oracle (:func:`blrkit.classical.kalman.joint_posterior`) conditions the prior of
the whole sequence on the observed rows, sharing no recursion with any filter.
"""

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from filterpy.kalman import KalmanFilter as FilterpyKF
from filterpy.kalman import rts_smoother as filterpy_rts
from pykalman import KalmanFilter as PykalmanKF

from algorithms.kalman.common import (
    ALL_TIME_VARYING,
    assert_fields_equal,
    assert_spd_everywhere,
    good_arguments,
    model_args,
    offsets_of,
    positional,
    pykalman_args,
    stored_nbytes,
    varying_model,
    with_missing,
)
from algorithms.tolerances import KALMAN, assert_close
from blrkit.algorithms import kalman_em, kalman_filter, kalman_smoother, rts_smoother
from blrkit.classical import kalman as textbook
from blrkit.classical.problems import random_spd, random_state_space_model


@pytest.mark.parametrize("missing", [[], [0, 7, 8, 30]])
@pytest.mark.parametrize("T", [40, 200])
def test_equals_pykalman(model, rng, missing, T):
    """Filter means/covariances/log-likelihood and smoother equal pykalman (KALMAN, 1e-8). T = 200
    exercises the steady-state + scan path for one series, T = 40 mostly the stepping loop."""
    y = with_missing(model.sample(rng, T), missing)
    pk = PykalmanKF(transition_matrices=model.F, observation_matrices=model.H, transition_covariance=model.Q,
                    observation_covariance=model.R, initial_state_mean=model.m0,
                    initial_state_covariance=model.P0)
    y_masked = np.ma.masked_invalid(y)
    filt = kalman_filter(y, *model_args(model))
    pm, pP = pk.filter(y_masked)
    assert_close(filt.means, pm, KALMAN)
    assert_close(filt.covariances, pP, KALMAN)
    assert_close(filt.log_likelihood, pk.loglikelihood(y_masked), KALMAN)
    sm, sP = pk.smooth(y_masked)
    smooth = rts_smoother(filt, model.F, model.Q)
    assert_close(smooth.means, sm, KALMAN)
    assert_close(smooth.covariances, sP, KALMAN)


@pytest.mark.parametrize("missing", [[], [3, 4, 150]])
def test_equals_filterpy(model, rng, missing):
    """Filter and smoother equal a filterpy predict/update loop and its rts_smoother (KALMAN)."""
    y = with_missing(model.sample(rng, 200), missing)
    kf = FilterpyKF(dim_x=model.F.shape[0], dim_z=model.H.shape[0])
    kf.F, kf.Q, kf.H, kf.R = model.F, model.Q, model.H, model.R
    kf.x, kf.P = model.m0.copy(), model.P0.copy()
    xs, Ps, ll = [], [], 0.0
    for t in range(len(y)):
        if t:
            kf.predict()
        if np.isnan(y[t]).all():
            kf.update(None)
        else:
            kf.update(y[t])
            ll += kf.log_likelihood
        xs.append(kf.x.copy())
        Ps.append(kf.P.copy())
    xs, Ps = np.array(xs), np.array(Ps)
    filt = kalman_filter(y, *model_args(model))
    assert_close(filt.means, xs, KALMAN)
    assert_close(filt.covariances, Ps, KALMAN)
    assert_close(filt.log_likelihood, ll, KALMAN)
    sx, sP, _, _ = filterpy_rts(xs, Ps, [model.F] * len(y), [model.Q] * len(y))
    smooth = kalman_smoother(filt, model.F, model.Q)
    assert_close(smooth.means, sx, KALMAN)
    assert_close(smooth.covariances, sP, KALMAN)


def test_equals_joint_gaussian_posterior(rng):
    """Filtered marginals (conditioning on y_0..y_t), smoothed marginals (on all y) and the
    log-likelihood equal conditioning the joint Gaussian of the whole sequence (KALMAN)."""
    mod = random_state_space_model(rng, 3, 2)
    y = with_missing(mod.sample(rng, 15), [2, 9])
    filt = kalman_filter(y, *model_args(mod))
    smooth = rts_smoother(filt, mod.F, mod.Q)
    jm, jP, jll = textbook.joint_posterior(y, *model_args(mod))
    assert_close(smooth.means, jm, KALMAN)
    assert_close(smooth.covariances, jP, KALMAN)
    assert_close(filt.log_likelihood, jll, KALMAN)
    for t in range(len(y)):
        fm, fP, _ = textbook.joint_posterior(y[:t + 1], *model_args(mod))
        assert_close(filt.means[t], fm[-1], KALMAN)
        assert_close(filt.covariances[t], fP[-1], KALMAN)


def test_batch_equals_single_calls(rng):
    """A batch of series (one model per series, different missing rows) equals single calls."""
    B, T = 3, 120
    mods = [random_state_space_model(rng, 3, 2) for _ in range(B)]
    ys = np.stack([with_missing(m.sample(rng, T), [b, 50 + b]) for b, m in enumerate(mods)])
    stacked = [np.stack([getattr(m, k) for m in mods]) for k in ("F", "Q", "H", "R", "m0", "P0")]
    filt = kalman_filter(ys, *stacked)
    smooth = rts_smoother(filt, stacked[0], stacked[1])
    assert filt.means.shape == (B, T, 3) and filt.covariances.shape == (B, T, 3, 3)
    assert filt.log_likelihood.shape == (B,)
    for b, m in enumerate(mods):
        one = kalman_filter(ys[b], *model_args(m))
        assert_close(filt.means[b], one.means, KALMAN)
        assert_close(filt.covariances[b], one.covariances, KALMAN)
        assert_close(filt.log_likelihood[b], one.log_likelihood, KALMAN)
        one_s = rts_smoother(one, m.F, m.Q)
        assert_close(smooth.means[b], one_s.means, KALMAN)
        assert_close(smooth.covariances[b], one_s.covariances, KALMAN)


def test_one_model_many_series_equals_single_calls(rng):
    """One model broadcast over a (2, 3) batch of series (shared covariances) equals single calls."""
    mod = random_state_space_model(rng, 4, 2)
    ys = mod.sample(rng, 80, batch=(2, 3))
    filt = kalman_filter(ys, *model_args(mod))
    assert filt.means.shape == (2, 3, 80, 4) and filt.log_likelihood.shape == (2, 3)
    for idx in np.ndindex(2, 3):
        one = kalman_filter(ys[idx], *model_args(mod))
        assert_close(filt.means[idx], one.means, KALMAN)
        assert_close(filt.covariances[idx], one.covariances, KALMAN)
        assert_close(filt.log_likelihood[idx], one.log_likelihood, KALMAN)


@pytest.mark.parametrize("path", ["steady state", "stepping"])
def test_long_run_stays_symmetric_positive_definite(path):
    """T = 100,000: every covariance symmetric (to 1e-12 of its scale) with minimum eigenvalue > 0.
    A near-unobservable model (tiny Q, large P0, one noisy observation of four states) is the hard
    case. "stepping" puts a missing row at the end, so the whole run steps through the recursion."""
    r = np.random.default_rng(7)
    mod = random_state_space_model(r, 4, 1)
    Q, P0 = 1e-8 * np.eye(4), 1e4 * np.eye(4)
    T = 100_000 if path == "steady state" else 10_000
    y = mod.sample(r, T)
    if path == "stepping":
        y[-2] = np.nan
    filt = kalman_filter(y, mod.F, Q, mod.H, mod.R, mod.m0, P0)
    assert_spd_everywhere(filt.covariances)
    assert np.isfinite(filt.means).all() and np.isfinite(filt.log_likelihood)


def test_long_batch_run_stays_symmetric_positive_definite():
    """The per-series-covariance batch path (two series, different missing rows) for T = 10,000 steps."""
    r = np.random.default_rng(8)
    mod = random_state_space_model(r, 2, 1)
    y = with_missing(mod.sample(r, 10_000, batch=(2,)), [5])
    y[1, 9_990] = np.nan
    filt = kalman_filter(y, mod.F, 1e-8 * np.eye(2), mod.H, mod.R, mod.m0, 1e4 * np.eye(2))
    assert_spd_everywhere(filt.covariances)


def test_batched_call_peak_memory_at_most_one_and_a_half_times_the_outputs(rng):
    """tracemalloc peak of a 200-series × T = 200 call ≤ 1.5 × the bytes the returned arrays hold
    (issue 15; covariances shared by all series are stored once and counted once)."""
    mod = random_state_space_model(rng, 4, 2)
    y = mod.sample(rng, 200, batch=(200,))
    kalman_filter(y[:2], *model_args(mod))  # warm up imports and caches outside the measurement
    tracemalloc.start()
    try:
        res = kalman_filter(y, *model_args(mod))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    out = stored_nbytes(res.means) + stored_nbytes(res.covariances) + res.log_likelihood.nbytes
    assert peak <= 1.5 * out, (peak, out)


def test_all_rows_missing_is_prediction_only(rng):
    """No observations: the marginals are the prior pushed through the dynamics; log-likelihood 0."""
    F, Q, P0 = np.array([[0.9, 0.1], [0.0, 0.8]]), random_spd(rng, 2), random_spd(rng, 2)
    filt = kalman_filter(np.full((4, 1), np.nan), F, Q, np.ones((1, 2)), np.eye(1), np.ones(2), P0)
    m, P = np.ones(2), P0
    for t in range(4):
        if t:
            m, P = F @ m, F @ P @ F.T + Q
        assert_close(filt.means[t], m, KALMAN)
        assert_close(filt.covariances[t], P, KALMAN)
    assert filt.log_likelihood == 0.0


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), D=st.integers(1, 4), O=st.integers(1, 3), T=st.integers(1, 120),
       batch=st.sampled_from([(), (2,)]), p_missing=st.sampled_from([0.0, 0.2]))
def test_random_models_equal_the_textbook_filter(seed, D, O, T, batch, p_missing):
    """Random stable models, lengths, batch shapes and missing rows: filter and smoother equal the
    textbook covariance-form filter and RTS pass of :mod:`blrkit.classical.kalman` (KALMAN)."""
    r = np.random.default_rng(seed)
    mod = random_state_space_model(r, D, O)
    ys = mod.sample(r, T, batch=batch)
    ys[r.random(batch + (T,)) < p_missing] = np.nan
    filt = kalman_filter(ys, *model_args(mod))
    smooth = rts_smoother(filt, mod.F, mod.Q)
    for idx in np.ndindex(*batch):
        m, P, ll = textbook.kalman_filter(ys[idx], *model_args(mod))
        assert_close(filt.means[idx], m, KALMAN)
        assert_close(filt.covariances[idx], P, KALMAN)
        assert_close(filt.log_likelihood[idx], ll, KALMAN)
        sm, sP = textbook.rts_smoother(m, P, mod.F, mod.Q)
        assert_close(smooth.means[idx], sm, KALMAN)
        assert_close(smooth.covariances[idx], sP, KALMAN)


@pytest.mark.parametrize("varying", [ALL_TIME_VARYING, ("F", "H", "transition_offsets", "observation_offsets"),
                                     ("transition_offsets",), ()])
@pytest.mark.parametrize("missing", [[], [0, 5, 6, 33]])
def test_offsets_and_time_varying_matrices_equal_pykalman(rng, varying, missing):
    """Random models with offsets and time-varying matrices (pykalman's conventions: the transition
    arguments have T − 1 steps, the observation arguments T), missing rows as a masked array:
    filter, smoother and (where pykalman computes it: a constant R) log-likelihood equal pykalman
    (KALMAN)."""
    T = 40
    a, y = varying_model(rng, 3, 2, T, varying)
    y_masked = np.ma.masked_array(y, mask=np.zeros_like(y, dtype=bool))
    y_masked[missing] = np.ma.masked
    pk = pykalman_args(a)
    filt = kalman_filter(y_masked, *positional(a), **offsets_of(a), time_varying=varying)
    pm, pP = pk.filter(y_masked)
    assert_close(filt.means, pm, KALMAN)
    assert_close(filt.covariances, pP, KALMAN)
    if "R" not in varying:  # pykalman's loglikelihood does not index a time axis of R
        assert_close(filt.log_likelihood, pk.loglikelihood(y_masked), KALMAN)
    sm, sP = pk.smooth(y_masked)
    smooth = rts_smoother(filt, a["F"], a["Q"], transition_offsets=a["transition_offsets"],
                          time_varying=set(varying) & {"F", "Q", "transition_offsets"})
    assert_close(smooth.means, sm, KALMAN)
    assert_close(smooth.covariances, sP, KALMAN)


def test_control_input_equals_filterpy(rng):
    """A control matrix B and inputs u: filterpy's ``predict(u=u_t)`` before update t equals
    ``transition_offsets[t − 1] = B u_t``; with an observation offset subtracted from filterpy's
    measurement (it has none). Filter, log-likelihood and smoother (KALMAN)."""
    D, O, T = 4, 2, 150
    mod = random_state_space_model(rng, D, O)
    B = rng.standard_normal((D, 2))
    u = rng.standard_normal((T, 2))
    d = rng.standard_normal(O)
    y = with_missing(mod.sample(rng, T), [9, 70])
    kf = FilterpyKF(dim_x=D, dim_z=O, dim_u=2)
    kf.F, kf.Q, kf.H, kf.R, kf.B = mod.F, mod.Q, mod.H, mod.R, B
    kf.x, kf.P = mod.m0.copy(), mod.P0.copy()
    xs, Ps, ll = [], [], 0.0
    for t in range(T):
        if t:
            kf.predict(u=u[t])
        if np.isnan(y[t]).all():
            kf.update(None)
        else:
            kf.update(y[t] - d)
            ll += kf.log_likelihood
        xs.append(kf.x.copy())
        Ps.append(kf.P.copy())
    xs, Ps = np.array(xs), np.array(Ps)
    b = u[1:] @ B.T
    filt = kalman_filter(y, *model_args(mod), transition_offsets=b, observation_offsets=d,
                         time_varying=("transition_offsets",))
    assert_close(filt.means, xs, KALMAN)
    assert_close(filt.covariances, Ps, KALMAN)
    assert_close(filt.log_likelihood, ll, KALMAN)
    # filterpy's rts_smoother has no control input: compare with the textbook pass written with b
    smooth = rts_smoother(filt, mod.F, mod.Q, transition_offsets=b, time_varying=("transition_offsets",))
    jm, jP, _ = textbook.joint_posterior(y, *model_args(mod), transition_offsets=b, observation_offsets=d)
    assert_close(smooth.means, jm, KALMAN)
    assert_close(smooth.covariances, jP, KALMAN)


def test_offsets_time_varying_and_partly_observed_rows_equal_joint_gaussian(rng):
    """Everything at once on one series (time-varying matrices and offsets, a missing row, rows
    with one or two of three components missing): filtered marginals (conditioning on y_0..y_t),
    smoothed marginals, lag-one cross-covariances and log-likelihood equal conditioning the joint
    Gaussian of the whole sequence on the observed entries (KALMAN)."""
    T = 14
    a, y = varying_model(rng, 3, 3, T)
    y[3] = np.nan
    y[5, 1] = np.nan
    y[8, [0, 2]] = np.nan
    filt = kalman_filter(y, *positional(a), **offsets_of(a), time_varying=ALL_TIME_VARYING)
    smooth = rts_smoother(filt, a["F"], a["Q"], transition_offsets=a["transition_offsets"],
                          time_varying=("F", "Q", "transition_offsets"), cross_covariances=True)
    jm, jP, jll, jC = textbook.joint_posterior(y, *positional(a), **offsets_of(a), return_cross=True)
    assert_close(smooth.means, jm, KALMAN)
    assert_close(smooth.covariances, jP, KALMAN)
    assert_close(smooth.cross_covariances, jC, KALMAN)
    assert_close(filt.log_likelihood, jll, KALMAN)
    for t in range(T):
        part = {k: (v[:t + 1] if k in ("H", "R", "observation_offsets") else v[:t] if k in
                    ("F", "Q", "transition_offsets") else v) for k, v in a.items()}
        fm, fP, _ = textbook.joint_posterior(y[:t + 1], *positional(part), **offsets_of(part))
        assert_close(filt.means[t], fm[-1], KALMAN)
        assert_close(filt.covariances[t], fP[-1], KALMAN)


def test_masked_array_equals_nan_and_is_not_modified(rng):
    """Masked entries (whole rows and single components) are missing like NaN; the caller's masked
    array, its mask and the offsets are left as they were."""
    mod = random_state_space_model(rng, 3, 2)
    y = mod.sample(rng, 60)
    mask = np.zeros_like(y, dtype=bool)
    mask[4] = True
    mask[10, 1] = True
    y_masked = np.ma.masked_array(y.copy(), mask=mask.copy())
    y_nan = np.where(mask, np.nan, y)
    b, d = rng.standard_normal((59, 3)), rng.standard_normal(2)
    keep = (y_masked.data.copy(), y_masked.mask.copy(), b.copy(), d.copy())
    kw = dict(transition_offsets=b, observation_offsets=d, time_varying=("transition_offsets",))
    a = kalman_filter(y_masked, *model_args(mod), **kw)
    c = kalman_filter(y_nan, *model_args(mod), **kw)
    np.testing.assert_array_equal(a.means, c.means)
    np.testing.assert_array_equal(a.covariances, c.covariances)
    np.testing.assert_array_equal(a.log_likelihood, c.log_likelihood)
    for now, before in zip((y_masked.data, y_masked.mask, b, d), keep):
        np.testing.assert_array_equal(now, before)


def test_partly_observed_rows_batch_equals_single_calls(rng):
    """Series with different missing components (the per-series covariance path, dropping the
    components of each series separately) equal one call per series (the shared path, selecting
    the observed rows) and the joint Gaussian (KALMAN)."""
    mod = random_state_space_model(rng, 3, 3)
    ys = mod.sample(rng, 30, batch=(3,))
    ys[0, 4, 1] = np.nan
    ys[1, 4, [0, 2]] = np.nan
    ys[1, 9] = np.nan
    ys[2, 20, 2] = np.nan
    d = rng.standard_normal((3, 3))
    filt = kalman_filter(ys, *model_args(mod), observation_offsets=d)
    for i in range(3):
        one = kalman_filter(ys[i], *model_args(mod), observation_offsets=d[i])
        assert_close(filt.means[i], one.means, KALMAN)
        assert_close(filt.covariances[i], one.covariances, KALMAN)
        assert_close(filt.log_likelihood[i], one.log_likelihood, KALMAN)
        _, _, jll = textbook.joint_posterior(ys[i], *model_args(mod), observation_offsets=d[i])
        assert_close(one.log_likelihood, jll, KALMAN)


def test_shared_covariances_are_a_read_only_view(rng):
    """One model for many series: one (T, D, D) covariance sequence, broadcast (no copy per series)."""
    mod = random_state_space_model(rng, 2, 1)
    filt = kalman_filter(mod.sample(rng, 20, batch=(5,)), *model_args(mod))
    assert filt.covariances.shape == (5, 20, 2, 2) and filt.covariances.strides[0] == 0
    assert not filt.covariances.flags.writeable


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), D=st.integers(1, 3), O=st.integers(1, 3), T=st.integers(1, 12),
       p_missing=st.sampled_from([0.0, 0.3]), varying=st.sampled_from([ALL_TIME_VARYING, ("transition_offsets",), ()]))
def test_random_models_with_offsets_and_missing_entries_equal_the_joint_gaussian(seed, D, O, T, p_missing, varying):
    """Random sizes, time-varying arguments, offsets and missing entries (single components or
    whole rows): smoothed marginals, cross-covariances and log-likelihood equal the joint
    Gaussian (KALMAN)."""
    r = np.random.default_rng(seed)
    a, y = varying_model(r, D, O, max(T, 2), varying)
    if T == 1:
        a = {k: (v[:1] if k in varying and k in ("H", "R", "observation_offsets") else
                 v[:0] if k in varying else v) for k, v in a.items()}
        y = y[:1]
    y[r.random(y.shape) < p_missing] = np.nan
    filt = kalman_filter(y, *positional(a), **offsets_of(a), time_varying=varying)
    smooth = rts_smoother(filt, a["F"], a["Q"], transition_offsets=a["transition_offsets"],
                          time_varying=set(varying) & {"F", "Q", "transition_offsets"}, cross_covariances=True)
    jm, jP, jll, jC = textbook.joint_posterior(y, *positional(a), **offsets_of(a), return_cross=True)
    assert_close(smooth.means, jm, KALMAN)
    assert_close(smooth.covariances, jP, KALMAN)
    assert_close(smooth.cross_covariances, jC, KALMAN)
    assert_close(filt.log_likelihood, jll, KALMAN)


def test_time_varying_batch_equals_single_calls(rng):
    """Time axes with batch axes around them: per-series time-varying F (batch, T−1, D, D), one
    time-varying H for all series, per-series time-varying observation offsets and a constant
    transition offset per series, different missing entries: each series equals its own call."""
    B, T, D, O = 3, 25, 3, 2
    a, _ = varying_model(rng, D, O, T)
    F = np.stack([a["F"] + 0.01 * rng.standard_normal(a["F"].shape) for _ in range(B)])
    d = rng.standard_normal((B, T, O))
    b = rng.standard_normal((B, D))
    ys = rng.standard_normal((B, T, O))
    ys[0, 3] = np.nan
    ys[1, 5, 0] = np.nan
    tv = ("F", "Q", "H", "R", "observation_offsets")
    filt = kalman_filter(ys, F, a["Q"], a["H"], a["R"], a["m0"], a["P0"], transition_offsets=b,
                         observation_offsets=d, time_varying=tv)
    smooth = rts_smoother(filt, F, a["Q"], transition_offsets=b, time_varying=("F", "Q"), cross_covariances=True)
    for i in range(B):
        one = kalman_filter(ys[i], F[i], a["Q"], a["H"], a["R"], a["m0"], a["P0"], transition_offsets=b[i],
                            observation_offsets=d[i], time_varying=tv)
        one_s = rts_smoother(one, F[i], a["Q"], transition_offsets=b[i], time_varying=("F", "Q"),
                             cross_covariances=True)
        assert_close(filt.means[i], one.means, KALMAN)
        assert_close(filt.covariances[i], one.covariances, KALMAN)
        assert_close(filt.log_likelihood[i], one.log_likelihood, KALMAN)
        assert_close(smooth.means[i], one_s.means, KALMAN)
        assert_close(smooth.cross_covariances[i], one_s.cross_covariances, KALMAN)


@pytest.mark.parametrize("case", ["one model, series missing different components", "time-varying, batch of models"])
def test_filter_and_smoother_on_another_library_equal_numpy(other_library, rng, case):
    """The filter and the RTS smoother given arrays of another library compute in it and return its
    arrays, equal to the NumPy path (already checked against pykalman, filterpy and the joint
    Gaussian above): means, covariances, log-likelihood, lag-one cross-covariances. Missing data
    of every kind: a row missing in every series, a component missing in every series, components
    missing in some series only (per-series covariances)."""
    lib = other_library
    T = 9
    if case.startswith("one model"):
        mod = random_state_space_model(rng, 3, 2)
        y = mod.sample(rng, T, batch=(4,))
        kwargs = dict(transition_offsets=rng.standard_normal(3), observation_offsets=rng.standard_normal(2))
        args, tv, smooth_kw = (y, *model_args(mod)), (), dict(transition_offsets=kwargs["transition_offsets"])
        F, Q = mod.F, mod.Q
        y[:, 2] = np.nan               # a row missing in every series
        y[:, 4, 1] = np.nan            # one component missing in every series
        y[1, 6, 0] = np.nan            # ... and in one series only
    else:
        a, y = varying_model(rng, 3, 2, T)
        y = np.stack([y, y + 0.1 * rng.standard_normal(y.shape)])     # two series ...
        a["R"] = np.stack([a["R"], 2.0 * a["R"]])                      # ... with a model each
        y[:, 3] = np.nan
        y[:, 5, 0] = np.nan
        args, kwargs, tv = (y, *positional(a)), offsets_of(a), ALL_TIME_VARYING
        F, Q = a["F"], a["Q"]
        smooth_kw = dict(transition_offsets=a["transition_offsets"])
    stv = tuple(n for n in ("F", "Q", "transition_offsets") if n in tv)
    want = kalman_filter(*args, **kwargs, time_varying=tv)
    want_s = rts_smoother(want, F, Q, **smooth_kw, time_varying=stv, cross_covariances=True)
    got = kalman_filter(*map(lib.convert, args), **{k: lib.convert(v) for k, v in kwargs.items()}, time_varying=tv)
    got_s = kalman_smoother(got, lib.convert(F), lib.convert(Q),
                            **{k: lib.convert(v) for k, v in smooth_kw.items()}, time_varying=stv,
                            cross_covariances=True)
    assert_fields_equal(got, want, lib, ("means", "covariances", "log_likelihood"))
    assert_fields_equal(got_s, want_s, lib, ("means", "covariances", "cross_covariances"))


def test_mixing_numpy_with_another_library_names_the_argument(rng):
    """One argument from array-api-strict, the rest NumPy: TypeError naming it, for every driver;
    kalman_em runs on NumPy only and says so."""
    xp = pytest.importorskip("array_api_strict")
    good = good_arguments()
    with pytest.raises(TypeError, match=r"^H comes from array_api_strict \(Array\) but .* from NumPy"):
        kalman_filter(**good | dict(H=xp.asarray(good["H"])))
    filt = kalman_filter(**good)
    with pytest.raises(TypeError, match=r"^Q comes from array_api_strict \(Array\) but .* from NumPy"):
        rts_smoother(filt, np.eye(3), xp.asarray(np.eye(3)))
    with pytest.raises(TypeError, match=r"^R0 comes from array_api_strict \(Array\) but .* from NumPy"):
        kalman_em(*(xp.asarray(v) if k == "R" else v for k, v in good.items()), n_steps=1)


def test_lists_beside_another_library_become_its_arrays(other_library):
    """Python lists given with another library's arrays (the docstring's offsets) are taken as that
    library's arrays: the filter and smoother run and equal the NumPy path (tolerances as above)."""
    lib, one = other_library, np.eye(1)
    y = np.array([[1.5], [np.nan], [3.5]])
    kw = dict(transition_offsets=[1.0], observation_offsets=[0.5])
    want = kalman_filter(y, one, one, one, one, np.zeros(1), one, **kw)
    got = kalman_filter(lib.to(y), lib.to(one), [[1.0]], lib.to(one), lib.to(one), lib.to(np.zeros(1)), lib.to(one),
                        **kw)
    assert_fields_equal(got, want, lib, ("means", "covariances", "log_likelihood"))
    assert_fields_equal(rts_smoother(got, [[1.0]], lib.to(one), transition_offsets=[1.0]),
                         rts_smoother(want, one, one, transition_offsets=[1.0]), lib, ("means", "covariances"))
