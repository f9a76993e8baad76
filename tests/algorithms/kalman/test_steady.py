"""blrkit.algorithms.kalman.steady: the steady-state shortcuts (prefix scans, fixed gains, periodic patterns) equal
stepping through every step (forced by a batch axis on F), with chunk budgets shrunk to cross chunk boundaries."""

import numpy as np
import pytest

from algorithms.kalman.common import model_args, with_missing
from algorithms.tolerances import KALMAN, assert_close
from blrkit.algorithms import kalman_filter, rts_smoother
from blrkit.classical.problems import random_state_space_model


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
    scan = kalman_filter(ys, *model_args(mod))
    stepped = kalman_filter(ys, mod.F[None], *model_args(mod)[1:])
    assert_close(scan.means, stepped.means, KALMAN)
    assert_close(scan.covariances, stepped.covariances, KALMAN)
    assert_close(scan.log_likelihood, stepped.log_likelihood, KALMAN)


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
    ys = with_missing(mod.sample(rng, T, batch=(2,)), gaps)
    kw = dict(transition_offsets=0.1 * rng.standard_normal((T - 1, 3)),
              observation_offsets=rng.standard_normal((2, T, 2)),
              time_varying=("transition_offsets", "observation_offsets"))
    fast = kalman_filter(ys, *model_args(mod), **kw)
    stepped = kalman_filter(ys, mod.F[None], *model_args(mod)[1:], **kw)
    assert_close(fast.means, stepped.means, KALMAN)
    assert_close(fast.covariances, stepped.covariances, KALMAN)
    assert_close(fast.log_likelihood, stepped.log_likelihood, KALMAN)


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
    fast = kalman_filter(ys, *model_args(mod), **kw)
    stepped = kalman_filter(ys, mod.F[None], *model_args(mod)[1:], **kw)
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
    ys = with_missing(mod.sample(rng, T, batch=(2,)), [400, 401])
    b = 0.1 * rng.standard_normal((T - 1, 3))
    kw = dict(transition_offsets=b, time_varying=("transition_offsets",))
    fast = rts_smoother(kalman_filter(ys, *model_args(mod), **kw), mod.F, mod.Q, cross_covariances=True, **kw)
    F1 = mod.F[None]
    stepped = rts_smoother(kalman_filter(ys, F1, *model_args(mod)[1:], **kw), F1, mod.Q, cross_covariances=True, **kw)
    assert_close(fast.means, stepped.means, KALMAN)
    assert_close(fast.covariances, stepped.covariances, KALMAN)
    assert_close(fast.cross_covariances, stepped.cross_covariances, KALMAN)
