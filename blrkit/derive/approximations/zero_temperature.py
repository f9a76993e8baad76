"""The approximation ``zero-temperature``: see :class:`ZeroTemperature`."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .base import Limit, Role, register


@dataclass(frozen=True)
class ZeroTemperature(Limit):
    r"""τ → 0: the relaxed weight becomes the binary weight, :math:`\tanh(\lambda/\tau) \to \operatorname{sign}\lambda`."""

    name = "zero temperature"
    key = "zero-temperature"
    statement = r"\tau \to 0:\ \tanh(\lambda/\tau) \to \operatorname{sign}\lambda"
    note = "the gradient at the binary weights"

    requires = frozenset({Role.TANH_GRADIENT})
    produces = frozenset({Role.SIGN_GRADIENT})

    def rewrite(self, update, terms):
        lam, tau = terms[Role.NATURAL], terms[Role.TEMPERATURE]
        if sp.limit(sp.tanh(lam / tau).subs(lam, 1), tau, 0, "+") != 1:
            raise AssertionError("tanh(λ/τ) does not tend to sign λ")
        terms[Role.SIGN_GRADIENT] = sp.Symbol("g_sign", real=True)
        return update.subs(terms[Role.TANH_GRADIENT], terms[Role.SIGN_GRADIENT])


register(ZeroTemperature())
