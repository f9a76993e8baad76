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
    StepSize,
    StochasticGradient,
    UnitStep,
    as_approximation,
)
from .blr import component_loss, derive
from .conjugate import ConjugatePrior, Likelihood
from .derivation import Derivation, Equation, Step
from .duality import derive_local_parameters
from .errors import DerivationError
from .symbols import RHO
from .losses import (
    GLM_LOSSES,
    ComponentLoss,
    ExpressionLoss,
    GaussianPrior,
    GLMLoss,
    OracleLoss,
    glm_loss,
    isotropic_prior,
    linear_gaussian_loss,
    quadratic_loss,
)
from .parsing import parse_expression
from .recipes import RECIPES, Recipe

__all__ = [
    "derive_local_parameters",
    "APPROXIMATIONS", "Approximation", "DeltaMethod", "FixedCovariance", "GaussNewton", "StepSize",
    "StochasticGradient", "UnitStep", "as_approximation",
    "derive", "Derivation", "Equation", "Step", "DerivationError", "RHO",
    "ComponentLoss", "ConjugatePrior", "ExpressionLoss", "GaussianPrior", "GLMLoss", "GLM_LOSSES", "Likelihood",
    "OracleLoss", "component_loss", "glm_loss", "isotropic_prior", "linear_gaussian_loss", "quadratic_loss",
    "parse_expression", "RECIPES", "Recipe",
]
