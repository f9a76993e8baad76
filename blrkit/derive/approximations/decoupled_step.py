"""The approximation ``decoupled-step``: see :class:`DecoupledStep`."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ...families.base import Trait
from .base import Role, TextbookRewrite, register


@dataclass(frozen=True)
class DecoupledStep(TextbookRewrite):
    r"""Decoupled step: the mean moves by its own learning rate :math:`\alpha` (``lr``), not by :math:`\rho`.

    The BLR ties the two; decoupling keeps the fixed points (Khan & Rue 2023, Sec. 4.2).
    """

    name = "decoupled step"
    key = "decoupled-step"
    anchor = "rmsprop"
    statement = r"\rho \to \alpha"
    note = "in the mean step; the fixed points stay"
    applies_to = frozenset({Trait.DIAGONAL_PRECISION})
    produces = frozenset({Role.LEARNING_RATE})

    def statement_in(self, terms) -> str:
        r"""The statement with the step size's letter in this derivation (:math:`\eta` where :math:`\alpha` is the
        prior precision, IVON)."""
        return r"\rho \to " + terms.get(Role.LEARNING_RATE_LATEX, r"\alpha")

    def rewrite(self, update, terms):
        lr = sp.Symbol("lr", positive=True)
        terms[Role.LEARNING_RATE] = lr
        m_new = terms[Role.NEW_MEAN]
        return {lhs: (rhs.subs(terms[Role.STEP_SIZE], lr) if lhs == m_new else rhs) for lhs, rhs in update.items()}


register(DecoupledStep())
