"""The approximation ``hessian-scale``: see :class:`HessianScale`."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ...families.base import Trait
from .base import Role, TextbookRewrite, register


@dataclass(frozen=True)
class HessianScale(TextbookRewrite):
    r"""IVON's variables: the precision :math:`s = N(h + \delta)` and the prior precision :math:`\alpha = N\delta`.

    An exact change of variables for the BLR on :math:`\bar\ell = \sum_i\ell_i + \tfrac{N\delta}{2}\|\theta\|^2`
    with minibatch means :math:`\hat g = \frac1M\mathbb{E}_q[\hat g_{\mathcal{B}}]` and
    :math:`\hat h = s\odot\frac1M\mathbb{E}_q[\sum_{i\in\mathcal{B}}\nabla\ell_i\odot(\theta - m)]`:
    :math:`h` is the Hessian estimate of the *mean* loss and :math:`\delta` the weight decay
    (Shen et al. 2024, Alg. 1).  The improved BLR then reads
    :math:`h_{t+1} = (1-\rho)h_t + \rho\hat h + \tfrac{\rho^2}{2}(h_t - \hat h)^2/(h_t + \delta)`
    (without the last term under the plain BLR), which is checked against the derived precision
    update, and the mean step
    :math:`m_{t+1} = m_t - \rho(\hat g + \delta m_t)/(h_{t+1} + \delta)`, checked likewise.
    """

    name = "Hessian of the mean loss"
    key = "hessian-scale"
    anchor = "ivon"
    statement = r"s = N(h + \delta),\ \alpha = N\delta"
    note = "with minibatch means $\\hat g$, $\\hat h$: an exact change of variables"
    applies_to = frozenset({Trait.DIAGONAL_PRECISION})
    exact = True
    implies_improved_rule = True  # IVON is an improved BLR by name
    requires = frozenset({Role.GRADIENT_DEVIATION, Role.MINIBATCH_GRADIENT_DEVIATION})
    produces = frozenset({Role.HESSIAN_AVERAGE, Role.NEW_HESSIAN_AVERAGE, Role.WEIGHT_DECAY, Role.SAMPLED_GRADIENT,
                          Role.SAMPLED_GRADIENT_DEVIATION, Role.HESSIAN_ESTIMATE, Role.MEAN_MINIBATCH_GRADIENT,
                          Role.PRECISION_OF_STATE})

    def rewrite(self, update, terms):
        from ..algebra import is_zero
        from ..errors import DerivationError

        N, M, rho = terms[Role.DATA_COUNT], terms[Role.BATCH_SIZE], terms[Role.STEP_SIZE]
        s, s_new, m, m_new = terms[Role.PRECISION], terms[Role.NEW_PRECISION], terms[Role.MEAN], terms[Role.NEW_MEAN]
        h, h_new = sp.Symbol("h_avg", real=True), sp.Symbol("h_avg_new", real=True)
        delta = sp.Symbol("weight_decay", positive=True)
        g_hat, g_dev, h_hat = (sp.Symbol(n, real=True) for n in ("g_hat", "g_dev", "h_hat"))
        alpha = sp.Symbol("alpha", positive=True)
        plain = {k: v for k, v in update.items() if k not in (s_new, m_new)}  # the iBLR's intermediate B
        batch_dev = terms[Role.MINIBATCH_GRADIENT_DEVIATION]
        if s_new not in update or not update[s_new].subs(plain).has(batch_dev) or len(plain) > 1:
            raise DerivationError("hessian-scale rewrites the BLR with a reparameterisation Hessian on minibatches: "
                                  "give reparam-hessian and stochastic before it (and the improved rule for IVON)")
        improved = len(plain) == 1
        precision = N * (h + delta)
        subs = {s: precision, alpha: N * delta, terms[Role.EXPECTED_MINIBATCH_GRADIENT]: M * g_hat,
                terms[Role.MINIBATCH_GRADIENT_DEVIATION]: M * g_dev}
        s_rhs = update[s_new].subs(plain)
        h_rhs = s_rhs.subs(subs) / N - delta  # proved equal to the target by is_zero: no simplify needed
        h_hat_rhs = precision * g_dev
        target = (1 - rho) * h + rho * h_hat + (rho**2 / 2 * (h - h_hat)**2 / (h + delta) if improved else 0)
        if not is_zero(h_rhs - target.subs(h_hat, h_hat_rhs)):
            raise AssertionError(f"IVON's Hessian update does not follow from the derived precision: {h_rhs}")
        m_rhs = update[m_new].subs(plain).subs(s_new, N * (h_new + delta)).subs(subs)
        m_target = m - rho * (g_hat + delta * m) / (h_new + delta)
        if not is_zero(m_rhs - m_target):
            raise AssertionError(f"IVON's mean step does not follow from the derived one: {m_rhs}")
        terms.update({Role.HESSIAN_AVERAGE: h, Role.NEW_HESSIAN_AVERAGE: h_new, Role.WEIGHT_DECAY: delta,
                      Role.SAMPLED_GRADIENT: g_hat, Role.SAMPLED_GRADIENT_DEVIATION: g_dev, Role.HESSIAN_ESTIMATE: h_hat,
                      Role.MEAN_MINIBATCH_GRADIENT: g_hat, Role.PRECISION_OF_STATE: precision})
        return {h_hat: h_hat_rhs, h_new: target, m_new: m_target}


register(HessianScale())
