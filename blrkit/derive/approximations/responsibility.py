"""The approximation ``responsibility``: see :class:`Responsibility`."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ...families.base import Trait
from .base import Approximation, Role, register


@dataclass(frozen=True)
class Responsibility(Approximation):
    r"""Separated components: :math:`q(k\mid\theta) \approx 1` under the component :math:`q_k` of a mixture.

    Then :math:`\log q \approx \log\pi_k + \log q_k` where :math:`q_k` has its mass, so
    :math:`\mathbb{E}_{q_k}[\nabla\log q] \approx 0`, :math:`\mathbb{E}_{q_k}[\nabla^2\log q] \approx -S_k` and
    :math:`\mathbb{E}_{q_k}[\log q] \approx v_k + \tfrac12\log\det S_k + c` with :math:`c = -\log\pi_K -
    \tfrac D2\log 2\pi e` the same for every component (Khan & Rue 2023, Sec. 3.2).  Exact in the limit of
    components far apart; it does not penalise two components on the same mode.
    """

    name = "responsibility approximation"
    key = "responsibility"
    anchor = "multimodal"
    statement = r"q(k\mid\theta) \approx 1 \text{ under } q_k"
    applies_to = frozenset({Trait.MIXTURE})

    def substitutions(self, terms):
        if Role.MIXTURE_GRADIENT_LOG_Q not in terms:
            return {}
        from ..symbols import D

        c = sp.Symbol("c_q", real=True)
        return {terms[Role.MIXTURE_GRADIENT_LOG_Q]: sp.ZeroMatrix(D, 1),
                terms[Role.MIXTURE_HESSIAN_LOG_Q]: -terms[Role.PRECISION],
                terms[Role.MIXTURE_LOG_Q]: terms[Role.WEIGHT] + terms[Role.LOG_DET] / 2 + c,
                terms[Role.LAST_MIXTURE_LOG_Q]: terms[Role.LAST_WEIGHT] + terms[Role.LAST_LOG_DET] / 2 + c}


register(Responsibility())
