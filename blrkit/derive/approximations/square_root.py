"""The approximation ``square-root``: see :class:`SquareRoot`."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ...families.base import Trait
from .base import Role, TextbookRewrite, register


@dataclass(frozen=True)
class SquareRoot(TextbookRewrite):
    r"""Square-root scaling: :math:`v_{t+1} \to \sqrt{v_{t+1}} + \epsilon` in the mean step.

    A heuristic, not implied by the BLR (Khan & Rue 2023, Sec. 4.2): RMSprop and Adam divide by the
    root of the curvature estimate, and :math:`\epsilon` keeps the division finite (it stands where the
    prior's precision :math:`\delta/N` stood before the root made it inexact).
    """

    name = "square-root scaling"
    key = "square-root"
    anchor = "rmsprop"
    statement = r"v_{t+1} \to \sqrt{v_{t+1}} + \epsilon"
    note = "in the mean step; a heuristic, not implied by the BLR"
    applies_to = frozenset({Trait.DIAGONAL_PRECISION})
    produces = frozenset({Role.EPSILON})

    def rewrite(self, update, terms):
        scale = terms.get(Role.NEW_PER_EXAMPLE_PRECISION, terms[Role.NEW_PRECISION])
        eps = sp.Symbol("eps", positive=True)
        terms[Role.EPSILON] = eps
        m_new = terms[Role.NEW_MEAN]
        return {lhs: (rhs.subs(scale, sp.sqrt(scale) + eps) if lhs == m_new else rhs) for lhs, rhs in update.items()}


register(SquareRoot())
