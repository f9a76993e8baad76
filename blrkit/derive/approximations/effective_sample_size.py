"""The approximation ``effective-sample-size``: see :class:`EffectiveSampleSize`."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ...families.base import Trait
from .base import Role, TextbookRewrite, register


@dataclass(frozen=True)
class EffectiveSampleSize(TextbookRewrite):
    r"""The effective sample size: :math:`N \to N_{\mathrm{ess}}` in the precision :math:`s = N(h + \delta)`.

    IVON's ``ess`` (Shen et al. 2024, Sec. 3): the BLR's posterior when :math:`N_{\mathrm{ess}} = N`,
    a tempered one otherwise (:math:`N_{\mathrm{ess}} > N` sharpens q, the common choice for
    deep networks).  It enters only the spread of the samples, :math:`\sigma^2 = 1/s`.
    """

    name = "effective sample size"
    key = "effective-sample-size"
    anchor = "ivon"
    statement = r"N \to N_{\mathrm{ess}}"
    note = "in $s = N(h + \\delta)$; tempering unless $N_{\\mathrm{ess}} = N$"
    applies_to = frozenset({Trait.DIAGONAL_PRECISION})
    requires = frozenset({Role.PRECISION_OF_STATE})
    produces = frozenset({Role.EFFECTIVE_SAMPLE_SIZE})

    def rewrite(self, update, terms):
        ess = sp.Symbol("ess", positive=True)
        terms[Role.EFFECTIVE_SAMPLE_SIZE] = ess
        terms[Role.PRECISION_OF_STATE] = terms[Role.PRECISION_OF_STATE].subs(terms[Role.DATA_COUNT], ess)
        return {lhs: rhs.subs(terms[Role.DATA_COUNT], ess) for lhs, rhs in update.items()}


register(EffectiveSampleSize())
