"""The approximation ``gauss-newton``: see :class:`GaussNewton`."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ...families.base import Trait
from .base import Approximation, Role, register


@dataclass(frozen=True)
class GaussNewton(Approximation):
    r"""Gauss–Newton Hessian: :math:`\mathrm{diag}\,\nabla^2\ell \approx \sum_{i=1}^N (\nabla\ell_i)^2`.

    For a loss that is a sum :math:`\ell = \sum_{i=1}^N \ell_i`, the diagonal of the Hessian
    is replaced by the sum of the squared per-example gradients (elementwise squares): the
    diagonal "empirical Fisher", which Khan et al. (2018) call Gauss–Newton.  It needs no
    second derivatives and is non-negative, so the BLR's precision stays positive for every
    :math:`\rho \in (0, 1)`.  Applied after the delta method it is evaluated at the mean
    :math:`m_t` (online Gauss–Newton, OGN); without it, at samples :math:`\theta \sim q_t`
    (variational OGN).  Follow it with :class:`StochasticGradient` to sum over a minibatch
    (Khan & Rue 2023, Sec. 4.4).

    >>> GaussNewton().key, [t.name for t in GaussNewton().applies_to]
    ('gauss-newton', ['DIAGONAL_PRECISION'])
    """

    name = "Gauss-Newton Hessian"
    key = "gauss-newton"
    anchor = "ogn"
    statement = r"\mathrm{diag}\,\nabla^2\ell \approx \sum_{i=1}^{N} (\nabla\ell_i)^2"
    applies_to = frozenset({Trait.DIAGONAL_PRECISION})
    produces = frozenset({Role.GAUSS_NEWTON_SUM, Role.EXPECTED_GAUSS_NEWTON_SUM})

    def substitutions(self, terms):
        pairs = ((Role.HESSIAN, Role.GAUSS_NEWTON_SUM), (Role.EXPECTED_HESSIAN, Role.EXPECTED_GAUSS_NEWTON_SUM))
        return {terms[a]: terms[b] for a, b in pairs if a in terms and b in terms}


register(GaussNewton())
