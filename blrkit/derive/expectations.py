r"""Exact expectations :math:`\mathbb{E}_q[f(\theta)]` under an exponential family, term by term.

The BLR needs :math:`\mathbb{E}_q[\bar\ell(\theta)]` as a function of the expectation parameters
(Khan & Rue 2023, Sec. 1.2).  For a family :math:`q(\theta) = h(\theta)e^{\lambda^\top T(\theta) - A(\lambda)}`
three rules give it exactly, each a property of the family alone, so a new family needs no new
code:

1. **Statistics.** :math:`\mathbb{E}_q[T_k(\theta)] = \mu_k`: a term linear in :math:`T(\theta)`
   becomes linear in :math:`\mu` (this is conjugacy).
2. **Shifted partition.** A term :math:`e^{c^\top T(\theta)}` (for instance :math:`\theta^2 = e^{2\log\theta}`
   under a Gamma, whose :math:`T` holds :math:`\log\theta`) has
   :math:`\mathbb{E}_q[e^{c^\top T}] = e^{A(\lambda + c) - A(\lambda)}`, where it exists.
3. **Moments.** A polynomial in the statistics (θ⁴ = (θ²)² under a Gaussian, cos θ sin θ under a
   von Mises) has :math:`\mathbb{E}_q[\prod_k T_k^{a_k}] = \partial_c^a e^{A(\lambda + c) - A(\lambda)}|_{c=0}`,
   the derivatives of the moment-generating function of :math:`T(\theta)`.
4. **Enumeration.** On a binary support every :math:`f(\theta) = f(0) + (f(1) - f(0))\,\theta`
   (and likewise on one-hot codes).

Before the rules, logarithms and trigonometric functions of sums are expanded
(:math:`\cos(\theta - a) = \cos a\cos\theta + \sin a\sin\theta`), so a loss linear in T(θ) after the
expansion is found linear.

A term that none of them reaches raises :class:`~blrkit.derive.errors.DerivationError` naming it.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .errors import DerivationError


@dataclass(frozen=True)
class ExpectedLoss:
    r""":math:`\mathbb{E}_q[f] = \sum_k a_k\mu_k + R(\lambda) + c`: the part linear in :math:`\mu`
    (coefficients ``linear``), the rest ``remainder`` in :math:`\lambda`, and the terms of the rest."""

    linear: tuple
    remainder: sp.Basic
    constant: sp.Basic
    #: (coefficient, term, its expectation) of each term of the rest (rules 2 and 3): R = Σ coefficient × expectation
    shifted: tuple = ()
    #: the terms no rule reaches (only with ``monte_carlo=True``): estimated in the emitted code
    sampled: sp.Basic = sp.S.Zero

    def expression(self, family):
        """The whole expectation, μ-linear part in μ and the rest in λ."""
        return sum(a * m for a, m in zip(self.linear, family.expectation)) + self.remainder + self.constant


def _statistic_symbols(family):
    """Dummy symbols t_k for T_k(θ), and the substitution order (most complex statistic first)."""
    ts = [sp.Dummy(f"t{k}") for k in range(len(family.statistics))]
    order = sorted(range(len(family.statistics)), key=lambda k: -sp.count_ops(family.statistics[k]))
    return ts, order


def _in_statistics(expr, family):
    """``expr`` rewritten in the statistics (T_k → t_k), or None if θ survives.

    Term by term: a θ-dependent factor equal to a statistic becomes its t_k; otherwise SymPy's
    ``subs`` rewrites products of statistics (an inverse power such as 1/θ only by exact match,
    since ``subs(1/θ, t)`` would also turn θ into 1/t)."""
    ts, order = _statistic_symbols(family)
    stats = [sp.expand_log(t, force=True) for t in family.statistics]
    theta = set(family.theta)
    out = sp.S.Zero
    for term in sp.Add.make_args(sp.expand(sp.expand_log(expr, force=True))):
        coeff = sp.Mul(*[f for f in sp.Mul.make_args(term) if not (f.free_symbols & theta)])
        part = sp.Mul(*[f for f in sp.Mul.make_args(term) if f.free_symbols & theta])
        if part in stats:
            out += coeff * ts[stats.index(part)]
            continue
        for k in order:
            inverse = isinstance(stats[k], sp.Pow) and stats[k].exp.is_negative
            part = part.xreplace({stats[k]: ts[k]}) if inverse else part.subs(stats[k], ts[k])
        out += coeff * part
    out = sp.expand(out)
    return (None, ts) if out.has(*family.theta) else (out, ts)


def _enumerate_binary(expr, family):
    r"""On a support {0, 1}, :math:`f(\theta) = f(0) + (f(1) - f(0))\theta` exactly; on one-hot codes
    :math:`f(\theta) = f(0) + \sum_k (f(e_k) - f(0))\theta_k`."""
    kinds = [k for k, _ in family.support]
    if kinds not in (["binary"], ["one-hot"]):
        return expr
    zero = {t: 0 for t in family.theta}
    f0 = expr.xreplace(zero)
    out = f0
    for t in family.theta:
        out += (expr.xreplace({**zero, t: 1}) - f0) * t
    return sp.expand(out)


def expectation(expr, family, *, monte_carlo: bool = False) -> ExpectedLoss:
    r""":math:`\mathbb{E}_q[\text{expr}]` by the rules of the module docstring.

    >>> from blrkit.families import Gamma
    >>> q = Gamma()
    >>> (th,) = q.theta
    >>> e = expectation(th**2 - 3 * sp.log(th), q)
    >>> e.linear, sp.factor(e.remainder)
    ((-3, 0), (lambda_1 + 1)*(lambda_1 + 2)/lambda_2**2)
    """
    theta = set(family.theta)
    expr = _enumerate_binary(sp.expand(sp.expand_log(expr, force=True), trig=True), family)
    linear = [sp.S.Zero] * len(family.statistics)
    remainder, constant, shifted, sampled = sp.S.Zero, sp.S.Zero, [], sp.S.Zero
    for term in sp.Add.make_args(sp.expand(expr)):
        coeff = sp.Mul(*[f for f in sp.Mul.make_args(term) if not (f.free_symbols & theta)])
        part = sp.Mul(*[f for f in sp.Mul.make_args(term) if f.free_symbols & theta])
        if part == 1:
            constant += coeff
            continue
        lin, ts = _in_statistics(part, family)
        affine = _affine(lin, ts) if lin is not None else None
        if affine is not None:
            c, c0 = affine
            for k in range(len(ts)):
                linear[k] += coeff * c[k]
            constant += coeff * c0
            continue
        value = _shifted_partition(part, family)
        if value is None and lin is not None:
            value = _moments(lin, ts, family)
        if value is None and monte_carlo:
            sampled += coeff * part
            continue
        if value is None:
            raise DerivationError(
                f"E_q[{part}] has no closed form under the {family.name} family (it is neither linear in "
                f"T(θ) = {family.statistics} nor exp(cᵀT(θ))): write the loss in T(θ), or use a Gaussian "
                "candidate with the delta method ('delta')")
        remainder += coeff * value
        shifted.append((coeff, part, value))
    return ExpectedLoss(tuple(linear), remainder, constant, tuple(shifted), sampled)


def _shifted_partition(part, family):
    r""":math:`\mathbb{E}_q[e^{c^\top T(\theta) + c_0}] = e^{c_0 + A(\lambda + c) - A(\lambda)}`, or None."""
    log_part, ts = _in_statistics(sp.log(part), family)
    affine = _affine(log_part, ts) if log_part is not None else None
    if affine is None:
        return None
    c, c0 = affine
    shift = dict(zip(family.natural, [l + ck for l, ck in zip(family.natural, c)]))
    delta = c0 + family.log_partition.xreplace(shift) - family.log_partition
    # logs are expanded only where SymPy can prove it valid: forcing log(−λ) = log λ + iπ would leave the reals
    delta = sp.expand_log(delta.replace(sp.loggamma, lambda z: sp.log(sp.gamma(z))))
    value = sp.Mul(*[sp.exp(t) for t in sp.Add.make_args(sp.expand(delta))])
    return sp.factor(sp.gammasimp(value))


#: the largest total degree of a product of statistics whose expectation is taken from the partition
MOMENT_DEGREE = 6


def _moments(poly, ts, family):
    r""":math:`\mathbb{E}_q[\prod_k T_k^{a_k}] = \partial^a_c e^{A(\lambda + c) - A(\lambda)}\big|_{c=0}` (the
    moment-generating function of :math:`T(\theta)`), for a polynomial in the statistics (θ⁴ under a
    Gaussian, cos θ sin θ under a von Mises), or None."""
    try:
        p = sp.Poly(poly, *ts)
    except sp.PolynomialError:
        return None
    if p.total_degree() > MOMENT_DEGREE or any(c.has(*ts) for c in p.coeffs()):
        return None
    c = [sp.Dummy(f"c{k}") for k in range(len(ts))]
    shift = dict(zip(family.natural, [l + ck for l, ck in zip(family.natural, c)]))
    mgf = sp.exp(family.log_partition.xreplace(shift) - family.log_partition)
    at_zero = {ck: 0 for ck in c}
    out = sp.S.Zero
    for powers, coeff in p.terms():
        d = mgf
        for ck, a in zip(c, powers):
            if a:
                d = sp.diff(d, ck, a)
        out += coeff * sp.simplify(d.xreplace(at_zero))
    return sp.factor(sp.expand(out))


def _affine(expr, ts):
    """``(c, c0)`` with ``expr = Σ c_k t_k + c0`` and no t in c, c0; None if ``expr`` is not affine in t."""
    expr = sp.expand(expr)
    c = [expr.coeff(t, 1) for t in ts]
    c0 = expr.subs({t: 0 for t in ts})
    if any(x.has(*ts) for x in (*c, c0)) or sp.expand(sum(ck * t for ck, t in zip(c, ts)) + c0 - expr) != 0:
        return None
    return c, c0
