"""Shared by the Kalman tests: the model's positional arguments, missing rows, the
time-varying model, the pykalman mapping, and the other-library comparison."""

import numpy as np
from pykalman import KalmanFilter as PykalmanKF

from algorithms.tolerances import SAME_ARITHMETIC, assert_close
from blrkit.classical.problems import random_spd, random_state_space_model


def model_args(mod):
    return mod.F, mod.Q, mod.H, mod.R, mod.m0, mod.P0


def with_missing(y, rows):
    y = y.copy()
    y[..., rows, :] = np.nan
    return y


def assert_spd_everywhere(covs):
    sym = np.max(np.abs(covs - np.swapaxes(covs, -1, -2)))
    assert sym <= 1e-12 * np.max(np.abs(covs))
    assert np.min(np.linalg.eigvalsh(covs)) > 0


def stored_nbytes(a):
    """Bytes an array holds: axes of stride 0 (a broadcast view) count once."""
    return a.itemsize * int(np.prod([n for n, s in zip(a.shape, a.strides) if s != 0]))


def good_arguments():
    return dict(y=np.ones((5, 2)), F=np.eye(3), Q=np.eye(3), H=np.ones((2, 3)), R=np.eye(2), m0=np.zeros(3),
                P0=np.eye(3))


ALL_TIME_VARYING = ("F", "Q", "H", "R", "transition_offsets", "observation_offsets")


def varying_model(rng, D, O, T, varying=ALL_TIME_VARYING):
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


def pykalman_args(a):
    return PykalmanKF(transition_matrices=a["F"], observation_matrices=a["H"], transition_covariance=a["Q"],
                      observation_covariance=a["R"], transition_offsets=a["transition_offsets"],
                      observation_offsets=a["observation_offsets"], initial_state_mean=a["m0"],
                      initial_state_covariance=a["P0"])


def positional(a):
    return a["F"], a["Q"], a["H"], a["R"], a["m0"], a["P0"]


def offsets_of(a):
    return dict(transition_offsets=a["transition_offsets"], observation_offsets=a["observation_offsets"])


def good_varying_arguments(T=5):
    return dict(y=np.ones((T, 2)), F=np.stack([np.eye(3)] * (T - 1)), Q=np.eye(3), H=np.ones((T, 2, 3)),
                R=np.eye(2), m0=np.zeros(3), P0=np.eye(3), time_varying=("F", "H"))


PYKALMAN_EM_NAMES = dict(F="transition_matrices", Q="transition_covariance", H="observation_matrices",
                          R="observation_covariance", m0="initial_state_mean", P0="initial_state_covariance")


def other_library_tolerance(lib):
    # array-api-strict runs NumPy underneath: the same operations give the same floats, but its plain
    # loop is not the NumPy path's (no shared-covariance affine map, a padded rather than an indexed
    # update for missing components), so the sums differ in the last bits: SAME_ARITHMETIC (1e-12).
    # PyTorch and JAX call their own BLAS/LAPACK, which may sum in another order, over T steps: 1e-10
    # relative to the result's scale.
    return SAME_ARITHMETIC if lib.name == "array_api_strict" else 1e-10


def assert_fields_equal(got, want, lib, fields):
    for name in fields:
        value = getattr(got, name)
        assert isinstance(value, lib.array_type), (name, type(value))
        assert_close(lib.back(value), getattr(want, name), other_library_tolerance(lib))
