"""The approximation ``relaxation``: see :class:`Relaxation`."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ...families.base import Trait
from .base import Stage, Approximation, Role, register


@dataclass(frozen=True)
class Relaxation(Approximation):
    r"""The Gumbel-softmax (binary concrete) relaxation of :math:`w \sim q` on {−1, +1}: :math:`w_\tau =
    \tanh((\lambda + \varepsilon)/\tau)` with logistic noise ε, so that :math:`\nabla_\lambda\mathbb E_q[\ell]
    \approx \mathbb E_\varepsilon[\nabla_w\ell(w_\tau)\,\partial w_\tau/\partial\lambda]` (Khan & Rue 2023, Sec. 4.5;
    Maddison et al. 2017, Jang et al. 2017).  Biased for τ > 0; the bias shrinks with τ while the variance
    grows."""

    name = "Gumbel-softmax relaxation"
    key = "relaxation"
    anchor = "bayesbinn"
    statement = r"\mathbb{E}_q[\ell(w)] \approx \mathbb{E}_\varepsilon[\ell(w_\tau)],\ w_\tau = \tanh((\lambda + \varepsilon)/\tau)"
    applies_to = frozenset({Trait.BINARY})
    stage = Stage.EXPECTATION
    produces = frozenset({Role.RELAXED_GRADIENT})

    def substitutions(self, terms):
        return {}


register(Relaxation())
