"""blrkit.algorithms.kalman.smoother: its own argument checks (its results are compared in test_filter beside the
filter's, against pykalman, filterpy and the joint-Gaussian posterior)."""

import numpy as np
import pytest

from algorithms.kalman.common import good_arguments, good_varying_arguments
from blrkit.algorithms import kalman_filter, rts_smoother


def test_smoother_rejects_bad_arguments(rng):
    filt = kalman_filter(**good_arguments())
    with pytest.raises(ValueError, match="Q"):
        rts_smoother(filt, np.eye(3), -np.eye(3))
    with pytest.raises(ValueError, match="F"):
        rts_smoother(filt, np.eye(2), np.eye(3))
    with pytest.raises(TypeError, match="filter_result"):
        rts_smoother((filt.means, filt.covariances), np.eye(3), np.eye(3))


def test_smoother_rejects_a_wrong_time_axis(rng):
    a = good_varying_arguments()
    filt = kalman_filter(**a)
    with pytest.raises(ValueError, match="F is declared time-varying"):
        rts_smoother(filt, a["F"][:3], np.eye(3), time_varying=("F",))
    with pytest.raises(ValueError, match="transition_offsets"):
        rts_smoother(filt, a["F"], np.eye(3), transition_offsets=np.zeros((3, 3)), time_varying=("F",))
