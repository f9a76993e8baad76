"""blrkit.algorithms.kalman.em against pykalman's EM and the textbook EM step."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pykalman import KalmanFilter as PykalmanKF

from algorithms.kalman.common import (
    PYKALMAN_EM_NAMES,
    good_arguments,
    model_args,
    offsets_of,
    positional,
    pykalman_args,
    varying_model,
    with_missing,
)
from algorithms.tolerances import KALMAN, KALMAN_EM, assert_close
from blrkit.algorithms import kalman_em, kalman_filter
from blrkit.classical import kalman as textbook
from blrkit.classical.problems import random_state_space_model


@pytest.mark.parametrize("fit", [("F", "Q", "H", "R", "m0", "P0"), ("Q", "R"), ("F", "H", "P0"), ("m0",)])
def test_em_equals_pykalman(rng, fit):
    """Three EM iterations from the same start, with a constant transition offset, time-varying
    observation offsets and missing rows: every fitted parameter equals pykalman's ``em`` (each
    parameter, KALMAN_EM); the others are unchanged."""
    mod = random_state_space_model(rng, 3, 2)
    T = 100
    y = with_missing(mod.sample(rng, T), [4, 5, 60])
    b, d = 0.3 * rng.standard_normal(3), rng.standard_normal((T, 2))
    start = model_args(mod)
    pk = PykalmanKF(transition_matrices=mod.F, observation_matrices=mod.H, transition_covariance=mod.Q,
                    observation_covariance=mod.R, transition_offsets=b, observation_offsets=d,
                    initial_state_mean=mod.m0, initial_state_covariance=mod.P0,
                    em_vars=[PYKALMAN_EM_NAMES[k] for k in fit])
    pk = pk.em(np.ma.masked_invalid(y), n_iter=3)
    res = kalman_em(y, *start, n_steps=3, fit=fit, transition_offsets=b, observation_offsets=d,
                    time_varying=("observation_offsets",))
    for (name, value), ours in zip(zip(("F", "Q", "H", "R", "m0", "P0"), start),
                                   (res.F, res.Q, res.H, res.R, res.m0, res.P0)):
        if name in fit:
            assert_close(ours, getattr(pk, PYKALMAN_EM_NAMES[name]), KALMAN_EM)
        else:
            np.testing.assert_array_equal(ours, value)


def test_em_with_time_varying_matrices_equals_pykalman(rng):
    """Known time-varying F, Q, H, R and offsets, missing rows: three iterations fitting the
    noise levels and the initial state equal pykalman's ``em`` (KALMAN_EM), whose M-step uses
    F_t and H_t at each step too; the time-varying arguments come back as given."""
    T = 60
    a, y = varying_model(rng, 3, 2, T, ("F", "H", "transition_offsets", "observation_offsets"))
    y = with_missing(y, [2, 30, 31])
    fit = ("Q", "R", "m0", "P0")
    pk = pykalman_args(a)
    pk.em_vars = [PYKALMAN_EM_NAMES[k] for k in fit]
    pk = pk.em(np.ma.masked_invalid(y), n_iter=3)
    tv = ("F", "H", "transition_offsets", "observation_offsets")
    res = kalman_em(y, *positional(a), n_steps=3, fit=fit, **offsets_of(a), time_varying=tv)
    for name in fit:
        assert_close(getattr(res, name), getattr(pk, PYKALMAN_EM_NAMES[name]), KALMAN_EM)
    np.testing.assert_array_equal(res.F, a["F"])
    np.testing.assert_array_equal(res.H_history[-1], a["H"])
    assert np.all(np.diff(res.log_likelihood) >= -KALMAN * np.abs(res.log_likelihood[1:]))
    with pytest.raises(ValueError, match="fitted parameters"):
        kalman_em(y, *positional(a), n_steps=1, fit=("F",), **offsets_of(a), time_varying=tv)
    with pytest.raises(ValueError, match="fitting H needs a constant R"):
        kalman_em(y, *positional(a), n_steps=1, fit=("H",), **offsets_of(a), time_varying=("R",))


def test_em_equals_the_textbook_em_step(rng):
    """Each of four iterations (parameters and log-likelihood) equals Shumway & Stoffer's EM step
    of :mod:`blrkit.classical.kalman` (its own filter, smoother and lag-one covariance recursion)."""
    mod = random_state_space_model(rng, 3, 2)
    T = 80
    y = with_missing(mod.sample(rng, T), [7, 30])
    b, d = 0.3 * rng.standard_normal((T - 1, 3)), rng.standard_normal(2)
    res = kalman_em(y, *model_args(mod), n_steps=4, transition_offsets=b, observation_offsets=d,
                    time_varying=("transition_offsets",))
    params = model_args(mod)
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
    res = kalman_em(y, *model_args(start), n_steps=8, fit=fit, observation_offsets=d)
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
    res = kalman_em(y, *model_args(start), n_steps=4, transition_offsets=b, observation_offsets=d,
                    time_varying=("transition_offsets",))
    params = model_args(start)
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
    ys = with_missing(mod.sample(rng, 50, batch=(3,)), [10])
    ys[1, 20, 0] = np.nan  # a partly observed row in one series
    res = kalman_em(ys, *model_args(mod), n_steps=3)
    assert res.F.shape == (3, 2, 2) and res.F_history.shape == (4, 3, 2, 2) and res.log_likelihood.shape == (4, 3)
    for i in range(3):
        one = kalman_em(ys[i], *model_args(mod), n_steps=3)
        for name in ("F", "Q", "H", "R", "m0", "P0", "log_likelihood"):
            assert_close(getattr(res, name)[..., i, :, :] if name in ("F", "Q", "H", "R", "P0") else
                         getattr(res, name)[..., i, :] if name == "m0" else getattr(res, name)[:, i],
                         getattr(one, name), KALMAN)


def test_em_rejects_bad_arguments(rng):
    mod = random_state_space_model(rng, 2, 2)
    y = mod.sample(rng, 20)
    with pytest.raises(ValueError, match="fit"):
        kalman_em(y, *model_args(mod), n_steps=2, fit=("F", "B"))
    with pytest.raises(ValueError, match="n_steps"):
        kalman_em(y, *model_args(mod), n_steps=-1)
    with pytest.raises(ValueError, match="Q0"):
        kalman_em(y, mod.F, -mod.Q, *model_args(mod)[2:], n_steps=2)
    y[:] = np.nan
    with pytest.raises(ValueError, match="no observed row"):
        kalman_em(y, *model_args(mod), n_steps=2, fit=("R",))
    with pytest.raises(ValueError, match="time_varying"):
        kalman_em(y, *model_args(mod), n_steps=2, time_varying=("F",))
    with pytest.raises(ValueError, match="time_varying"):
        kalman_em(y, *model_args(mod), n_steps=2, time_varying=("P0",))


def test_em_does_not_modify_its_inputs(rng):
    mod = random_state_space_model(rng, 2, 2)
    y = np.ma.masked_invalid(with_missing(mod.sample(rng, 30), [3]))
    b = rng.standard_normal(2)
    args = [*model_args(mod), b]
    keep = [a.copy() for a in args] + [y.data.copy(), y.mask.copy()]
    kalman_em(y, *model_args(mod), n_steps=2, transition_offsets=b)
    for now, before in zip([*args, y.data, y.mask], keep):
        np.testing.assert_array_equal(now, before)


def test_em_on_another_library_is_refused(other_library):
    """kalman_em runs on NumPy arrays only: another library's arrays raise TypeError saying how to convert."""
    args = [other_library.convert(v) for v in good_arguments().values()]
    with pytest.raises(TypeError, match=rf"^kalman_em runs on NumPy arrays; y is a {other_library.name} array: "
                                        r"convert it with np.asarray\(y\)"):
        kalman_em(*args, n_steps=1)
