"""The approximation ``gradient-average``: see :class:`GradientAverage`."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ...families.base import Trait
from .base import Role, TextbookRewrite, register


@dataclass(frozen=True)
class GradientAverage(TextbookRewrite):
    r"""Slow-moving mean of gradients (Adam's momentum): :math:`\bar g \to \tilde g_{t+1}` in the mean step,
    :math:`\tilde g_{t+1} = \beta_1\tilde g_t + (1 - \beta_1)\bar g`.

    The BLR with heavy-ball momentum in natural parameters becomes this when the scale vectors move
    slowly (:math:`s_{t-1}/s_{t+1} \approx 1`); Adam averages the gradients before dividing by the
    current scale, which is exactly what that approximation ignores (Khan & Rue 2023, Sec. 4.2).
    """

    name = "slow-moving gradient average"
    key = "gradient-average"
    anchor = "rmsprop"
    statement = r"\bar g \to \tilde g_{t+1} = \beta_1 \tilde g_t + (1 - \beta_1)\bar g"
    note = "in the mean step; momentum with slowly moving scale vectors"
    applies_to = frozenset({Trait.DIAGONAL_PRECISION})
    produces = frozenset({Role.GRADIENT_AVERAGE, Role.NEW_GRADIENT_AVERAGE, Role.MOMENTUM_DECAY})

    def rewrite(self, update, terms):
        g_avg, g_avg_new = sp.Symbol("g_avg", real=True), sp.Symbol("g_avg_new", real=True)
        beta1 = sp.Symbol("beta1", positive=True)
        terms.update({Role.GRADIENT_AVERAGE: g_avg, Role.NEW_GRADIENT_AVERAGE: g_avg_new, Role.MOMENTUM_DECAY: beta1})
        m_new, g = terms[Role.NEW_MEAN], terms[Role.MEAN_MINIBATCH_GRADIENT]
        out = {g_avg_new: beta1 * g_avg + (1 - beta1) * g}
        out.update({lhs: (rhs.subs(g, g_avg_new) if lhs == m_new else rhs) for lhs, rhs in update.items()})
        return out


register(GradientAverage())
