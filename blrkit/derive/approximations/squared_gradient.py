"""The approximation ``squared-gradient``: see :class:`SquaredGradient`."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ...families.base import Trait
from .base import Approximation, Role, register


@dataclass(frozen=True)
class SquaredGradient(Approximation):
    r"""Hessian by the squared minibatch gradient: :math:`\mathrm{diag}\,\nabla^2\ell \approx N\,\bar g\odot\bar g`.

    :math:`\bar g = \frac1M\sum_{i\in\mathcal{B}}\nabla\ell_i` is the mean minibatch gradient (what
    ``loss.mean().backward()`` gives), so the minibatch gradient :math:`\hat g_{\mathcal{B}} = M\bar g`.
    A crude curvature estimate: the gradient's magnitude (Khan & Rue 2023, Sec. 4.2, RMSprop/Adam).
    Follows :class:`StochasticGradient`.
    """

    name = "squared-gradient Hessian"
    key = "squared-gradient"
    anchor = "rmsprop"
    statement = r"\mathrm{diag}\,\nabla^2\ell \approx N\,\bar g\odot\bar g"
    applies_to = frozenset({Trait.DIAGONAL_PRECISION})
    requires = frozenset({Role.MINIBATCH_GRADIENT})
    produces = frozenset({Role.MEAN_MINIBATCH_GRADIENT})

    def substitutions(self, terms):
        return {terms[Role.MINIBATCH_GRADIENT]: terms[Role.BATCH_SIZE] * terms[Role.MEAN_MINIBATCH_GRADIENT],
                terms[Role.HESSIAN]: terms[Role.DATA_COUNT] * terms[Role.MEAN_MINIBATCH_GRADIENT] ** 2}


register(SquaredGradient())
