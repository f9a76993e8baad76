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

from algorithms.tolerances import KALMAN, assert_close
from blrkit.algorithms import kalman_filter, kalman_smoother, rts_smoother
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


def test_batched_call_peak_memory_at_most_twice_the_outputs(rng):
    """tracemalloc peak of a 200-series × T = 200 call ≤ 2 × the bytes of the returned arrays."""
    mod = random_state_space_model(rng, 4, 2)
    y = mod.sample(rng, 200, batch=(200,))
    kalman_filter(y[:2], *_args(mod))  # warm up imports and caches outside the measurement
    tracemalloc.start()
    try:
        res = kalman_filter(y, *_args(mod))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    out = res.means.nbytes + res.covariances.nbytes + res.log_likelihood.nbytes
    assert peak <= 2 * out, (peak, out)


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
    import blrkit.algorithms.kalman as kalman_module

    if chunk is not None:
        monkeypatch.setattr(kalman_module, "_CHUNK_ELEMENTS", chunk)
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
