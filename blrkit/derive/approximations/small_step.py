"""The approximation ``small-step``: see :class:`SmallStep`."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .base import Limit, Role, register


@dataclass(frozen=True)
class SmallStep(Limit):
    r"""ρ → 0 with α = ρNc fixed: :math:`(1-\rho)\lambda \to \lambda` and the prior's pull ρλ₀ → 0, leaving
    :math:`\lambda \leftarrow \lambda - \alpha\,\bar g(\operatorname{sign}\lambda)`: STE with latent weights λ (checked
    as the limit)."""

    name = "small step"
    key = "small-step"
    statement = r"\rho \to 0,\ \rho N c = \alpha"
    note = "the latent weights of STE are $\\lambda$"

    requires = frozenset({Role.CONSTANT_SCALE, Role.SIGN_GRADIENT})
    produces = frozenset({Role.LEARNING_RATE})

    def rewrite(self, update, terms):
        lam, rho, n = terms[Role.NATURAL], terms[Role.STEP_SIZE], terms[Role.DATA_COUNT]
        lr = terms[Role.LEARNING_RATE] = sp.Symbol("lr", positive=True)
        c = terms[Role.CONSTANT_SCALE]
        target = lam - lr * terms[Role.SIGN_GRADIENT]
        gap = sp.expand(update.subs(c, lr / (rho * n)) - target)
        if sp.limit(gap, rho, 0) != 0:
            raise AssertionError(f"STE is not the small-step limit: {gap}")
        return target


register(SmallStep())
