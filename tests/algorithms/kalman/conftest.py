"""The Kalman tests' model fixture: a random state-space model and the constant-velocity model."""

import pytest

from blrkit.classical.problems import constant_velocity_model, random_state_space_model


@pytest.fixture(params=["random", "constant velocity"])
def model(request, rng):
    return random_state_space_model(rng, 4, 2) if request.param == "random" else constant_velocity_model()
