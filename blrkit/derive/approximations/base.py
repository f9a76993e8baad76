r"""The interface of an approximation, and the registry the approximation modules fill.

An approximation is a small immutable value: a name, a ``key`` (its CLI name), a paper anchor, a one-line LaTeX
``statement``, the :class:`~blrkit.families.Trait`\ s of the candidates it ``applies_to``, the :class:`Stage` of the
derivation it acts in, and the :class:`~blrkit.derive.roles.Role`\ s it
``requires`` (an earlier stage of the chain must produce them), ``produces`` (it brings them into the update) and
``estimates`` (sums over the data it replaces by minibatch estimates).  The rewrite itself is
:meth:`Approximation.substitutions` (a substitution over the derivation's terms, keyed by role) or, for a
rewrite of the finished update, :meth:`TextbookRewrite.rewrite`.  Each approximation module calls
:func:`register` on its approximation; :mod:`.chain` checks an order from the declarations alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import sympy as sp

from ...families.base import Trait
from ...paper import cite
from ..roles import Role

__all__ = ["APPROXIMATIONS", "Approximation", "Limit", "Stage", "TextbookRewrite", "register"]


class Stage(Enum):
    """Where in a derivation an approximation acts, in the order the stages come."""

    NATURAL = "the natural gradient"
    EXPECTATION = "the expectations left"
    TEXTBOOK = "the textbook form"
    LIMIT = "the finished update, as a limit"


@dataclass(frozen=True)
class Approximation:
    """Base class: ``name``, ``key`` (CLI name), ``anchor``, a LaTeX ``statement`` and the declarations above."""

    name = "approximation"
    key = "approximation"
    anchor = "blr"
    statement = ""
    #: the traits of the candidates it applies to (:class:`~blrkit.families.Trait`; a candidate needs one of them;
    #: empty: every candidate)
    applies_to = frozenset()
    #: an identity rather than an approximation (printed with "=", not "≈")
    exact = False
    stage = Stage.NATURAL
    #: roles an earlier approximation of the chain must produce
    requires = frozenset()
    #: roles it brings into the update
    produces = frozenset()
    #: sums over the data it replaces by minibatch estimates (a later stage must not produce one of them)
    estimates = frozenset()
    #: the chain names the improved rule by itself (IVON): its title is not prefixed "Improved BLR"
    implies_improved_rule = False

    @property
    def label(self) -> str:
        """The name as a step label in a derivation."""
        return self.name[0].upper() + self.name[1:]

    @property
    def citation(self) -> str:
        return cite(self.anchor)

    @property
    def families(self) -> tuple:
        """The keys of the shipped families whose candidates it applies to (empty: every family), for the docs."""
        from ...families import FAMILIES

        return tuple(k for k, f in FAMILIES.items() if f.traits & self.applies_to) if self.applies_to else ()

    def substitutions(self, terms) -> dict:
        """The rewrite: a SymPy substitution over the derivation's ``terms`` (keyed by :class:`Role`)."""
        raise NotImplementedError

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Limit(Approximation):
    """A limit or assumption that turns BayesBiNN into the straight-through estimator (Khan & Rue 2023,
    Sec. 4.5): applied to the finished update, printed with ≈."""

    stage = Stage.LIMIT
    applies_to = frozenset({Trait.BINARY})
    anchor = "ste"
    note = ""

    def substitutions(self, terms):
        return {}

    def rewrite(self, update, terms):
        raise NotImplementedError


@dataclass(frozen=True)
class TextbookRewrite(Approximation):
    """A rewrite of the finished update in standard parameters (after the textbook form): a change of
    variables, or a modification that the BLR does not imply and that a popular optimiser makes."""

    stage = Stage.TEXTBOOK
    #: a few words after the statement in the printed step
    note = ""

    def rewrite(self, update: dict, terms) -> dict:
        """The update ``{lhs: rhs}`` after the rewrite (lhs symbols may be renamed); the roles it adds to
        ``terms`` are among those it declares in :attr:`produces`."""
        raise NotImplementedError

    def substitutions(self, terms):
        return {}

    def statement_in(self, terms) -> str:
        """The statement as printed in this derivation."""
        return self.statement


#: CLI name -> approximation, filled by :func:`register` as each approximation module is imported
#: (``"rho=<number>"`` is parsed by :func:`.chain.as_approximation`)
APPROXIMATIONS: dict[str, Approximation] = {}


def register(approximation: Approximation) -> Approximation:
    """Add ``approximation`` to :data:`APPROXIMATIONS` under its key; a key may be registered once."""
    if not isinstance(approximation, Approximation):
        raise TypeError(f"register takes an Approximation, got {type(approximation).__name__}")
    if approximation.key in APPROXIMATIONS and APPROXIMATIONS[approximation.key] != approximation:
        raise ValueError(f"approximation {approximation.key!r} is registered already")
    for roles in (approximation.requires, approximation.produces, approximation.estimates):
        if not all(isinstance(r, Role) for r in roles):
            raise TypeError(f"{approximation.key}: requires, produces and estimates are sets of Role")
    if not all(isinstance(t, Trait) for t in approximation.applies_to):
        raise TypeError(f"{approximation.key}: applies_to is a set of blrkit.families.Trait")
    APPROXIMATIONS[approximation.key] = approximation
    return approximation


def sympy_rational(value) -> sp.Rational:
    """``value`` as an exact rational in (0, 1] (a step size), or a ValueError naming rho."""
    try:
        v = sp.Rational(str(value).strip())
    except ZeroDivisionError:
        raise ValueError(f"rho must be a number in (0, 1], got {value!r} (a division by zero)") from None
    except (TypeError, ValueError, SyntaxError):
        raise ValueError(f"rho must be a number in (0, 1] such as 0.5 or 1/4, got {value!r}") from None
    if not 0 < v <= 1:
        raise ValueError(f"rho must be in (0, 1], got {value!r}")
    return v
