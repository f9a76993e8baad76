"""The approximation ``delta``: see :class:`DeltaMethod`."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ...families.base import Trait
from .base import Approximation, Role, register


@dataclass(frozen=True)
class DeltaMethod(Approximation):
    r"""Delta method: :math:`\mathbb{E}_q[f(\theta)] \approx f(m)` (Khan & Rue 2023, Sec. 1.3).

    Applied to the expected gradient and Hessian of the loss, it turns the BLR into
    gradient descent (fixed covariance) or Newton's method (full covariance).

    >>> DeltaMethod().name
    'delta method'
    """

    name = "delta method"
    key = "delta"
    anchor = "delta-method"
    statement = r"\mathbb{E}_{q}[f(\theta)] \approx f(m)"
    applies_to = frozenset({Trait.FIXED_COVARIANCE, Trait.FULL_PRECISION, Trait.DIAGONAL_PRECISION, Trait.MIXTURE})
    # it brings no new term: it evaluates the terms already there at the mean (the candidate's own)

    def substitutions(self, terms):
        return {terms[e]: terms[p] for e, p in _AT_THE_MEAN if e in terms and p in terms}


#: each expectation under q and its value at the mean, in the order the step prints them
_AT_THE_MEAN = ((Role.EXPECTED_GRADIENT, Role.GRADIENT), (Role.EXPECTED_HESSIAN, Role.HESSIAN),
                (Role.EXPECTED_MINIBATCH_GRADIENT, Role.MINIBATCH_GRADIENT),
                (Role.EXPECTED_GAUSS_NEWTON_SUM, Role.GAUSS_NEWTON_SUM),
                (Role.EXPECTED_MINIBATCH_GAUSS_NEWTON_SUM, Role.MINIBATCH_GAUSS_NEWTON_SUM),
                (Role.COMPONENT_EXPECTED_GRADIENT, Role.COMPONENT_GRADIENT),
                (Role.COMPONENT_EXPECTED_HESSIAN, Role.COMPONENT_HESSIAN),
                (Role.COMPONENT_EXPECTED_LOSS, Role.COMPONENT_LOSS), (Role.LAST_EXPECTED_LOSS, Role.LAST_LOSS))

register(DeltaMethod())
