"""The approximation ``step-size``: see :class:`StepSize`."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .base import Approximation, Role, register, sympy_rational


@dataclass(frozen=True)
class StepSize(Approximation):
    r"""A numeric learning rate :math:`\rho \in (0, 1]` in place of the symbol (Khan & Rue 2023, Sec. 1.2).

    Written ``"rho=0.5"`` or ``"rho=1/4"``; the value is kept as an exact rational so that the
    derivation stays exact and prints it as a number.

    >>> StepSize("1/4").key, StepSize(0.5).statement
    ('rho=1/4', '\\rho = 1/2')
    """

    value: sp.Rational = sp.Integer(1)

    def __post_init__(self):
        object.__setattr__(self, "value", sympy_rational(self.value))

    anchor = "blr"

    @property
    def name(self) -> str:
        return f"rho = {self.value}"

    @property
    def label(self) -> str:
        return f"ρ = {self.value}"

    @property
    def key(self) -> str:
        return f"rho={self.value}"

    @property
    def statement(self) -> str:
        return rf"\rho = {self.value}"

    def substitutions(self, terms):
        return {terms[Role.STEP_SIZE]: self.value}


@dataclass(frozen=True)
class UnitStep(StepSize):
    r"""Learning rate :math:`\rho = 1` (Khan & Rue 2023, Sec. 5.1).

    For conjugate models :math:`\nabla_\mu\mathbb{E}_q[\bar\ell]` does not depend on
    :math:`\mu`, and one step reaches the exact posterior from any start.
    """

    value: sp.Rational = sp.Integer(1)
    anchor = "unit-step"


register(UnitStep())
