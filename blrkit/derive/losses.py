r"""Losses and priors a derivation starts from.

A loss is either a SymPy expression in θ (the BLR's expectations are then computed
exactly where the loss allows it) or a generic differentiable loss known only through
oracles :math:`g(\theta) = \nabla\ell(\theta)` and :math:`H(\theta) = \nabla^2\ell(\theta)`.
Priors :math:`p_0` are given in the candidate's family, by their natural parameters
:math:`\lambda_0` (Khan & Rue 2023, Sec. 1.2).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp
from sympy import Identity, Inverse, MatrixSymbol, ZeroMatrix

#: the symbolic dimension of θ, and of an observation
D = sp.Symbol("D", integer=True, positive=True)
O = sp.Symbol("O", integer=True, positive=True)  # noqa: E741
N = sp.Symbol("N", integer=True, positive=True)


@dataclass(frozen=True)
class OracleLoss:
    r"""A differentiable loss known through oracles: ``grad`` :math:`= \nabla\ell`, ``hess`` :math:`= \nabla^2\ell`.

    Examples: logistic regression, a neural network.  With ``hessian="diagonal"`` the
    oracle returns :math:`\mathrm{diag}\,\nabla^2\ell` (mean-field candidates).
    """

    name: str = "generic differentiable loss"
    hessian: str = "full"


@dataclass(frozen=True)
class ExpressionLoss:
    r"""A loss written as a SymPy expression in θ (a matrix expression for Gaussians).

    ``theta`` is the symbol the expression is written in; ``data`` names the arguments
    the emitted code takes for it, in order, each ``(symbol, doc)``.
    """

    name: str
    expr: sp.Basic
    theta: sp.Basic
    data: tuple = ()
    dims: tuple = ()
    #: "linear-gaussian" adds the Woodbury step to the Kalman gain form
    kind: str = ""

    def gradient(self):
        return sp.diff(self.expr, self.theta)

    def hessian(self):
        return sp.diff(self.gradient(), self.theta)


@dataclass(frozen=True)
class GaussianPrior:
    r"""A Gaussian prior :math:`p_0 = \mathcal{N}(m_0, S_0^{-1})`, i.e. :math:`\lambda_0 = (S_0 m_0, -\tfrac12 S_0)`."""

    mean: sp.Basic
    precision: sp.Basic
    description: str = ""
    data: tuple = field(default=())

    @property
    def natural(self):
        return (self.precision * self.mean, -self.precision / 2)


def quadratic_loss() -> tuple[ExpressionLoss, GaussianPrior]:
    r"""Linear regression: :math:`\ell(\theta) = \tfrac{1}{2\sigma^2}\|y - X\theta\|^2`, :math:`p_0 = \mathcal{N}(0, \alpha^{-1} I)`.

    >>> loss, prior = quadratic_loss()
    >>> from blrkit.derive.printing import latex
    >>> latex(loss.hessian())
    '\\frac{1}{\\sigma^2} X^\\top X'
    """
    theta = MatrixSymbol("theta", D, 1)
    X, y = MatrixSymbol("X", N, D), MatrixSymbol("y", N, 1)
    s2, alpha = sp.Symbol("noise_variance", positive=True), sp.Symbol("alpha", positive=True)
    r = y - X * theta
    loss = ExpressionLoss(
        "squared error", (r.T * r) / (2 * s2), theta,
        data=((X, "design matrix, (..., N, D)"), (y, "targets, (..., N)"),
              (alpha, "prior precision α (ridge penalty), scalar or (...)"),
              (s2, "noise variance σ², scalar or (...)")),
        dims=((D, "X.shape[-1]"),),
    )
    return loss, GaussianPrior(ZeroMatrix(D, 1), alpha * Identity(D), r"\mathcal{N}(0, \alpha^{-1} I)")


def linear_gaussian_loss() -> tuple[ExpressionLoss, GaussianPrior]:
    r"""Kalman measurement: :math:`\ell(\theta) = \tfrac12 (y - d - H\theta)^\top R^{-1} (y - d - H\theta)`, :math:`p_0 = \mathcal{N}(\bar m, \bar P)`.

    The prior is the predicted state; its precision is :math:`\bar P^{-1}`.  The observation
    offset :math:`d` (pykalman's ``observation_offsets``) enters the residual, so the derived
    update carries it.
    """
    theta = MatrixSymbol("theta", D, 1)
    H, R, y = MatrixSymbol("obs_matrix", O, D), MatrixSymbol("R", O, O), MatrixSymbol("y", O, 1)
    d = MatrixSymbol("d", O, 1)
    m_pred, P_pred = MatrixSymbol("m_pred", D, 1), MatrixSymbol("P_pred", D, D)
    r = y - d - H * theta
    loss = ExpressionLoss(
        "linear-Gaussian observation", (r.T * Inverse(R) * r) / 2, theta,
        data=((y, "observation, (..., O)"), (H, "observation matrix, (..., O, D)"),
              (R, "observation-noise covariance, (..., O, O)"),
              (d, "observation offset, (..., O); 0 for none")),
        dims=((D, "m_pred.shape[-1]"), (O, "y.shape[-1]")), kind="linear-gaussian",
    )
    prior = GaussianPrior(m_pred, Inverse(P_pred), r"\mathcal{N}(\bar m, \bar P)",
                          data=((m_pred, "predicted mean, (..., D)"),
                                (P_pred, "predicted covariance, (..., D, D)")))
    return loss, prior
