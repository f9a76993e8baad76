r"""The derive layer: BLR updates derived by SymPy, step by step (Khan & Rue 2023).

>>> from blrkit.derive import derive
>>> d = derive("gaussian-fixed-covariance", approximations=["delta"])
>>> from blrkit.derive.printing import latex
>>> latex(d.update[-1].rhs)
'm_t - \\rho \\nabla\\ell(m_t)'
"""

from .approximations import (
    APPROXIMATIONS,
    Approximation,
    DeltaMethod,
    FixedCovariance,
    GaussNewton,
    StochasticGradient,
    UnitStep,
)
from .blr import derive
from .derivation import Derivation, Equation, Step
from .gaussian import DerivationError
from .losses import ExpressionLoss, GaussianPrior, OracleLoss, linear_gaussian_loss, quadratic_loss
from .recipes import RECIPES, Recipe

__all__ = [
    "APPROXIMATIONS", "Approximation", "DeltaMethod", "FixedCovariance", "GaussNewton", "StochasticGradient",
    "UnitStep",
    "derive", "Derivation", "Equation", "Step", "DerivationError",
    "ExpressionLoss", "GaussianPrior", "OracleLoss", "linear_gaussian_loss", "quadratic_loss",
    "RECIPES", "Recipe",
]
