r"""Exponential families q(θ) for the Bayesian learning rule (Khan & Rue 2023, Sec. 1.2).

Each factory returns an immutable :class:`ExponentialFamily` (cached: calling it
twice gives the same object, so its derived quantities are computed once).
:data:`FAMILIES` maps the CLI key of every shipped family to its factory; the
contract tests in ``tests/families`` run over it, so a family is tested the
moment it is registered.

>>> sorted(FAMILIES)[:3]
['bernoulli', 'beta', 'categorical']
>>> FAMILIES["beta"]().name
'Beta'
"""

from __future__ import annotations

from typing import Callable

from blrkit.families.base import CONSTRAINTS, SUPPORTS, Draw, ExponentialFamily, Parameter, Trait
from blrkit.families.beta import Beta, Dirichlet
from blrkit.families.discrete import Bernoulli, Categorical, Poisson
from blrkit.families.gamma import Exponential, Gamma
from blrkit.families.gaussian import (
    DiagonalGaussian,
    FixedCovarianceGaussian,
    GaussianMatrixForm,
    MultivariateGaussian,
    UnivariateGaussian,
)
from blrkit.families.mixture import GaussianMixture
from blrkit.families.normal_gamma import NormalGamma

__all__ = [
    "CONSTRAINTS",
    "FAMILIES",
    "SUPPORTS",
    "Bernoulli",
    "Beta",
    "Categorical",
    "DiagonalGaussian",
    "Dirichlet",
    "Draw",
    "Exponential",
    "ExponentialFamily",
    "FixedCovarianceGaussian",
    "Gamma",
    "GaussianMatrixForm",
    "GaussianMixture",
    "MultivariateGaussian",
    "NormalGamma",
    "Parameter",
    "Poisson",
    "Trait",
    "UnivariateGaussian",
]

#: CLI key -> factory (called with no arguments it gives the default size).
FAMILIES: dict[str, Callable[..., ExponentialFamily]] = {
    "gaussian-fixed-covariance": FixedCovarianceGaussian,
    "gaussian": UnivariateGaussian,
    "multivariate-gaussian": MultivariateGaussian,
    "diagonal-gaussian": DiagonalGaussian,
    "bernoulli": Bernoulli,
    "categorical": Categorical,
    "beta": Beta,
    "gamma": Gamma,
    "exponential": Exponential,
    "poisson": Poisson,
    "dirichlet": Dirichlet,
    "normal-gamma": NormalGamma,
    "gaussian-mixture": GaussianMixture,
}
