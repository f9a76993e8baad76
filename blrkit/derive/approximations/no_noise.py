"""The approximation ``no-noise``: see :class:`NoNoise`."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .base import Limit, Role, register


@dataclass(frozen=True)
class NoNoise(Limit):
    r"""No relaxation noise, ε = 0: the relaxed weight at the mean, :math:`w_\tau = \tanh(\lambda/\tau)` (STE's
    "delta method")."""

    name = "no relaxation noise"
    key = "no-noise"
    statement = r"\varepsilon = 0"
    note = "the delta method: the expectation over $\\varepsilon$ taken at $\\varepsilon = 0$"
    requires = frozenset({Role.RELAXED_GRADIENT})
    produces = frozenset({Role.RELAXATION_SCALE, Role.RELAXATION_SCALE_DEFINITION, Role.TANH_GRADIENT})

    def rewrite(self, update, terms):
        lam, tau = terms[Role.NATURAL], terms[Role.TEMPERATURE]
        scale, g_tanh = sp.Symbol("s_nonoise", positive=True), sp.Symbol("g_tanh", real=True)
        terms.update({Role.RELAXATION_SCALE: scale, Role.TANH_GRADIENT: g_tanh,
                      Role.RELAXATION_SCALE_DEFINITION: (1 - sp.tanh(lam / tau) ** 2) / (tau * (1 - sp.tanh(lam) ** 2))})
        return update.subs(terms[Role.RELAXED_GRADIENT], scale * g_tanh)


register(NoNoise())
