"""The approximation ``constant-scale``: see :class:`ConstantScale`."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .base import Limit, Role, register


@dataclass(frozen=True)
class ConstantScale(Limit):
    r"""The scale :math:`(1 - w_\tau^2)/(\tau(1 - \mu^2))` replaced by a constant c > 0: as τ → 0 at ε = 0 it
    vanishes for every λ ≠ 0, so the straight-through estimator keeps a constant in its place."""

    name = "constant scale"
    key = "constant-scale"
    statement = r"\frac{1 - \tanh^2(\lambda/\tau)}{\tau(1 - \mu^2)} \to c"
    note = "its limit $\\tau \\to 0$ is 0: a constant stands in for it (absorbed into the step)"

    requires = frozenset({Role.RELAXATION_SCALE})
    produces = frozenset({Role.CONSTANT_SCALE})

    def rewrite(self, update, terms):
        terms[Role.CONSTANT_SCALE] = sp.Symbol("c_s", positive=True)
        return update.subs(terms[Role.RELAXATION_SCALE], terms[Role.CONSTANT_SCALE])


register(ConstantScale())
