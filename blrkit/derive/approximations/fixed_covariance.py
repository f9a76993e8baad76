"""The approximation ``fixed-covariance``: see :class:`FixedCovariance`."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ...families.base import Trait
from .base import Approximation, Role, register


@dataclass(frozen=True)
class FixedCovariance(Approximation):
    r"""Fixed covariance: :math:`q = \mathcal{N}(m, I)`, only the mean is learned (Sec. 1.3).

    A rewrite of the family, not of an expectation: the entropy of :math:`q` is then
    constant, so the BLR reads :math:`\lambda \leftarrow \lambda - \rho\nabla_\mu\mathbb{E}_q[\bar\ell]`.
    It makes sense for Gaussian candidates only.
    """

    name = "fixed covariance"
    key = "fixed-covariance"
    anchor = "fixed-covariance"
    statement = r"q = \mathcal{N}(m, I)"
    applies_to = frozenset({Trait.GAUSSIAN})

    def substitutions(self, terms):
        return {}


register(FixedCovariance())
