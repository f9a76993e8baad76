r"""A request's loss at the entry of :func:`blrkit.derive.derive`: the loss object a candidate derives with, and
the name of the known algorithm a request reproduces (:mod:`.known`).

What differs between candidates (the default loss, what an expression in θ means) is asked of the candidate
(:meth:`default_loss`, :meth:`loss_in_theta`), never decided from its name.
"""

from __future__ import annotations

import re

import sympy as sp

from .errors import DerivationError
from .parsing import check_numbers

__all__ = ["as_loss", "component_loss", "known_algorithm_of", "no_stray_symbols"]


def as_loss(candidate, fam, loss):
    """The loss object for ``loss`` (see :func:`blrkit.derive.derive`); ``fam`` is the candidate's family object
    (``None`` for a Gaussian in general dimension)."""
    from .conjugate import Likelihood
    from .losses import ComponentLoss, ExpressionLoss, GLMLoss, OracleLoss

    if loss is None:
        default = candidate.default_loss(fam)
        if default is None:
            raise DerivationError(f"the {candidate.key} family has no default likelihood: give a loss in θ "
                                  f"({', '.join(map(str, fam.theta))}) or a Likelihood")
        return default
    if isinstance(loss, Likelihood) and fam is not None:
        no_stray_symbols(candidate.key, fam, loss.expr, {s for s, _ in loss.data})
    for expr in (getattr(loss, "expr", None), getattr(loss, "f", None)):  # every number a finite float64
        check_numbers(expr)
    if isinstance(loss, (OracleLoss, ExpressionLoss, GLMLoss, ComponentLoss, Likelihood)):
        return loss
    if isinstance(loss, str):
        raise DerivationError("give the loss as a SymPy expression (blrkit.derive.parsing.parse_expression "
                              "reads text safely), a GLMLoss, a Likelihood or an OracleLoss")
    if not isinstance(loss, sp.Basic):
        raise TypeError(f"loss must be a SymPy expression or a loss object, got {type(loss).__name__}")
    check_numbers(loss)
    return candidate.loss_in_theta(fam, loss)


def no_stray_symbols(key, fam, expr, known=frozenset()) -> None:
    """Refuse a loss in a symbol that is neither the family's θ, data ``y[i]`` nor a declared constant."""
    from .conjugate import Y

    stray = {s for s in expr.free_symbols if s not in fam.theta and s not in known and not isinstance(s, sp.Idx)}
    indexed = expr.atoms(sp.Indexed)  # data: y[i] (its label y is a free symbol too)
    stray -= indexed | {x.base.label for x in indexed} | {Y}
    if stray:
        raise DerivationError(f"the loss uses {', '.join(sorted(map(str, stray)))}, which is not the {key} "
                              f"family's θ ({', '.join(map(str, fam.theta))}) nor data y[i]")


def component_loss(expr):
    """A :class:`ComponentLoss` from an expression in ``theta`` or ``theta_1, theta_2, …``."""
    from .losses import ComponentLoss

    if not isinstance(expr, sp.Expr):
        raise TypeError(f"expr must be a SymPy expression in theta or theta_1, …, theta_D, got {type(expr).__name__}")
    names = {s.name: s for s in expr.free_symbols}
    if set(names) == {"theta"}:
        theta = (names["theta"],)
    else:
        idx = {}
        for name in names:
            match = re.fullmatch(r"theta_(\d+)", name)
            if not match or int(match.group(1)) < 1:
                raise DerivationError(f"the loss uses {name!r}, which is not a component of θ: write it in "
                                      "theta (D = 1) or theta_1, …, theta_D")
            idx[int(match.group(1))] = names[name]
        if not idx:
            raise DerivationError("the loss does not depend on θ")
        D_ = max(idx)
        theta = tuple(idx.get(i, sp.Symbol(f"theta_{i}", real=True)) for i in range(1, D_ + 1))
    real = {t: sp.Symbol(t.name, real=True) for t in theta}
    return ComponentLoss(expr.xreplace(real), tuple(real.values()))


def known_algorithm_of(candidate, loss, prior, approx) -> tuple[str | None, str | None]:
    """The title and paper anchor of the algorithm these choices reproduce: the recipe record whose request
    this is, else :mod:`.known`'s general rules (the kind of loss told by :func:`.known.loss_kind`)."""
    from .approximations import StepSize
    from .known import known_algorithm, loss_kind

    step = next((a.value for a in approx if isinstance(a, StepSize)), None)
    return known_algorithm(candidate.key, loss_kind(candidate.key, loss, prior), tuple(a.key for a in approx), step,
                           loss=loss, prior=prior)
