r"""Cheap tests that a candidate cannot match an update under a renaming, run before the symbolic solve.

A match needs parameter values :math:`\phi` (expressions of the user's hyperparameters :math:`\eta`,
free of the states and gradients) with :math:`f^{\text{user}}_s = f^{\text{derived}}_s(\phi)` for every
state :math:`s`, identically in the states and gradients :math:`x`.  Solving for :math:`\phi` is the
costly part of the search (:func:`blrkit.reverse.search.attempt`); each test below proves, without
solving, that no :math:`\phi` exists, state by state:

1. **Nothing to solve.**  When the derived value has no unknown parameter (those read by name are
   known), the two sides are evaluated at random points; a difference is a refusal.
2. **Degrees.**  When both sides are rational functions of :math:`x` (the user's in every symbol), write
   the user's in lowest terms :math:`p/q` and the derived one as :math:`P(\phi)/Q(\phi)` (any form).
   Putting in values of :math:`\phi` cannot raise a degree, and lowest terms over
   :math:`\mathbb{Q}(\eta)` stay lowest over any field containing :math:`\phi(\eta)` (a gcd does not
   change with the field), so :math:`\deg_{x_i} p \le \deg_{x_i} P` and
   :math:`\deg_{x_i} q \le \deg_{x_i} Q` for each variable, or there is no match.
3. **Coefficients.**  Then :math:`p\,Q(\phi) - P(\phi)\,q` is the zero polynomial in :math:`x`: at a
   random rational value of :math:`\eta`, a coefficient free of the unknowns that is not zero is a refusal.
4. **No common solution.**  At the same value, every coefficient is a polynomial equation over
   :math:`\mathbb{Q}` in the unknowns; the equations of the rational states, taken together (with
   :math:`z\,c(\phi) = 1` for the content :math:`c` of :math:`Q`, which is not zero), have no complex
   solution when their Gröbner basis is :math:`\{1\}`: a refusal (:class:`_System`).

A state whose value is not rational in :math:`x` (a square root of the states, as RMSprop's) is judged
by test 1 only.  The tests are sound for the search: a candidate they refuse is one the solver
could not match (its numeric points lie in :math:`(0.2, 0.9)`, where every identity the solver proves
holds); a refused candidate is reported with its reason, not solved.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache, reduce

import sympy as sp
from sympy.core.function import AppliedUndef

from .search import NONZERO, UserUpdate, bind
from .syntax import DATA_SUM

#: random points at which a difference is looked for (each a chance to see a nonzero value)
POINTS = 2


@dataclass(frozen=True)
class Refusal:
    """Why a candidate cannot match under a renaming: the user's state and a sentence."""

    state: str
    reason: str

    def text(self) -> str:
        return f"{self.state}_new: {self.reason}"


@dataclass(frozen=True)
class _Rational:
    """An expression as numerator / denominator, with the symbols it reads only rationally and their degrees."""

    numer: sp.Expr
    denom: sp.Expr
    degrees: dict   # symbol -> (degree in the numerator, degree in the denominator)


def _irrational_symbols(expr) -> set:
    """The symbols of ``expr`` that appear under a function, a data sum or a non-integer (or symbolic) power."""
    out: set = set()
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Pow) and not node.exp.is_Integer:
            out |= node.free_symbols
        elif isinstance(node, (sp.Function, AppliedUndef)):
            out |= node.free_symbols
    return out


@lru_cache(maxsize=4096)
def _rational(expr) -> _Rational | None:
    """``expr`` cancelled (every symbol and radical a generator), with the degrees of the symbols it reads
    rationally; ``None`` if SymPy cannot put it over one denominator."""
    try:
        numer, denom = sp.fraction(sp.cancel(sp.together(expr)))
        rational = sorted(expr.free_symbols - _irrational_symbols(expr), key=str)
        if not rational:
            return _Rational(numer, denom, {})
        pn, pd = sp.Poly(numer, *rational), sp.Poly(denom, *rational)
    except (sp.PolynomialError, sp.GeneratorsNeeded, TypeError, ValueError, RecursionError):
        return None
    return _Rational(numer, denom, {x: (pn.degree(x), pd.degree(x)) for x in rational})


def _is_rational(expr) -> bool:
    """Whether ``expr`` is a rational function of its symbols and data sums (nothing else: no radical, no
    function, no symbolic power), the sums reading no symbol that is a variable."""
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Pow) and not node.exp.is_Integer:
            return False
        if isinstance(node, (sp.Function, AppliedUndef)) and node.func != DATA_SUM:
            return False
    return True


def _point(symbols, rng) -> dict:
    """Random values in (0.2, 0.9) for ``symbols`` and data sums, in a fixed order (sorted by name)."""
    return {a: sp.Float(rng.uniform(0.2, 0.9)) for a in sorted(symbols, key=str)}


def _atoms(expr) -> set:
    return expr.free_symbols | expr.atoms(AppliedUndef)


def _nonzero(expr, rng) -> bool:
    """Whether ``expr`` is nonzero at one of :data:`POINTS` random points (an evaluation that fails is no
    evidence)."""
    for _ in range(POINTS):
        try:
            value = complex(expr.xreplace(_point(_atoms(expr), rng)).evalf())
        except (TypeError, ValueError, ZeroDivisionError):
            continue
        if value == value and abs(value) > NONZERO and abs(value) != float("inf"):
            return True
    return False


def _unknowns(expr) -> set:
    return {s for s in expr.free_symbols if s.name.startswith("_c_")}


@dataclass(frozen=True)
class Screening:
    """The tests' outcome under one renaming: the states refused, and those rational on both sides."""

    refusals: tuple     # Refusal, one per refused state, in the user's order of states
    rational: frozenset  # the user's states whose two sides are rational in the states and gradients

    @property
    def possible(self) -> bool:
        """No test refuses the candidate: only the solver can tell."""
        return not self.refusals


def screen(user: UserUpdate, cand, sigma: dict, gamma: dict, *, seed: int = 0) -> Screening:
    """Tests 1–3 of the module on each state of ``cand`` under the renaming ``sigma`` (states), ``gamma``
    (gradients): whether some parameter values could make it equal the user's update."""
    b = bind(user, cand, sigma, gamma)
    rng = random.Random(seed)
    rename = {**{sp.Symbol(c): sp.Symbol(u) for u, c in {**sigma, **gamma}.items()}, **b.unknown}
    image = {sp.Symbol(u): sp.Symbol(c) for u, c in {**sigma, **gamma}.items()}
    refusals, rational, system = [], set(), _System(rng)
    for s in sorted(user.states, key=lambda s: sp.count_ops(b.derived[s])):  # the solver's order
        derived = b.derived[s].xreplace(b.by_name)
        if not _unknowns(derived) and _nonzero(user.new[s] - derived, rng):  # test 1: nothing to solve
            refusals.append(Refusal(s, "no parameter to solve for, and the two sides differ at a random point"))
            continue
        mine, theirs = _rational_forms(user, cand.new[sigma[s]], s, image)
        if mine is None:
            continue
        rational.add(s)
        present = [x for x in user.variables if x in mine.degrees or image[x] in theirs.degrees]
        reason = _degrees(mine, theirs, user.variables, image) or \
            system.add(mine, theirs.numer.xreplace(rename).xreplace(b.by_name),
                       theirs.denom.xreplace(rename).xreplace(b.by_name), present, set(user.variables))
        if reason:
            refusals.append(Refusal(s, reason))
    order = {s: k for k, s in enumerate(user.states)}
    return Screening(tuple(sorted(refusals, key=lambda r: order[r.state])), frozenset(rational))


def _rational_forms(user: UserUpdate, theirs_expr, s: str, image: dict):
    """The user's value of ``s`` and the derived one as :class:`_Rational`, when both are rational in the
    variables (the user's in every symbol, its data sums reading no variable); else ``(None, None)``."""
    mine_expr = user.new[s]
    variables = set(user.variables)
    if not _is_rational(mine_expr) or any(variables & a.free_symbols for a in mine_expr.atoms(AppliedUndef)):
        return None, None
    mine, theirs = _rational(mine_expr), _rational(theirs_expr)
    if mine is None or theirs is None:
        return None, None
    if any(image[x] in theirs_expr.free_symbols and image[x] not in theirs.degrees for x in variables):
        return None, None  # the derived value reads a variable under a radical or a function
    return mine, theirs


def _degrees(mine: _Rational, theirs: _Rational, variables, image: dict) -> str:
    """Test 2: a degree of the user's value in lowest terms above the derived value's (else ``""``)."""
    for x in variables:
        have = mine.degrees.get(x, (0, 0))
        bound = theirs.degrees.get(image[x], (0, 0))
        for k, part in enumerate(("numerator", "denominator")):
            if have[k] > bound[k]:
                return (f"its {part} in lowest terms has degree {have[k]} in {x}, the derivation's {part} "
                        f"degree at most {bound[k]} whatever the parameters")
    return ""


#: test 4 is tried on systems this small only (a Gröbner basis can grow fast): unknowns, equations, degree
MAX_UNKNOWNS = 8
MAX_EQUATIONS = 40
MAX_DEGREE = 4


class _System:
    r"""Test 4: the rational states' equations at one random rational value of the hyperparameters (and data
    sums), accumulated state by state; a state whose equations have no common complex solution with the earlier
    states' (a Gröbner basis over ℚ of {1}) is refused, and left out of the system.

    A match :math:`\phi(\eta)` solves every coefficient equation at every :math:`\eta` where it is defined,
    so at a random one; the derived denominator :math:`Q` is not the zero polynomial there (else the update
    divides by zero), so neither is its content :math:`c(\phi)`, which a variable :math:`z_k` with
    :math:`z_k c(\phi) = 1` states.  The values are rationals with numerator and denominator up to 10⁴, so
    that hitting a value where the match is undefined is as unlikely as the other random points' coincidences.
    """

    def __init__(self, rng):
        self.rng = rng
        self.values: dict = {}
        self.equations: list = []
        self.gens: set = set()

    def _at(self, expr, variables):
        atoms = sorted((a for a in _atoms(expr) if a not in self.values and a not in variables and not _unknowns(a)),
                       key=str)
        for a in atoms:
            self.values[a] = sp.Rational(self.rng.randint(1, 10 ** 4), self.rng.randint(1, 10 ** 4))
        return expr.xreplace(self.values)

    def add(self, mine: _Rational, P, Q, present: list, variables) -> str:
        """Add one state's equations (``p Q - P q = 0`` coefficient by coefficient, ``z c(φ) = 1``); a reason if
        a coefficient is a nonzero number (test 3) or the system has no solution (test 4), else ``""`` (and the
        state's equations are kept)."""
        if not present:
            return ""
        p, q, P, Q = (self._at(e, variables) for e in (mine.numer, mine.denom, P, Q))
        unknowns = sorted(_unknowns(P) | _unknowns(Q), key=str)
        k = len(present)
        try:  # polynomials over Q in the variables and the unknowns: products of polynomials, not of expressions
            p, q, P, Q = (sp.Poly(e, *present, *unknowns, domain="QQ") for e in (p, q, P, Q))
        except (sp.PolynomialError, sp.GeneratorsNeeded, sp.CoercionFailed, TypeError, ValueError):
            return _constant_term(p * Q - P * q, present, self.rng)  # radicals of numbers: test 3 only
        coefficients = _by_monomial(p * Q - P * q, k)
        for monomial, coeff in coefficients.items():  # test 3: a coefficient free of the unknowns is zero
            if all(not any(u) for u in coeff):
                return _nonzero_term(present, monomial)
        if not unknowns:
            return ""
        z = sp.Symbol(f"_z_{len(self.equations)}")
        content = reduce(sp.gcd, (_expr(c, unknowns) for c in _by_monomial(Q, k).values()))
        new = [_expr(c, unknowns) for c in coefficients.values()] + [sp.expand(z * content - 1)]
        gens = self.gens | set(unknowns) | {z}
        if len([g for g in gens if not g.name.startswith("_z_")]) > MAX_UNKNOWNS \
                or len(self.equations) + len(new) > MAX_EQUATIONS \
                or any(sp.Poly(e, *unknowns, z).total_degree() > MAX_DEGREE for e in new):
            return ""
        equations = self.equations + new
        try:
            basis = sp.groebner(equations, *sorted(gens, key=str), order="grevlex", domain="QQ")
        except (sp.PolynomialError, sp.CoercionFailed, NotImplementedError, ValueError, TypeError):
            return ""
        if list(basis.exprs) == [1]:
            return ("its equations in the parameters (each coefficient of the two sides' difference, at random "
                    "rational hyperparameters) have no solution" + (" with the other states'" if self.equations
                                                                      else ""))
        self.equations, self.gens = equations, gens
        return ""


def _by_monomial(poly, k: int) -> dict:
    """The terms of ``poly`` (generators: ``k`` variables, then the unknowns) by their monomial in the variables:
    ``{variables' exponents: {unknowns' exponents: coefficient}}``."""
    out: dict = {}
    for monomial, c in poly.terms():
        if c:  # the zero polynomial has one term, 0
            out.setdefault(monomial[:k], {})[monomial[k:]] = c
    return out


def _expr(coefficient: dict, unknowns: list):
    """``{unknowns' exponents: number}`` as a polynomial expression in the unknowns."""
    return sp.Add(*(c * sp.Mul(*(u ** e for u, e in zip(unknowns, m))) for m, c in coefficient.items()))


def _nonzero_term(present: list, monomial) -> str:
    term = sp.Mul(*(x ** e for x, e in zip(present, monomial)))
    return ("the difference of the two sides over a common denominator has a term "
            + ("free of the states and gradients" if term == 1 else f"in {term}")
            + " whose coefficient is not zero whatever the parameters")


def _constant_term(expr, present: list, rng) -> str:
    """Test 3 on an expression (radicals of numbers in its coefficients): a coefficient free of the unknowns that
    is not zero."""
    try:
        terms = sp.Poly(sp.expand(expr), *present).terms()
    except (sp.PolynomialError, sp.GeneratorsNeeded, TypeError, ValueError):
        return ""
    for monomial, coeff in terms:
        if not _unknowns(coeff) and _nonzero(coeff, rng):
            return _nonzero_term(present, monomial)
    return ""
