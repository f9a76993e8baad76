"""The approximation ``gradient-bias-correction``: see :class:`GradientBiasCorrection`."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ...families.base import Trait
from .base import Role, TextbookRewrite, register


@dataclass(frozen=True)
class GradientBiasCorrection(TextbookRewrite):
    r"""Bias correction of the gradient average only: :math:`\tilde g \to \tilde g/(1 - \beta_1^t)` in the
    mean step, as IVON does (Shen et al. 2024, Alg. 1); the Hessian estimate starts from
    :math:`h_0` and is not corrected.  Not derived by the BLR: a step-size schedule in effect.
    """

    name = "gradient bias correction"
    key = "gradient-bias-correction"
    anchor = "ivon"
    statement = r"\tilde g \to \frac{\tilde g}{1 - \beta_1^t}"
    note = "in the mean step; a step-size schedule, not derived by the BLR"
    applies_to = frozenset({Trait.DIAGONAL_PRECISION})
    requires = frozenset({Role.NEW_GRADIENT_AVERAGE})
    produces = frozenset({Role.STEP_NUMBER})

    def rewrite(self, update, terms):
        t = sp.Symbol("t", positive=True, integer=True)
        terms[Role.STEP_NUMBER] = t
        m_new, g = terms[Role.NEW_MEAN], terms[Role.NEW_GRADIENT_AVERAGE]
        return {lhs: (rhs.xreplace({g: g / (1 - terms[Role.MOMENTUM_DECAY] ** t)}) if lhs == m_new else rhs)
                for lhs, rhs in update.items()}


register(GradientBiasCorrection())
