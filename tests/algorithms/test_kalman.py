"""blrkit.algorithms.kalman against pykalman, filterpy and the joint-Gaussian posterior.

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

from algorithms.tolerances import KALMAN, KALMAN_EM, SAME_ARITHMETIC, assert_close
from blrkit.algorithms import kalman_em, kalman_filter, kalman_smoother, rts_smoother
from blrkit.classical import kalman as textbook
from blrkit.classical.problems import constant_velocity_model, random_spd, random_state_space_model


def _args(mod):
    return mod.F, mod.Q, mod.H, mod.R, mod.m0, mod.P0


def _with_missing(y, rows):
    y = y.copy()
    y[..., rows, :] = np.nan
    return y


@pytest.fixture(params=["random", "constant velocity"])
def model(request, rng):
    return random_state_space_model(rng, 4, 2) if request.param == "random" else constant_velocity_model()


@pytest.mark.parametrize("missing", [[], [0, 7, 8, 30]])
@pytest.mark.parametrize("T", [40, 200])
def test_equals_pykalman(model, rng, missing, T):
    """Filter means/covariances/log-likelihood and smoother equal pykalman (KALMAN, 1e-8). T = 200
    exercises the steady-state + scan path for one series, T = 40 mostly the stepping loop."""
    y = _with_missing(model.sample(rng, T), missing)
    pk = PykalmanKF(transition_matrices=model.F, observation_matrices=model.H, transition_covariance=model.Q,
                    observation_covariance=model.R, initial_state_mean=model.m0,
                    initial_state_covariance=model.P0)
    y_masked = np.ma.masked_invalid(y)
    filt = kalman_filter(y, *_args(model))
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
    y = _with_missing(model.sample(rng, 200), missing)
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
    filt = kalman_filter(y, *_args(model))
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
    y = _with_missing(mod.sample(rng, 15), [2, 9])
    filt = kalman_filter(y, *_args(mod))
    smooth = rts_smoother(filt, mod.F, mod.Q)
    jm, jP, jll = textbook.joint_posterior(y, *_args(mod))
    assert_close(smooth.means, jm, KALMAN)
    assert_close(smooth.covariances, jP, KALMAN)
    assert_close(filt.log_likelihood, jll, KALMAN)
    for t in range(len(y)):
        fm, fP, _ = textbook.joint_posterior(y[:t + 1], *_args(mod))
        assert_close(filt.means[t], fm[-1], KALMAN)
        assert_close(filt.covariances[t], fP[-1], KALMAN)


def test_batch_equals_single_calls(rng):
    """A batch of series (one model per series, different missing rows) equals single calls."""
    B, T = 3, 120
    mods = [random_state_space_model(rng, 3, 2) for _ in range(B)]
    ys = np.stack([_with_missing(m.sample(rng, T), [b, 50 + b]) for b, m in enumerate(mods)])
    stacked = [np.stack([getattr(m, k) for m in mods]) for k in ("F", "Q", "H", "R", "m0", "P0")]
    filt = kalman_filter(ys, *stacked)
    smooth = rts_smoother(filt, stacked[0], stacked[1])
    assert filt.means.shape == (B, T, 3) and filt.covariances.shape == (B, T, 3, 3)
    assert filt.log_likelihood.shape == (B,)
    for b, m in enumerate(mods):
        one = kalman_filter(ys[b], *_args(m))
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
    filt = kalman_filter(ys, *_args(mod))
    assert filt.means.shape == (2, 3, 80, 4) and filt.log_likelihood.shape == (2, 3)
    for idx in np.ndindex(2, 3):
        one = kalman_filter(ys[idx], *_args(mod))
        assert_close(filt.means[idx], one.means, KALMAN)
        assert_close(filt.covariances[idx], one.covariances, KALMAN)
        assert_close(filt.log_likelihood[idx], one.log_likelihood, KALMAN)


def _assert_spd_everywhere(covs):
    sym = np.max(np.abs(covs - np.swapaxes(covs, -1, -2)))
    assert sym <= 1e-12 * np.max(np.abs(covs))
    assert np.min(np.linalg.eigvalsh(covs)) > 0


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
    _assert_spd_everywhere(filt.covariances)
    assert np.isfinite(filt.means).all() and np.isfinite(filt.log_likelihood)


def test_long_batch_run_stays_symmetric_positive_definite():
    """The per-series-covariance batch path (two series, different missing rows) for T = 10,000 steps."""
    r = np.random.default_rng(8)
    mod = random_state_space_model(r, 2, 1)
    y = _with_missing(mod.sample(r, 10_000, batch=(2,)), [5])
    y[1, 9_990] = np.nan
    filt = kalman_filter(y, mod.F, 1e-8 * np.eye(2), mod.H, mod.R, mod.m0, 1e4 * np.eye(2))
    _assert_spd_everywhere(filt.covariances)


def _stored_nbytes(a):
    """Bytes an array holds: axes of stride 0 (a broadcast view) count once."""
    return a.itemsize * int(np.prod([n for n, s in zip(a.shape, a.strides) if s != 0]))


def test_batched_call_peak_memory_at_most_one_and_a_half_times_the_outputs(rng):
    """tracemalloc peak of a 200-series × T = 200 call ≤ 1.5 × the bytes the returned arrays hold
    (issue 15; covariances shared by all series are stored once and counted once)."""
    mod = random_state_space_model(rng, 4, 2)
    y = mod.sample(rng, 200, batch=(200,))
    kalman_filter(y[:2], *_args(mod))  # warm up imports and caches outside the measurement
    tracemalloc.start()
    try:
        res = kalman_filter(y, *_args(mod))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    out = _stored_nbytes(res.means) + _stored_nbytes(res.covariances) + res.log_likelihood.nbytes
    assert peak <= 1.5 * out, (peak, out)


def test_inputs_not_modified(rng):
    mod = random_state_space_model(rng, 3, 2)
    y = _with_missing(mod.sample(rng, 50), [4])
    args = [y, *_args(mod)]
    keep = [a.copy() for a in args]
    filt = kalman_filter(*args)
    keep_f = filt.means.copy(), filt.covariances.copy()
    rts_smoother(filt, mod.F, mod.Q)
    for a, k in zip(args, keep):
        np.testing.assert_array_equal(a, k)
    np.testing.assert_array_equal(filt.means, keep_f[0])
    np.testing.assert_array_equal(filt.covariances, keep_f[1])


def _good():
    return dict(y=np.ones((5, 2)), F=np.eye(3), Q=np.eye(3), H=np.ones((2, 3)), R=np.eye(2), m0=np.zeros(3),
                P0=np.eye(3))


@pytest.mark.parametrize("change, match", [
    (dict(Q=-np.eye(3)), "Q"), (dict(R=np.zeros((2, 2))), "R"), (dict(P0=np.diag([1.0, 1.0, -1.0])), "P0"),
    (dict(Q=np.array([[1.0, 2.0, 0], [0, 1.0, 0], [0, 0, 1.0]])), "Q"), (dict(F=np.eye(2)), "F"),
    (dict(H=np.ones((3, 3))), "H"), (dict(R=np.eye(3)), "R"), (dict(m0=np.zeros(2)), "P0|F|Q"),
    (dict(y=np.r_[np.ones((4, 2)), [[np.inf, 1.0]]]), "y"),
    (dict(F=np.full((3, 3), np.nan)), "F"), (dict(m0=np.array([0, np.inf, 0])), "m0"),
    (dict(y=np.ones((4, 5, 2)), F=np.stack([np.eye(3)] * 3)), "batch"), (dict(y=np.ones(5)), "y"),
])
def test_bad_arguments_raise_naming_them(change, match):
    args = _good() | change
    with pytest.raises(ValueError, match=match):
        kalman_filter(**args)


def test_smoother_rejects_bad_arguments(rng):
    filt = kalman_filter(**_good())
    with pytest.raises(ValueError, match="Q"):
        rts_smoother(filt, np.eye(3), -np.eye(3))
    with pytest.raises(ValueError, match="F"):
        rts_smoother(filt, np.eye(2), np.eye(3))
    with pytest.raises(TypeError, match="filter_result"):
        rts_smoother((filt.means, filt.covariances), np.eye(3), np.eye(3))


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


@pytest.mark.parametrize("chunk", [None, 7])
def test_steady_state_scan_equals_stepping(rng, monkeypatch, chunk):
    """One model, T = 3,000: the steady-state prefix scan (shared covariances) equals stepping through
    every time step (forced by giving F a batch axis) to KALMAN; ``chunk`` shrinks the temporaries'
    budget so that the chunked scan and the chunked update cross many chunk boundaries."""
    import blrkit.algorithms.kalman.model as kalman_module

    if chunk is not None:
        monkeypatch.setattr(kalman_module, "CHUNK_ELEMENTS", chunk)
    mod = random_state_space_model(rng, 3, 2)
    ys = mod.sample(rng, 3_000, batch=(2,))
    scan = kalman_filter(ys, *_args(mod))
    stepped = kalman_filter(ys, mod.F[None], *_args(mod)[1:])
    assert_close(scan.means, stepped.means, KALMAN)
    assert_close(scan.covariances, stepped.covariances, KALMAN)
    assert_close(scan.log_likelihood, stepped.log_likelihood, KALMAN)


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
    filt = kalman_filter(ys, *_args(mod))
    smooth = rts_smoother(filt, mod.F, mod.Q)
    for idx in np.ndindex(*batch):
        m, P, ll = textbook.kalman_filter(ys[idx], *_args(mod))
        assert_close(filt.means[idx], m, KALMAN)
        assert_close(filt.covariances[idx], P, KALMAN)
        assert_close(filt.log_likelihood[idx], ll, KALMAN)
        sm, sP = textbook.rts_smoother(m, P, mod.F, mod.Q)
        assert_close(smooth.means[idx], sm, KALMAN)
        assert_close(smooth.covariances[idx], sP, KALMAN)


# --------------------------------------------------------------------------------------------
# offsets, control inputs, time-varying matrices, masked arrays and partly observed rows (issue 16)

ALL_TIME_VARYING = ("F", "Q", "H", "R", "transition_offsets", "observation_offsets")


def _varying_model(rng, D, O, T, varying=ALL_TIME_VARYING):
    """A random model whose arguments in ``varying`` change with time, with random offsets, and
    observations simulated from it: a dict of kalman_filter's arguments (time axes in place)."""
    base = random_state_space_model(rng, D, O)
    a = dict(F=base.F, Q=base.Q, H=base.H, R=base.R, m0=base.m0, P0=base.P0,
             transition_offsets=rng.standard_normal(D), observation_offsets=rng.standard_normal(O))
    if "F" in varying:
        a["F"] = np.stack([base.F + 0.05 * rng.standard_normal((D, D)) for _ in range(T - 1)])
    if "Q" in varying:
        a["Q"] = random_spd(rng, D, batch=(T - 1,), scale=0.1)
    if "H" in varying:
        a["H"] = rng.standard_normal((T, O, D))
    if "R" in varying:
        a["R"] = random_spd(rng, O, batch=(T,), scale=0.5)
    if "transition_offsets" in varying:
        a["transition_offsets"] = rng.standard_normal((T - 1, D))
    if "observation_offsets" in varying:
        a["observation_offsets"] = rng.standard_normal((T, O))

    def at(name, t):
        return a[name][t] if name in varying else a[name]

    x = a["m0"] + np.linalg.cholesky(a["P0"]) @ rng.standard_normal(D)
    y = np.empty((T, O))
    for t in range(T):
        if t:
            noise = np.linalg.cholesky(at("Q", t - 1)) @ rng.standard_normal(D)
            x = at("F", t - 1) @ x + at("transition_offsets", t - 1) + noise
        y[t] = at("H", t) @ x + at("observation_offsets", t) + np.linalg.cholesky(at("R", t)) @ rng.standard_normal(O)
    return a, y


def _pykalman(a):
    return PykalmanKF(transition_matrices=a["F"], observation_matrices=a["H"], transition_covariance=a["Q"],
                      observation_covariance=a["R"], transition_offsets=a["transition_offsets"],
                      observation_offsets=a["observation_offsets"], initial_state_mean=a["m0"],
                      initial_state_covariance=a["P0"])


def _positional(a):
    return a["F"], a["Q"], a["H"], a["R"], a["m0"], a["P0"]


def _offsets(a):
    return dict(transition_offsets=a["transition_offsets"], observation_offsets=a["observation_offsets"])


@pytest.mark.parametrize("varying", [ALL_TIME_VARYING, ("F", "H", "transition_offsets", "observation_offsets"),
                                     ("transition_offsets",), ()])
@pytest.mark.parametrize("missing", [[], [0, 5, 6, 33]])
def test_offsets_and_time_varying_matrices_equal_pykalman(rng, varying, missing):
    """Random models with offsets and time-varying matrices (pykalman's conventions: the transition
    arguments have T − 1 steps, the observation arguments T), missing rows as a masked array:
    filter, smoother and (where pykalman computes it: a constant R) log-likelihood equal pykalman
    (KALMAN)."""
    T = 40
    a, y = _varying_model(rng, 3, 2, T, varying)
    y_masked = np.ma.masked_array(y, mask=np.zeros_like(y, dtype=bool))
    y_masked[missing] = np.ma.masked
    pk = _pykalman(a)
    filt = kalman_filter(y_masked, *_positional(a), **_offsets(a), time_varying=varying)
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
    y = _with_missing(mod.sample(rng, T), [9, 70])
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
    filt = kalman_filter(y, *_args(mod), transition_offsets=b, observation_offsets=d,
                         time_varying=("transition_offsets",))
    assert_close(filt.means, xs, KALMAN)
    assert_close(filt.covariances, Ps, KALMAN)
    assert_close(filt.log_likelihood, ll, KALMAN)
    # filterpy's rts_smoother has no control input: compare with the textbook pass written with b
    smooth = rts_smoother(filt, mod.F, mod.Q, transition_offsets=b, time_varying=("transition_offsets",))
    jm, jP, _ = textbook.joint_posterior(y, *_args(mod), transition_offsets=b, observation_offsets=d)
    assert_close(smooth.means, jm, KALMAN)
    assert_close(smooth.covariances, jP, KALMAN)


def test_offsets_time_varying_and_partly_observed_rows_equal_joint_gaussian(rng):
    """Everything at once on one series (time-varying matrices and offsets, a missing row, rows
    with one or two of three components missing): filtered marginals (conditioning on y_0..y_t),
    smoothed marginals, lag-one cross-covariances and log-likelihood equal conditioning the joint
    Gaussian of the whole sequence on the observed entries (KALMAN)."""
    T = 14
    a, y = _varying_model(rng, 3, 3, T)
    y[3] = np.nan
    y[5, 1] = np.nan
    y[8, [0, 2]] = np.nan
    filt = kalman_filter(y, *_positional(a), **_offsets(a), time_varying=ALL_TIME_VARYING)
    smooth = rts_smoother(filt, a["F"], a["Q"], transition_offsets=a["transition_offsets"],
                          time_varying=("F", "Q", "transition_offsets"), cross_covariances=True)
    jm, jP, jll, jC = textbook.joint_posterior(y, *_positional(a), **_offsets(a), return_cross=True)
    assert_close(smooth.means, jm, KALMAN)
    assert_close(smooth.covariances, jP, KALMAN)
    assert_close(smooth.cross_covariances, jC, KALMAN)
    assert_close(filt.log_likelihood, jll, KALMAN)
    for t in range(T):
        part = {k: (v[:t + 1] if k in ("H", "R", "observation_offsets") else v[:t] if k in
                    ("F", "Q", "transition_offsets") else v) for k, v in a.items()}
        fm, fP, _ = textbook.joint_posterior(y[:t + 1], *_positional(part), **_offsets(part))
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
    a = kalman_filter(y_masked, *_args(mod), **kw)
    c = kalman_filter(y_nan, *_args(mod), **kw)
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
    filt = kalman_filter(ys, *_args(mod), observation_offsets=d)
    for i in range(3):
        one = kalman_filter(ys[i], *_args(mod), observation_offsets=d[i])
        assert_close(filt.means[i], one.means, KALMAN)
        assert_close(filt.covariances[i], one.covariances, KALMAN)
        assert_close(filt.log_likelihood[i], one.log_likelihood, KALMAN)
        _, _, jll = textbook.joint_posterior(ys[i], *_args(mod), observation_offsets=d[i])
        assert_close(one.log_likelihood, jll, KALMAN)


@pytest.mark.parametrize("path", ["scan", "fixed gain"])
@pytest.mark.parametrize("gaps", [[], [700, 701, 1500]])
def test_steady_state_with_offsets_and_gaps_equals_stepping(rng, monkeypatch, path, gaps):
    """One model with time-varying offsets, T = 3,000, missing rows (a gap is followed by a new
    steady segment): the steady-state paths (the prefix scan, with small chunks; or the fixed gain
    used for large batches) equal stepping through every step (forced by a batch axis on F)."""
    import blrkit.algorithms.kalman.model as kalman_module

    monkeypatch.setattr(kalman_module, "CHUNK_ELEMENTS", 7)
    if path == "fixed gain":
        monkeypatch.setattr(kalman_module, "SCAN_MAX_BATCH_ELEMENTS", 0)
    mod = random_state_space_model(rng, 3, 2)
    T = 3_000
    ys = _with_missing(mod.sample(rng, T, batch=(2,)), gaps)
    kw = dict(transition_offsets=0.1 * rng.standard_normal((T - 1, 3)),
              observation_offsets=rng.standard_normal((2, T, 2)),
              time_varying=("transition_offsets", "observation_offsets"))
    fast = kalman_filter(ys, *_args(mod), **kw)
    stepped = kalman_filter(ys, mod.F[None], *_args(mod)[1:], **kw)
    assert_close(fast.means, stepped.means, KALMAN)
    assert_close(fast.covariances, stepped.covariances, KALMAN)
    assert_close(fast.log_likelihood, stepped.log_likelihood, KALMAN)


def test_shared_covariances_are_a_read_only_view(rng):
    """One model for many series: one (T, D, D) covariance sequence, broadcast (no copy per series)."""
    mod = random_state_space_model(rng, 2, 1)
    filt = kalman_filter(mod.sample(rng, 20, batch=(5,)), *_args(mod))
    assert filt.covariances.shape == (5, 20, 2, 2) and filt.covariances.strides[0] == 0
    assert not filt.covariances.flags.writeable


def _good_varying(T=5):
    return dict(y=np.ones((T, 2)), F=np.stack([np.eye(3)] * (T - 1)), Q=np.eye(3), H=np.ones((T, 2, 3)),
                R=np.eye(2), m0=np.zeros(3), P0=np.eye(3), time_varying=("F", "H"))


@pytest.mark.parametrize("change, match", [
    (dict(F=np.stack([np.eye(3)] * 5)), r"F is declared time-varying.*length T − 1.*= 4"),
    (dict(H=np.ones((4, 2, 3))), r"H is declared time-varying.*= 5"),
    (dict(transition_offsets=np.zeros((5, 3)), time_varying=("F", "H", "transition_offsets")), "transition_offsets"),
    (dict(observation_offsets=np.zeros((4, 2)), time_varying=("F", "H", "observation_offsets")),
     "observation_offsets"),
    (dict(observation_offsets=np.zeros(3)), "observation_offsets"),
    (dict(Q=np.stack([np.eye(3), np.eye(3), -np.eye(3), np.eye(3)]), time_varying=("F", "H", "Q")),
     r"Q must be symmetric positive definite \(not at time step 2\)"),
    (dict(R=np.stack([np.eye(2)] * 3 + [np.diag([1.0, 0.0])] + [np.eye(2)]), time_varying=("F", "H", "R")),
     r"R must be symmetric positive definite \(not at time step 3\)"),
    (dict(F=np.eye(3), time_varying=("H",), transition_offsets=np.zeros((4, 3))),
     r"transition_offsets has shape \(4, 3\).*not in time_varying"),
    (dict(F=np.stack([np.eye(3)] * 4), time_varying=("H",)), r"F has shape \(4, 3, 3\).*time_varying"),
    (dict(time_varying=("F", "H", "P0")), "time_varying"),
])
def test_bad_time_axes_and_offsets_raise_naming_them(change, match):
    """A time axis whose length disagrees with y, an undeclared axis of the time length that would
    widen y's batch (probably a time axis), offsets of the wrong size, a covariance that is not
    positive definite at one time step (the step is named): ValueError naming the argument."""
    with pytest.raises(ValueError, match=match):
        kalman_filter(**(_good_varying() | change))


def test_smoother_rejects_a_wrong_time_axis(rng):
    a = _good_varying()
    filt = kalman_filter(**a)
    with pytest.raises(ValueError, match="F is declared time-varying"):
        rts_smoother(filt, a["F"][:3], np.eye(3), time_varying=("F",))
    with pytest.raises(ValueError, match="transition_offsets"):
        rts_smoother(filt, a["F"], np.eye(3), transition_offsets=np.zeros((3, 3)), time_varying=("F",))


# --------------------------------------------------------------------------------------------
# EM (issue 16)

_PYKALMAN_EM_NAMES = dict(F="transition_matrices", Q="transition_covariance", H="observation_matrices",
                          R="observation_covariance", m0="initial_state_mean", P0="initial_state_covariance")


@pytest.mark.parametrize("fit", [("F", "Q", "H", "R", "m0", "P0"), ("Q", "R"), ("F", "H", "P0"), ("m0",)])
def test_em_equals_pykalman(rng, fit):
    """Three EM iterations from the same start, with a constant transition offset, time-varying
    observation offsets and missing rows: every fitted parameter equals pykalman's ``em`` (each
    parameter, KALMAN_EM); the others are unchanged."""
    mod = random_state_space_model(rng, 3, 2)
    T = 100
    y = _with_missing(mod.sample(rng, T), [4, 5, 60])
    b, d = 0.3 * rng.standard_normal(3), rng.standard_normal((T, 2))
    start = _args(mod)
    pk = PykalmanKF(transition_matrices=mod.F, observation_matrices=mod.H, transition_covariance=mod.Q,
                    observation_covariance=mod.R, transition_offsets=b, observation_offsets=d,
                    initial_state_mean=mod.m0, initial_state_covariance=mod.P0,
                    em_vars=[_PYKALMAN_EM_NAMES[k] for k in fit])
    pk = pk.em(np.ma.masked_invalid(y), n_iter=3)
    res = kalman_em(y, *start, n_steps=3, fit=fit, transition_offsets=b, observation_offsets=d,
                    time_varying=("observation_offsets",))
    for (name, value), ours in zip(zip(("F", "Q", "H", "R", "m0", "P0"), start),
                                   (res.F, res.Q, res.H, res.R, res.m0, res.P0)):
        if name in fit:
            assert_close(ours, getattr(pk, _PYKALMAN_EM_NAMES[name]), KALMAN_EM)
        else:
            np.testing.assert_array_equal(ours, value)


def test_em_with_time_varying_matrices_equals_pykalman(rng):
    """Known time-varying F, Q, H, R and offsets, missing rows: three iterations fitting the
    noise levels and the initial state equal pykalman's ``em`` (KALMAN_EM), whose M-step uses
    F_t and H_t at each step too; the time-varying arguments come back as given."""
    T = 60
    a, y = _varying_model(rng, 3, 2, T, ("F", "H", "transition_offsets", "observation_offsets"))
    y = _with_missing(y, [2, 30, 31])
    fit = ("Q", "R", "m0", "P0")
    pk = _pykalman(a)
    pk.em_vars = [_PYKALMAN_EM_NAMES[k] for k in fit]
    pk = pk.em(np.ma.masked_invalid(y), n_iter=3)
    tv = ("F", "H", "transition_offsets", "observation_offsets")
    res = kalman_em(y, *_positional(a), n_steps=3, fit=fit, **_offsets(a), time_varying=tv)
    for name in fit:
        assert_close(getattr(res, name), getattr(pk, _PYKALMAN_EM_NAMES[name]), KALMAN_EM)
    np.testing.assert_array_equal(res.F, a["F"])
    np.testing.assert_array_equal(res.H_history[-1], a["H"])
    assert np.all(np.diff(res.log_likelihood) >= -KALMAN * np.abs(res.log_likelihood[1:]))
    with pytest.raises(ValueError, match="fitted parameters"):
        kalman_em(y, *_positional(a), n_steps=1, fit=("F",), **_offsets(a), time_varying=tv)
    with pytest.raises(ValueError, match="fitting H needs a constant R"):
        kalman_em(y, *_positional(a), n_steps=1, fit=("H",), **_offsets(a), time_varying=("R",))


def test_em_equals_the_textbook_em_step(rng):
    """Each of four iterations (parameters and log-likelihood) equals Shumway & Stoffer's EM step
    of :mod:`blrkit.classical.kalman` (its own filter, smoother and lag-one covariance recursion)."""
    mod = random_state_space_model(rng, 3, 2)
    T = 80
    y = _with_missing(mod.sample(rng, T), [7, 30])
    b, d = 0.3 * rng.standard_normal((T - 1, 3)), rng.standard_normal(2)
    res = kalman_em(y, *_args(mod), n_steps=4, transition_offsets=b, observation_offsets=d,
                    time_varying=("transition_offsets",))
    params = _args(mod)
    histories = (res.F_history, res.Q_history, res.H_history, res.R_history, res.m0_history, res.P0_history)
    for k in range(4):
        params, ll = textbook.em_step(y, *params, transition_offsets=b, observation_offsets=d)
        assert_close(res.log_likelihood[k], ll, KALMAN_EM)
        for p, h in zip(params, histories):
            assert_close(h[k + 1], p, KALMAN_EM)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), D=st.integers(1, 3), O=st.integers(1, 3), T=st.integers(20, 60),
       p_missing=st.sampled_from([0.0, 0.2]), entries=st.booleans(),
       fit=st.sampled_from([("F", "Q", "H", "R", "m0", "P0"), ("F", "Q"), ("H", "R"), ("Q", "R", "P0")]))
def test_em_log_likelihood_never_decreases(seed, D, O, T, p_missing, entries, fit):
    """Random models, starts away from the truth, missing rows or single entries, subsets of
    parameters: the log-likelihood per iteration is non-decreasing (up to rounding, KALMAN
    relative to its size), and the last entry is the log-likelihood of the fitted parameters."""
    r = np.random.default_rng(seed)
    mod = random_state_space_model(r, D, O)
    y = mod.sample(r, T)
    y[r.random((T, O) if entries else T) < p_missing] = np.nan
    start = random_state_space_model(r, D, O)
    d = r.standard_normal(O)
    res = kalman_em(y, *_args(start), n_steps=8, fit=fit, observation_offsets=d)
    ll = res.log_likelihood
    assert ll.shape == (9,) and np.isfinite(ll).all()
    assert np.all(np.diff(ll) >= -KALMAN * np.abs(ll[1:])), ll
    final = kalman_filter(y, res.F, res.Q, res.H, res.R, res.m0, res.P0, observation_offsets=d)
    assert_close(ll[-1], final.log_likelihood, KALMAN)


def test_em_with_partly_observed_rows_equals_the_textbook_em_step(rng):
    """A quarter of the entries missing (many rows partly observed), offsets, every parameter
    fitted: four iterations equal the textbook step, which completes each partly observed row by
    the conditional law of its missing components (a different route to the same moments)."""
    mod, start = random_state_space_model(rng, 3, 3), random_state_space_model(rng, 3, 3)
    T = 50
    y = mod.sample(rng, T)
    y[rng.random(y.shape) < 0.25] = np.nan
    assert (np.isnan(y).any(axis=1) & ~np.isnan(y).all(axis=1)).sum() > 10
    b, d = 0.1 * rng.standard_normal((T - 1, 3)), rng.standard_normal(3)
    res = kalman_em(y, *_args(start), n_steps=4, transition_offsets=b, observation_offsets=d,
                    time_varying=("transition_offsets",))
    params = _args(start)
    histories = (res.F_history, res.Q_history, res.H_history, res.R_history, res.m0_history, res.P0_history)
    for k in range(4):
        params, ll = textbook.em_step(y, *params, transition_offsets=b, observation_offsets=d)
        assert_close(res.log_likelihood[k], ll, KALMAN_EM)
        for p, h in zip(params, histories):
            assert_close(h[k + 1], p, KALMAN_EM)
    assert np.all(np.diff(res.log_likelihood) >= -KALMAN * np.abs(res.log_likelihood[1:]))


def test_em_batch_equals_single_calls(rng):
    """A batch of series is fitted series by series (parameters gain the batch axis)."""
    mod = random_state_space_model(rng, 2, 2)
    ys = _with_missing(mod.sample(rng, 50, batch=(3,)), [10])
    ys[1, 20, 0] = np.nan  # a partly observed row in one series
    res = kalman_em(ys, *_args(mod), n_steps=3)
    assert res.F.shape == (3, 2, 2) and res.F_history.shape == (4, 3, 2, 2) and res.log_likelihood.shape == (4, 3)
    for i in range(3):
        one = kalman_em(ys[i], *_args(mod), n_steps=3)
        for name in ("F", "Q", "H", "R", "m0", "P0", "log_likelihood"):
            assert_close(getattr(res, name)[..., i, :, :] if name in ("F", "Q", "H", "R", "P0") else
                         getattr(res, name)[..., i, :] if name == "m0" else getattr(res, name)[:, i],
                         getattr(one, name), KALMAN)


def test_em_rejects_bad_arguments(rng):
    mod = random_state_space_model(rng, 2, 2)
    y = mod.sample(rng, 20)
    with pytest.raises(ValueError, match="fit"):
        kalman_em(y, *_args(mod), n_steps=2, fit=("F", "B"))
    with pytest.raises(ValueError, match="n_steps"):
        kalman_em(y, *_args(mod), n_steps=-1)
    with pytest.raises(ValueError, match="Q0"):
        kalman_em(y, mod.F, -mod.Q, *_args(mod)[2:], n_steps=2)
    y[:] = np.nan
    with pytest.raises(ValueError, match="no observed row"):
        kalman_em(y, *_args(mod), n_steps=2, fit=("R",))
    with pytest.raises(ValueError, match="time_varying"):
        kalman_em(y, *_args(mod), n_steps=2, time_varying=("F",))
    with pytest.raises(ValueError, match="time_varying"):
        kalman_em(y, *_args(mod), n_steps=2, time_varying=("P0",))


@pytest.mark.parametrize("large", [False, True])
@pytest.mark.parametrize("batch", [(), (3,)])
def test_periodic_missing_pattern_equals_stepping(rng, monkeypatch, batch, large):
    """Missing rows every 10th step, then a partly observed component every 7th, then none: the
    periodic steady state (the maps of the previous period reused once P̂ repeats) and its exits
    equal stepping through every step (forced by a batch axis on F), with offsets (KALMAN).
    ``large``: the path of large batches (the emitted step's affine map applied to the batch at
    every step) instead of the emitted step on the means themselves."""
    import blrkit.algorithms.kalman.model as kalman_module

    if large:
        monkeypatch.setattr(kalman_module, "SCAN_MAX_BATCH_ELEMENTS", 0)
    mod = random_state_space_model(rng, 4, 2)
    T = 2_400
    ys = mod.sample(rng, T, batch=batch)
    ys[..., 9:1000:10, :] = np.nan
    ys[..., 1003:2000:7, 1] = np.nan
    kw = dict(transition_offsets=0.1 * rng.standard_normal((T - 1, 4)), observation_offsets=rng.standard_normal(2),
              time_varying=("transition_offsets",))
    fast = kalman_filter(ys, *_args(mod), **kw)
    stepped = kalman_filter(ys, mod.F[None], *_args(mod)[1:], **kw)
    assert_close(fast.means, stepped.means.reshape(fast.means.shape), KALMAN)
    assert_close(fast.covariances, stepped.covariances.reshape(fast.covariances.shape), KALMAN)
    assert_close(fast.log_likelihood, stepped.log_likelihood.reshape(fast.log_likelihood.shape), KALMAN)


@pytest.mark.parametrize("path", ["scan", "stepping"])
def test_smoother_steady_runs_equal_stepping(rng, monkeypatch, path):
    """Where the filtered covariances are steady (one model), the smoother's constant-gain runs
    (prefix scan backwards, or one product per step for large batches) equal the step-by-step pass
    (forced by a batch axis on F), means, covariances and cross-covariances, with offsets and gaps."""
    import blrkit.algorithms.kalman.model as kalman_module

    if path == "stepping":
        monkeypatch.setattr(kalman_module, "SCAN_MAX_BATCH_ELEMENTS", 0)
    monkeypatch.setattr(kalman_module, "CHUNK_ELEMENTS", 11)
    mod = random_state_space_model(rng, 3, 2)
    T = 1_500
    ys = _with_missing(mod.sample(rng, T, batch=(2,)), [400, 401])
    b = 0.1 * rng.standard_normal((T - 1, 3))
    kw = dict(transition_offsets=b, time_varying=("transition_offsets",))
    fast = rts_smoother(kalman_filter(ys, *_args(mod), **kw), mod.F, mod.Q, cross_covariances=True, **kw)
    F1 = mod.F[None]
    stepped = rts_smoother(kalman_filter(ys, F1, *_args(mod)[1:], **kw), F1, mod.Q, cross_covariances=True, **kw)
    assert_close(fast.means, stepped.means, KALMAN)
    assert_close(fast.covariances, stepped.covariances, KALMAN)
    assert_close(fast.cross_covariances, stepped.cross_covariances, KALMAN)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), D=st.integers(1, 3), O=st.integers(1, 3), T=st.integers(1, 12),
       p_missing=st.sampled_from([0.0, 0.3]), varying=st.sampled_from([ALL_TIME_VARYING, ("transition_offsets",), ()]))
def test_random_models_with_offsets_and_missing_entries_equal_the_joint_gaussian(seed, D, O, T, p_missing, varying):
    """Random sizes, time-varying arguments, offsets and missing entries (single components or
    whole rows): smoothed marginals, cross-covariances and log-likelihood equal the joint
    Gaussian (KALMAN)."""
    r = np.random.default_rng(seed)
    a, y = _varying_model(r, D, O, max(T, 2), varying)
    if T == 1:
        a = {k: (v[:1] if k in varying and k in ("H", "R", "observation_offsets") else
                 v[:0] if k in varying else v) for k, v in a.items()}
        y = y[:1]
    y[r.random(y.shape) < p_missing] = np.nan
    filt = kalman_filter(y, *_positional(a), **_offsets(a), time_varying=varying)
    smooth = rts_smoother(filt, a["F"], a["Q"], transition_offsets=a["transition_offsets"],
                          time_varying=set(varying) & {"F", "Q", "transition_offsets"}, cross_covariances=True)
    jm, jP, jll, jC = textbook.joint_posterior(y, *_positional(a), **_offsets(a), return_cross=True)
    assert_close(smooth.means, jm, KALMAN)
    assert_close(smooth.covariances, jP, KALMAN)
    assert_close(smooth.cross_covariances, jC, KALMAN)
    assert_close(filt.log_likelihood, jll, KALMAN)


def test_docstrings_cite_the_paper_registry():
    """The drivers cite their sections through blrkit.paper's anchors (Sec. 5.1 Kalman, 5.2 EM)."""
    from blrkit.paper import cite

    for fn in (kalman_filter, rts_smoother):
        assert cite("kalman").replace("Khan & Rue 2023, ", "") in fn.__doc__
    assert cite("em").replace("Khan & Rue 2023, ", "") in kalman_em.__doc__


def test_time_varying_batch_equals_single_calls(rng):
    """Time axes with batch axes around them: per-series time-varying F (batch, T−1, D, D), one
    time-varying H for all series, per-series time-varying observation offsets and a constant
    transition offset per series, different missing entries: each series equals its own call."""
    B, T, D, O = 3, 25, 3, 2
    a, _ = _varying_model(rng, D, O, T)
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


def test_em_does_not_modify_its_inputs(rng):
    mod = random_state_space_model(rng, 2, 2)
    y = np.ma.masked_invalid(_with_missing(mod.sample(rng, 30), [3]))
    b = rng.standard_normal(2)
    args = [*_args(mod), b]
    keep = [a.copy() for a in args] + [y.data.copy(), y.mask.copy()]
    kalman_em(y, *_args(mod), n_steps=2, transition_offsets=b)
    for now, before in zip([*args, y.data, y.mask], keep):
        np.testing.assert_array_equal(now, before)


# -- arrays of another library (array-api-strict, PyTorch, JAX): the plain loop in that library ------------

def _other_library_tolerance(lib):
    # array-api-strict runs NumPy underneath: the same operations give the same floats, but its plain
    # loop is not the NumPy path's (no shared-covariance affine map, a padded rather than an indexed
    # update for missing components), so the sums differ in the last bits: SAME_ARITHMETIC (1e-12).
    # PyTorch and JAX call their own BLAS/LAPACK, which may sum in another order, over T steps: 1e-10
    # relative to the result's scale.
    return SAME_ARITHMETIC if lib.name == "array_api_strict" else 1e-10


def _assert_fields_equal(got, want, lib, fields):
    for name in fields:
        value = getattr(got, name)
        assert isinstance(value, lib.array_type), (name, type(value))
        assert_close(lib.back(value), getattr(want, name), _other_library_tolerance(lib))


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
        args, tv, smooth_kw = (y, *_args(mod)), (), dict(transition_offsets=kwargs["transition_offsets"])
        F, Q = mod.F, mod.Q
        y[:, 2] = np.nan               # a row missing in every series
        y[:, 4, 1] = np.nan            # one component missing in every series
        y[1, 6, 0] = np.nan            # ... and in one series only
    else:
        a, y = _varying_model(rng, 3, 2, T)
        y = np.stack([y, y + 0.1 * rng.standard_normal(y.shape)])     # two series ...
        a["R"] = np.stack([a["R"], 2.0 * a["R"]])                      # ... with a model each
        y[:, 3] = np.nan
        y[:, 5, 0] = np.nan
        args, kwargs, tv = (y, *_positional(a)), _offsets(a), ALL_TIME_VARYING
        F, Q = a["F"], a["Q"]
        smooth_kw = dict(transition_offsets=a["transition_offsets"])
    stv = tuple(n for n in ("F", "Q", "transition_offsets") if n in tv)
    want = kalman_filter(*args, **kwargs, time_varying=tv)
    want_s = rts_smoother(want, F, Q, **smooth_kw, time_varying=stv, cross_covariances=True)
    got = kalman_filter(*map(lib.convert, args), **{k: lib.convert(v) for k, v in kwargs.items()}, time_varying=tv)
    got_s = kalman_smoother(got, lib.convert(F), lib.convert(Q),
                            **{k: lib.convert(v) for k, v in smooth_kw.items()}, time_varying=stv,
                            cross_covariances=True)
    _assert_fields_equal(got, want, lib, ("means", "covariances", "log_likelihood"))
    _assert_fields_equal(got_s, want_s, lib, ("means", "covariances", "cross_covariances"))


def test_mixing_numpy_with_another_library_names_the_argument(rng):
    """One argument from array-api-strict, the rest NumPy: TypeError naming it, for every driver;
    kalman_em runs on NumPy only and says so."""
    xp = pytest.importorskip("array_api_strict")
    good = _good()
    with pytest.raises(TypeError, match=r"^H comes from array_api_strict \(Array\) but .* from NumPy"):
        kalman_filter(**good | dict(H=xp.asarray(good["H"])))
    filt = kalman_filter(**good)
    with pytest.raises(TypeError, match=r"^Q comes from array_api_strict \(Array\) but .* from NumPy"):
        rts_smoother(filt, np.eye(3), xp.asarray(np.eye(3)))
    with pytest.raises(TypeError, match=r"^R0 comes from array_api_strict \(Array\) but .* from NumPy"):
        kalman_em(*(xp.asarray(v) if k == "R" else v for k, v in good.items()), n_steps=1)


def test_em_on_another_library_is_refused(other_library):
    """kalman_em runs on NumPy arrays only: another library's arrays raise TypeError saying how to convert."""
    args = [other_library.convert(v) for v in _good().values()]
    with pytest.raises(TypeError, match=rf"^kalman_em runs on NumPy arrays; y is a {other_library.name} array: "
                                        r"convert it with np.asarray\(y\)"):
        kalman_em(*args, n_steps=1)


@pytest.mark.parametrize("change, match", [
    (dict(Q=-np.eye(3)), "Q must be symmetric positive definite"), (dict(R=np.array([[1.0, 0.5], [0.0, 1.0]])), "R must be symmetric"),
    (dict(y=np.r_[np.ones((4, 2)), [[np.inf, 1.0]]]), "y must not contain inf"), (dict(H=np.ones((3, 3))), "H"),
    # the third state is never observed and F multiplies it by 1e10 (as in test_bad_input)
    (dict(F=np.diag([1.0, 1.0, 1e10]), H=np.array([[1.0, 0, 0], [0, 1.0, 0]]), y=np.ones((40, 2))),
     r"the model diverged at step \d+: the predicted covariance overflowed"),
])
def test_bad_arguments_on_another_library_raise_naming_them(change, match):
    """The checks of the NumPy path, on array-api-strict arrays: the same messages."""
    xp = pytest.importorskip("array_api_strict")
    args = {k: xp.asarray(v) for k, v in (_good() | change).items()}
    with pytest.raises(ValueError, match=match):
        kalman_filter(**args)


def test_lists_beside_another_library_become_its_arrays(other_library):
    """Python lists given with another library's arrays (the docstring's offsets) are taken as that
    library's arrays: the filter and smoother run and equal the NumPy path (tolerances as above)."""
    lib, one = other_library, np.eye(1)
    y = np.array([[1.5], [np.nan], [3.5]])
    kw = dict(transition_offsets=[1.0], observation_offsets=[0.5])
    want = kalman_filter(y, one, one, one, one, np.zeros(1), one, **kw)
    got = kalman_filter(lib.to(y), lib.to(one), [[1.0]], lib.to(one), lib.to(one), lib.to(np.zeros(1)), lib.to(one),
                        **kw)
    _assert_fields_equal(got, want, lib, ("means", "covariances", "log_likelihood"))
    _assert_fields_equal(rts_smoother(got, [[1.0]], lib.to(one), transition_offsets=[1.0]),
                         rts_smoother(want, one, one, transition_offsets=[1.0]), lib, ("means", "covariances"))
