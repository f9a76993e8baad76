"""The approximation ``per-example-scale``: see :class:`PerExampleScale`."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ...families.base import Trait
from .base import Role, TextbookRewrite, register


@dataclass(frozen=True)
class PerExampleScale(TextbookRewrite):
    r"""The per-example precision :math:`v = s/N`: an exact change of variables.

    With :math:`s = Nv` the RMSprop form reads :math:`v_{t+1} = (1-\rho)v_t + \rho\,\bar g^2`,
    :math:`m_{t+1} = m_t - \rho\,\bar g/v_{t+1}` (Khan & Rue 2023, Sec. 4.2).
    """

    name = "per-example precision"
    key = "per-example-scale"
    anchor = "rmsprop"
    statement = r"s = N v"
    applies_to = frozenset({Trait.DIAGONAL_PRECISION})
    exact = True
    produces = frozenset({Role.PER_EXAMPLE_PRECISION, Role.NEW_PER_EXAMPLE_PRECISION})

    def rewrite(self, update, terms):
        s, s_new, N = terms[Role.PRECISION], terms[Role.NEW_PRECISION], terms[Role.DATA_COUNT]
        v, v_new = sp.Symbol("v", positive=True), sp.Symbol("v_new", positive=True)
        terms.update({Role.PER_EXAMPLE_PRECISION: v, Role.NEW_PER_EXAMPLE_PRECISION: v_new})
        out = {}
        for lhs, rhs in update.items():
            if lhs == s_new:
                out[v_new] = sp.factor_terms(sp.expand(rhs.subs(s, N * v) / N))
            else:
                out[lhs] = sp.factor_terms(sp.expand(rhs.subs({s_new: N * v_new, s: N * v})))
        return out


register(PerExampleScale())
