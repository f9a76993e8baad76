"""The approximation ``stochastic``: see :class:`StochasticGradient`."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .base import Approximation, Role, register


@dataclass(frozen=True)
class StochasticGradient(Approximation):
    r"""Minibatch gradient: :math:`\sum_{i=1}^N \nabla\ell_i \approx \frac{N}{M}\sum_{i\in\mathcal{B}}\nabla\ell_i`.

    An unbiased estimate from a minibatch :math:`\mathcal{B}` of :math:`M` of the
    :math:`N` terms (Khan & Rue 2023, Sec. 4.1).  A sum of squared per-example gradients
    left by :class:`GaussNewton` is estimated the same way,
    :math:`\sum_{i=1}^N (\nabla\ell_i)^2 \approx \frac{N}{M}\sum_{i\in\mathcal{B}}(\nabla\ell_i)^2`.
    """

    name = "stochastic gradient"
    key = "stochastic"
    anchor = "stochastic-gradient"
    statement = r"\nabla\ell \approx \tfrac{N}{M}\hat{g}_{\mathcal{B}}"
    produces = frozenset({Role.MINIBATCH_GRADIENT, Role.EXPECTED_MINIBATCH_GRADIENT, Role.MINIBATCH_GAUSS_NEWTON_SUM,
                          Role.EXPECTED_MINIBATCH_GAUSS_NEWTON_SUM, Role.MINIBATCH_GRADIENT_DEVIATION})
    estimates = frozenset({Role.GRADIENT, Role.EXPECTED_GRADIENT, Role.GAUSS_NEWTON_SUM,
                           Role.EXPECTED_GAUSS_NEWTON_SUM, Role.GRADIENT_DEVIATION})

    def substitutions(self, terms):
        scale = terms[Role.DATA_COUNT] / terms[Role.BATCH_SIZE]
        out = {}
        if Role.GRADIENT in terms and Role.MINIBATCH_GRADIENT in terms:
            out[terms[Role.GRADIENT]] = scale * terms[Role.MINIBATCH_GRADIENT]
        if Role.EXPECTED_GRADIENT in terms and Role.EXPECTED_MINIBATCH_GRADIENT in terms:
            out[terms[Role.EXPECTED_GRADIENT]] = scale * terms[Role.EXPECTED_MINIBATCH_GRADIENT]
        for full, batch in ((Role.GAUSS_NEWTON_SUM, Role.MINIBATCH_GAUSS_NEWTON_SUM),
                            (Role.EXPECTED_GAUSS_NEWTON_SUM, Role.EXPECTED_MINIBATCH_GAUSS_NEWTON_SUM),
                            (Role.GRADIENT_DEVIATION, Role.MINIBATCH_GRADIENT_DEVIATION)):
            if full in terms and batch in terms:
                out[terms[full]] = scale * terms[batch]
        return out


register(StochasticGradient())
