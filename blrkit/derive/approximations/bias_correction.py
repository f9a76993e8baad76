"""The approximation ``bias-correction``: see :class:`BiasCorrection`."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ...families.base import Trait
from .base import Role, TextbookRewrite, register


@dataclass(frozen=True)
class BiasCorrection(TextbookRewrite):
    r"""Adam's bias correction at step :math:`t = 1, 2, \dots`: :math:`\tilde g \to \tilde g/(1 - \beta_1^t)`
    and :math:`v \to v/(1 - (1-\rho)^t)` in the mean step.

    Not derived by the BLR: it undoes the zero initialisation of the averages, a step-size schedule
    in effect (Khan & Rue 2023, Sec. 4.2).
    """

    name = "bias correction"
    key = "bias-correction"
    anchor = "rmsprop"
    statement = r"\tilde g \to \frac{\tilde g}{1 - \beta_1^t},\ v \to \frac{v}{1 - (1-\rho)^t}"
    note = "in the mean step; a step-size schedule, not derived by the BLR"
    applies_to = frozenset({Trait.DIAGONAL_PRECISION})
    produces = frozenset({Role.STEP_NUMBER})

    def rewrite(self, update, terms):
        t = sp.Symbol("t", positive=True, integer=True)
        terms[Role.STEP_NUMBER] = t
        m_new, v_new = terms[Role.NEW_MEAN], terms.get(Role.NEW_PER_EXAMPLE_PRECISION, terms[Role.NEW_PRECISION])
        bc2 = 1 - (1 - terms[Role.STEP_SIZE]) ** t
        root = sp.sqrt(v_new)
        subs = {root: root / sp.sqrt(bc2)} if update[m_new].has(root) else {v_new: v_new / bc2}
        if Role.NEW_GRADIENT_AVERAGE in terms:
            g_avg_new = terms[Role.NEW_GRADIENT_AVERAGE]
            subs[g_avg_new] = g_avg_new / (1 - terms[Role.MOMENTUM_DECAY] ** t)
        return {lhs: (rhs.xreplace(subs) if lhs == m_new else rhs) for lhs, rhs in update.items()}


register(BiasCorrection())
