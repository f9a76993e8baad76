"""Families under test: every registered family (default size) plus other sizes worth checking."""

import pytest

from blrkit.families import (
    FAMILIES,
    Categorical,
    DiagonalGaussian,
    FixedCovarianceGaussian,
    MultivariateGaussian,
)

#: (test id, factory): the registry itself, so a new family is tested the moment it is registered,
#: then explicit sizes (1-D and 3-D Gaussians, K = 2 categorical).
UNDER_TEST = [(key, factory) for key, factory in FAMILIES.items()] + [
    ("multivariate-gaussian-D1", lambda: MultivariateGaussian(1)),
    ("multivariate-gaussian-D3", lambda: MultivariateGaussian(3)),
    ("gaussian-fixed-covariance-D2", lambda: FixedCovarianceGaussian(2, sigma2=0.5)),
    ("diagonal-gaussian-D1", lambda: DiagonalGaussian(1)),
    ("categorical-K2", lambda: Categorical(2)),
]


@pytest.fixture(params=[f for _, f in UNDER_TEST], ids=[k for k, _ in UNDER_TEST])
def family(request):
    return request.param()
