"""The approximation ``reparam-hessian``: see :class:`ReparamHessian`."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ...families.base import Trait
from .base import Approximation, Role, register


@dataclass(frozen=True)
class ReparamHessian(Approximation):
    r"""The Hessian from gradients (Stein's lemma): :math:`\mathbb{E}_q[\nabla^2\ell] = \mathbb{E}_q[\nabla\ell(\theta)(\theta - m)^\top]\,S`.

    Bonnet's and Price's theorems written the other way round: for :math:`q = \mathcal{N}(m, S^{-1})`
    the expected Hessian is an expected product of the gradient with the deviation from the mean,
    so a Monte-Carlo sample of it needs no second derivative (the "reparameterisation" Hessian
    estimate of IVON, Shen et al. 2024, Sec. 3).  For the diagonal Gaussian, elementwise,
    :math:`\mathbb{E}_q[\mathrm{diag}\,\nabla^2\ell] = s\odot\mathbb{E}_q[\nabla\ell(\theta)\odot(\theta - m)]`.
    An identity, not an approximation; unlike the Gauss–Newton estimate it can be negative,
    which the improved BLR absorbs.
    """

    name = "reparameterisation Hessian"
    key = "reparam-hessian"
    anchor = "bonnet-price"
    statement = (r"\mathbb{E}_q[\mathrm{diag}\,\nabla^2\ell] = s\odot"
                 r"\mathbb{E}_q[\nabla\ell(\theta)\odot(\theta - m)]")
    applies_to = frozenset({Trait.DIAGONAL_PRECISION})
    exact = True
    produces = frozenset({Role.GRADIENT_DEVIATION})

    def substitutions(self, terms):
        if Role.EXPECTED_HESSIAN not in terms or Role.GRADIENT_DEVIATION not in terms:
            return {}
        return {terms[Role.EXPECTED_HESSIAN]: terms[Role.PRECISION] * terms[Role.GRADIENT_DEVIATION]}


register(ReparamHessian())
