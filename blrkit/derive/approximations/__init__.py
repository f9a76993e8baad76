r"""Approximations of the natural gradient, as composable objects (Khan & Rue 2023, Table 1).

Each approximation is a small immutable value in a module of its own: a name, a paper anchor, a one-line LaTeX
statement of the rewrite, the roles it requires and produces (:mod:`blrkit.derive.roles`), and the rewrite
itself (:meth:`Approximation.substitutions`), which a derivation applies to its current update, in the order
the user gave, like ``optax.chain``.  An expectation that no approximation removes stays an explicit
:math:`\mathbb{E}_q[\cdot]`; the emitted code estimates it by Monte Carlo.

Each module registers its approximation (:func:`register`); every module of this package is imported here, so
a new approximation is one new file.
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import APPROXIMATIONS, Approximation, Limit, Role, Stage, TextbookRewrite, register
from .delta import DeltaMethod
from .fixed_covariance import FixedCovariance
from .step_size import StepSize, UnitStep
from .stochastic import StochasticGradient
from .gauss_newton import GaussNewton
from .squared_gradient import SquaredGradient
from .reparam_hessian import ReparamHessian
from .responsibility import Responsibility
from .per_example_scale import PerExampleScale
from .square_root import SquareRoot
from .decoupled_step import DecoupledStep
from .gradient_average import GradientAverage
from .bias_correction import BiasCorrection
from .hessian_scale import HessianScale
from .effective_sample_size import EffectiveSampleSize
from .gauss_hermite import GaussHermite
from .relaxation import Relaxation
from .no_noise import NoNoise
from .constant_scale import ConstantScale
from .zero_temperature import ZeroTemperature
from .small_step import SmallStep
from .gradient_bias_correction import GradientBiasCorrection
from .chain import as_approximation, ordered

for _cls in (Approximation, Limit, TextbookRewrite, Stage, DeltaMethod, FixedCovariance, StepSize, UnitStep,
             StochasticGradient, GaussNewton, SquaredGradient, ReparamHessian, Responsibility, PerExampleScale,
             SquareRoot, DecoupledStep, GradientAverage, BiasCorrection, HessianScale, EffectiveSampleSize,
             GaussHermite, Relaxation, NoNoise, ConstantScale, ZeroTemperature, SmallStep, GradientBiasCorrection):
    _cls.__module__ = __name__  # their public home (as numpy's set_module): blrkit.derive.approximations.<name>

for _module in pkgutil.iter_modules(__path__):  # any other approximation module registers itself on import
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["APPROXIMATIONS", "Approximation", "BiasCorrection", "ConstantScale", "DecoupledStep", "DeltaMethod",
           "EffectiveSampleSize", "FixedCovariance", "GaussHermite", "GaussNewton", "GradientAverage",
           "GradientBiasCorrection", "HessianScale", "Limit", "NoNoise", "PerExampleScale", "Relaxation",
           "ReparamHessian", "Responsibility", "SmallStep", "SquareRoot", "SquaredGradient", "Stage", "StepSize",
           "StochasticGradient", "TextbookRewrite", "UnitStep", "ZeroTemperature", "as_approximation", "ordered",
           "register"]
