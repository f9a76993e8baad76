"""blrkit.algorithms.kalman.model: bad arguments are named, inputs are never modified, docstrings cite the paper."""

import numpy as np
import pytest

from algorithms.kalman.common import model_args, good_arguments, good_varying_arguments, with_missing
from blrkit.algorithms import kalman_em, kalman_filter, rts_smoother
from blrkit.classical.problems import random_state_space_model


def test_inputs_not_modified(rng):
    mod = random_state_space_model(rng, 3, 2)
    y = with_missing(mod.sample(rng, 50), [4])
    args = [y, *model_args(mod)]
    keep = [a.copy() for a in args]
    filt = kalman_filter(*args)
    keep_f = filt.means.copy(), filt.covariances.copy()
    rts_smoother(filt, mod.F, mod.Q)
    for a, k in zip(args, keep):
        np.testing.assert_array_equal(a, k)
    np.testing.assert_array_equal(filt.means, keep_f[0])
    np.testing.assert_array_equal(filt.covariances, keep_f[1])


@pytest.mark.parametrize("change, match", [
    (dict(Q=-np.eye(3)), "Q"), (dict(R=np.zeros((2, 2))), "R"), (dict(P0=np.diag([1.0, 1.0, -1.0])), "P0"),
    (dict(Q=np.array([[1.0, 2.0, 0], [0, 1.0, 0], [0, 0, 1.0]])), "Q"), (dict(F=np.eye(2)), "F"),
    (dict(H=np.ones((3, 3))), "H"), (dict(R=np.eye(3)), "R"), (dict(m0=np.zeros(2)), "P0|F|Q"),
    (dict(y=np.r_[np.ones((4, 2)), [[np.inf, 1.0]]]), "y"),
    (dict(F=np.full((3, 3), np.nan)), "F"), (dict(m0=np.array([0, np.inf, 0])), "m0"),
    (dict(y=np.ones((4, 5, 2)), F=np.stack([np.eye(3)] * 3)), "batch"), (dict(y=np.ones(5)), "y"),
])
def test_bad_arguments_raise_naming_them(change, match):
    args = good_arguments() | change
    with pytest.raises(ValueError, match=match):
        kalman_filter(**args)


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
        kalman_filter(**(good_varying_arguments() | change))


def test_docstrings_cite_the_paper_registry():
    """The drivers cite their sections through blrkit.paper's anchors (Sec. 5.1 Kalman, 5.2 EM)."""
    from blrkit.paper import cite

    for fn in (kalman_filter, rts_smoother):
        assert cite("kalman").replace("Khan & Rue 2023, ", "") in fn.__doc__
    assert cite("em").replace("Khan & Rue 2023, ", "") in kalman_em.__doc__


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
    args = {k: xp.asarray(v) for k, v in (good_arguments() | change).items()}
    with pytest.raises(ValueError, match=match):
        kalman_filter(**args)
