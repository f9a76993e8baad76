r"""Matching a user's update against one candidate derivation.

A match is a renaming of the states (a bijection), of the gradient symbols (an injection into
the candidate's oracle terms), and a reparameterisation of the candidate's remaining symbols
(ρ, the learning rate, the data count, …) as expressions of the user's hyperparameters, such that
every state's new value is the same expression:

.. math::

    f^{\text{user}}_s(x, g; \eta) - f^{\text{derived}}_{\sigma(s)}(x, g; \phi(\eta)) = 0
    \quad\text{for all states } x \text{ and gradients } g.

The parameters :math:`\phi` are first read by name (``lr`` is ``lr``); the rest are solved for:
the identity must hold for every value of the states and gradients, so it holds at a few random
rational points, a system SymPy solves for the unknown parameters.  The solution is then checked
symbolically: the residual of every state must simplify to zero.
"""

from __future__ import annotations

import itertools
import os
import random
from dataclasses import dataclass, replace

import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef

#: a residual whose absolute value exceeds this at a random point (all symbols in (0.2, 0.9)) is not zero:
#: float64 evaluation of an expression of a few hundred operations errs by far less
NONZERO = 1e-8
#: a residual with square roots SymPy cannot simplify counts as zero if it is at this many random points ...
POINTS = 6
#: ... evaluated with this many digits (it must be below 10^(-DIGITS/2) at each)
DIGITS = 50
#: the largest sampled system handed to ``sympy.solve`` (operations): larger ones are not attempted
MAX_SOLVE_OPS = 150
#: the largest equation factored to drop nonzero factors (operations)
MAX_FACTOR_OPS = 60
#: the most renamings tried per candidate
MAX_RENAMINGS = 12


@dataclass(frozen=True)
class UserUpdate:
    """The user's update with its symbols' roles: ``new`` maps each state to its new value."""

    states: tuple
    gradients: tuple
    hyperparameters: tuple
    new: dict
    local: dict
    ordered: dict | None = None   # state -> new value on non-commutative symbols (products in the written order)

    @property
    def variables(self) -> tuple:
        """The symbols the identity must hold for: the states' old values and the gradients."""
        return tuple(sp.Symbol(n) for n in self.states + self.gradients)


@dataclass(frozen=True)
class Attempt:
    """One candidate tried: the renaming, the solved parameters and the residual of each state."""

    candidate: object
    states: dict          # user state -> candidate state
    gradients: dict       # user gradient -> candidate oracle term
    parameters: dict      # candidate symbol name -> SymPy expression of the user's hyperparameters
    residuals: dict       # user state -> user − derived (simplified)
    proofs: dict = None   # user state -> how its zero residual was shown ("symbolic" or "radicals")
    numeric: object = None  # the check against the emitted step (blrkit.reverse.numeric.NumericCheck), once run
    refusals: tuple = ()    # why no parameter values can match (blrkit.reverse.prune.Refusal), if known

    @property
    def exact(self) -> bool:
        """Every residual is zero (in one dimension) and the numeric check, if it ran, did not fail."""
        return all(r == 0 for r in self.residuals.values()) and not self.refuted

    @property
    def refuted(self) -> bool:
        """The numeric check against the emitted step (with matrices) computed both sides and they differ."""
        return self.numeric is not None and self.numeric.differs

    def simplified(self) -> "Attempt":
        """The same attempt with its residuals simplified for printing."""
        return replace(self, residuals={s: _residual(r) for s, r in self.residuals.items()})

    @property
    def constants(self) -> int:
        """How many parameters are fixed to numbers (a degenerate reading, as α = 0): fewer is a better match."""
        return sum(1 for v in self.parameters.values() if not v.free_symbols)

    @property
    def size(self) -> tuple:
        """How far off it is, to rank near misses: the states with a residual, then its SymPy operations."""
        return (sum(r != 0 for r in self.residuals.values()),
                sum(int(sp.count_ops(r)) for r in self.residuals.values()))


def _solutions(eqs, unknowns) -> list[dict]:
    """Solutions of polynomial ``eqs``: linear in the unknowns (any number), or in one unknown of degree ≤ 4.

    Anything else is not attempted (a general polynomial system can take SymPy minutes).
    """
    try:
        polys = [sp.Poly(sp.expand(e), *unknowns) for e in eqs]
    except (sp.PolynomialError, sp.GeneratorsNeeded, TypeError, ValueError):
        return []
    polys = [p for p in polys if not p.is_zero]
    if not polys:
        return []
    try:
        if all(p.total_degree() <= 1 for p in polys):
            return _linear(polys, unknowns)
        if len(unknowns) == 1 and polys[0].degree() <= 4:
            u = unknowns[0]
            roots = sp.solve(polys[0].as_expr(), u)
            return [{u: r} for r in roots
                    if all(_is_zero(p.as_expr().subs(u, r), random.Random(1)) for p in polys[1:3])]
    except (NotImplementedError, ValueError, TypeError, ZeroDivisionError):
        return []
    return []


def _linear(polys, unknowns) -> list[dict]:
    """The solution of a linear system, when it is consistent and determined; the system is first solved in
    floats at a random point of its other symbols (a symbolic elimination over sqrt(...) coefficients is slow)."""
    rows = [[p.coeff_monomial(u) for u in unknowns] for p in polys]
    rhs = [-p.coeff_monomial(1) for p in polys]
    point = _point(rows + [rhs], random.Random(2))
    try:
        A = np.array([[complex(c.xreplace(point).evalf()) for c in row] for row in rows])
        b = np.array([complex(c.xreplace(point).evalf()) for c in rhs])
    except (TypeError, ValueError):
        return []
    x, *_ = np.linalg.lstsq(A, b, rcond=None)
    if np.linalg.matrix_rank(A) < len(unknowns) or np.abs(A @ x - b).max() > 1e-8 * max(1.0, np.abs(b).max()):
        return []
    keep: list[int] = []
    for k in range(len(rows)):
        if np.linalg.matrix_rank(A[keep + [k]]) > len(keep):
            keep.append(k)
        if len(keep) == len(unknowns):
            break
    values = sp.Matrix([rows[k] for k in keep]).LUsolve(sp.Matrix([rhs[k] for k in keep]))
    return [{u: sp.cancel(v) for u, v in zip(unknowns, values)}]


def _point(exprs, rng) -> dict:
    """Random values in (0.2, 0.9) for every symbol and every undefined function application (``sum(y)``)."""
    atoms: set = set()
    for row in exprs:
        for e in (row if isinstance(row, (list, tuple)) else [row]):
            e = sp.sympify(e)
            atoms |= e.free_symbols | e.atoms(AppliedUndef)
    # in a fixed order (by name): a set's order changes with the process's string hashing
    return {a: sp.Float(rng.uniform(0.2, 0.9)) for a in sorted(atoms, key=str)}


def _degenerate(derived: dict, solution: dict) -> bool:
    """Whether ``solution`` turns a derived update into 0/0 or a division by zero (``n_batch = 0``)."""
    for e in derived.values():
        for part in sp.preorder_traversal(e):
            if isinstance(part, sp.Pow) and part.exp.is_negative \
                    and _is_zero(part.base.xreplace(solution).xreplace(solution), random.Random(3), symbolic=False):
                return True
    return False


def _is_zero(expr, rng, *, symbolic: bool = True) -> bool:
    """Whether ``expr`` is identically zero (see :func:`zero_proof`); ``symbolic=False``: two float points only."""
    return zero_proof(expr, rng, symbolic=symbolic) is not None


def zero_proof(expr, rng, *, symbolic: bool = True) -> str | None:
    """How ``expr`` was shown to be zero: ``"symbolic"`` (SymPy simplifies it to 0), ``"radicals"`` (SymPy
    cannot simplify its square roots, and it is zero to :data:`DIGITS` digits at :data:`POINTS` random points
    of the domain), or ``None`` (it is not zero: a point where it is not)."""
    if expr == 0:
        return "symbolic"
    for _ in range(2):
        point = _point([expr], rng)
        try:
            value = complex(expr.xreplace(point).evalf())
        except (TypeError, ValueError, ZeroDivisionError):
            continue
        if abs(value) > NONZERO:
            return None
    if not symbolic:
        return "numeric"
    try:
        if sp.simplify(sp.cancel(sp.together(expr))) == 0:
            return "symbolic"
        # sqrt(v/c) = sqrt(v)/sqrt(c) and the like hold for positive symbols: the update's domain
        positive = {s: sp.Symbol(s.name, positive=True) for s in expr.free_symbols}
        if sp.simplify(expr.xreplace(positive)) == 0:
            return "symbolic"
    except (TypeError, ValueError, RecursionError):
        pass
    if not expr.has(sp.Pow) or not any(p.exp.is_Rational and not p.exp.is_Integer for p in expr.atoms(sp.Pow)):
        return None
    for _ in range(POINTS):
        point = {a: sp.Float(rng.uniform(0.2, 0.9), DIGITS) for a in _point([expr], rng)}
        try:
            value = complex(expr.xreplace(point).evalf(DIGITS))
        except (TypeError, ValueError, ZeroDivisionError):
            return None
        if abs(value) > 10.0 ** (-DIGITS // 2):
            return None
    return "radicals"


def _residual(expr):
    """``expr`` simplified, for printing (a size guard keeps simplification short)."""
    if expr == 0 or sp.count_ops(expr) > 150:
        return expr
    try:
        r = sp.cancel(sp.together(expr))
        return sp.factor(r) if sp.count_ops(r) < 200 else r
    except (TypeError, ValueError, sp.PolynomialError):
        return expr


def _dependencies(expr, names) -> frozenset:
    """The names of ``names`` that ``expr`` reads, and its data sums (``sum(y)``), which must match as written."""
    return frozenset(s.name for s in expr.free_symbols if s.name in names) | _sums(expr)


def _sums(expr) -> frozenset:
    return frozenset(str(a) for a in expr.atoms(AppliedUndef))


def _similar(a: str, b: str) -> int:
    """How alike two names are: equal (100), else the length of their common prefix and suffix, ignoring case."""
    if a == b:
        return 100
    a, b = a.lower(), b.lower()
    prefix = len(os.path.commonprefix([a, b]))
    suffix = len(os.path.commonprefix([a[::-1], b[::-1]])) if prefix < min(len(a), len(b)) else 0
    return prefix + suffix


def renamings(user: UserUpdate, cand):
    """State bijections and gradient injections whose dependencies agree: each state's new value reads the
    same old states and gradients in both updates, and each gradient enters the same states' updates."""
    if len(user.states) != len(cand.states) or len(user.gradients) > len(cand.oracles):
        return
    names = set(user.states + user.gradients)
    udeps = {s: _dependencies(user.new[s], names) for s in user.states}
    used_by = {u: frozenset(s for s in user.states if u in udeps[s]) for u in user.gradients}
    cdeps = {c: _dependencies(cand.new[c], set(cand.states) | set(cand.oracles)) for c in cand.states}
    count = 0
    perms = sorted(itertools.permutations(cand.states),
                   key=lambda p: -sum(_similar(u, c) for u, c in zip(user.states, p)))
    for perm in perms:
        sigma = dict(zip(user.states, perm))
        if any(frozenset(u for u, c in sigma.items() if c in cdeps[sigma[s]]) != udeps[s] & set(user.states)
               or _sums(cand.new[sigma[s]]) != _sums(user.new[s]) for s in user.states):
            continue
        enters = {o: frozenset(s for s in user.states if o in cdeps[sigma[s]]) for o in cand.oracles}
        options = [[o for o in cand.oracles if enters[o] == used_by[u]] for u in user.gradients]
        images = sorted(itertools.product(*options),
                        key=lambda im: -sum(_similar(u, c) for u, c in zip(user.gradients, im)))
        for image in images:
            if len(set(image)) < len(image):
                continue
            count += 1
            yield sigma, dict(zip(user.gradients, image))
            if count >= MAX_RENAMINGS:
                return


def by_name(user: UserUpdate, cand) -> tuple[dict, dict] | None:
    """A renaming for the residual when no renaming has the same dependencies: equal names first, then in order."""
    if len(user.states) != len(cand.states) or len(user.gradients) > len(cand.oracles):
        return None
    def assign(mine, theirs):
        out = {n: n for n in mine if n in theirs}
        rest = [t for t in theirs if t not in out.values()]
        for n in mine:
            if n not in out:
                out[n] = rest.pop(0)
        return out
    return assign(user.states, cand.states), assign(user.gradients, cand.oracles)


@dataclass(frozen=True)
class Binding:
    """A candidate's update under a renaming: each user state's derived value on the user's names, with the
    candidate's parameters as unknowns (``_c_<name>``), and those read by name (``lr`` is ``lr``)."""

    derived: dict   # user state -> the candidate's new value, on the user's names and the unknowns
    unknown: dict   # candidate parameter symbol -> its unknown
    by_name: dict   # unknown -> the user's hyperparameter of the same name

    @property
    def pending(self) -> list:
        """The unknowns still to solve for, by name."""
        return sorted((u for u in self.unknown.values() if u not in self.by_name), key=lambda u: u.name)


def bind(user: UserUpdate, cand, sigma: dict, gamma: dict) -> Binding:
    """The candidate's update under the renaming ``sigma`` (states), ``gamma`` (gradients)."""
    rename = {sp.Symbol(c): sp.Symbol(u) for u, c in {**sigma, **gamma}.items()}
    derived = {s: cand.new[sigma[s]] for s in user.states}
    free = set().union(*(e.free_symbols for e in derived.values())) - set(rename)
    # the candidate's own parameters, kept apart from the user's names until solved
    unknown = {s: sp.Symbol("_c_" + s.name) for s in free}
    derived = {s: e.xreplace({**rename, **unknown}) for s, e in derived.items()}
    hyper = {sp.Symbol(h) for h in user.hyperparameters}
    return Binding(derived, unknown, {u: sp.Symbol(s.name) for s, u in unknown.items() if sp.Symbol(s.name) in hyper})


def attempt(user: UserUpdate, cand, sigma: dict, gamma: dict, *, seed: int = 0, solve_from=None,
            refusals: tuple = ()) -> Attempt:
    """Solve for the candidate's parameters under the renaming ``sigma``, ``gamma``; the residuals.

    ``solve_from``: the user's states whose equations the parameters are solved from (all by default); a
    near miss known not to match (``refusals``, from :func:`blrkit.reverse.prune.screen`) is solved from its
    other, rational states only, which is cheap, and carries its refusals."""
    rng = random.Random(seed)
    b = bind(user, cand, sigma, gamma)
    derived, unknown, solution, pending = b.derived, b.unknown, dict(b.by_name), b.pending
    solved = _solve(user, derived, solution, pending, rng,
                    user.states if solve_from is None else [s for s in user.states if s in solve_from])
    trial = {s: e.xreplace({**solution, **solved}) for s, e in derived.items()}
    if any(e.has(sp.nan, sp.zoo, sp.oo) for e in trial.values()) or _degenerate(derived, {**solution, **solved}):
        solved = {}  # a solution that divides by zero is no reading of the update
    solution.update(solved)
    derived = {s: e.xreplace(solution) for s, e in derived.items()}
    # each state's residual with the other new states taken from the derivation: an error in one state's
    # update shows in that state only ("VOGN minus the (1 - rho) factor on the precision")
    news = {sp.Symbol(s + "_new"): derived[s] for s in user.states}
    local = {s: user.local[s].xreplace(news) - derived[s] for s in user.states}
    proofs = {s: zero_proof(r, rng) for s, r in local.items()}
    residuals = {s: sp.Integer(0) if proofs[s] else r for s, r in local.items()}
    parameters = {s.name: solution.get(u, sp.Symbol(s.name)) for s, u in unknown.items()}
    parameters = {k: v.xreplace({u: sp.Symbol(s.name) for s, u in unknown.items()}) for k, v in parameters.items()}
    residuals = {k: v.xreplace({u: sp.Symbol(s.name) for s, u in unknown.items()}) for k, v in residuals.items()}
    return Attempt(cand, sigma, gamma, dict(sorted(parameters.items())), residuals,
                   {s: p for s, p in proofs.items() if p}, refusals=tuple(refusals))


def _equations(user: UserUpdate, diffs: list, rng) -> list:
    """Scalar equations in the unknown parameters: the coefficients of the numerator of each residual as a
    polynomial in the states and gradients (it vanishes for all their values), or, where they sit inside a
    function (``sqrt(v_new)``), its values at random rational points."""
    variables = user.variables
    eqs = []
    for diff in diffs:
        numer = sp.numer(sp.together(diff))
        present = [v for v in variables if v in numer.free_symbols]
        try:
            eqs += sp.Poly(numer, *present).coeffs() if present else [numer]
        except (sp.PolynomialError, sp.GeneratorsNeeded):
            points = [{v: sp.Integer(rng.randint(2, 13)) for v in variables} for _ in range(3)]
            eqs += [sp.numer(sp.together(diff.xreplace(p))) for p in points]
    return [e for e in eqs if sp.count_ops(e) <= MAX_SOLVE_OPS]


def _linear_in(e, u) -> bool:
    try:
        return sp.Poly(e, u).degree() == 1
    except (sp.PolynomialError, sp.GeneratorsNeeded):
        return False


def _essential(e, unknowns):
    """``e`` without its factors free of the unknowns or equal to one of them (a parameter is not zero)."""
    if sp.count_ops(e) > MAX_FACTOR_OPS:
        return e
    try:
        _, factors = sp.factor_list(e)
    except (sp.PolynomialError, NotImplementedError, ValueError, TypeError):
        return e
    keep = [f for f, _ in factors if set(unknowns) & f.free_symbols and f not in unknowns]
    return sp.Mul(*keep) if keep else sp.Integer(0)


def _solve(user: UserUpdate, derived: dict, known: dict, pending: list, rng, states) -> dict:
    """Unknown parameters solved one at a time from equations with a single unknown, then the rest jointly
    if they enter linearly; from the equations of ``states``."""
    variables = set(user.variables)
    order = sorted(states, key=lambda s: sp.count_ops(derived[s]))
    # each state's equations; a value solved from one is checked against its own state's equations only,
    # so that a wrong state (the user's error) leaves the other states' parameters solved
    per_state = [_equations(user, [user.new[s] - derived[s].xreplace(known)], rng) for s in order]
    eqs = [e for part in per_state for e in part]
    groups = [part for part in per_state for _ in part]
    group = None
    solution: dict = {}

    def holds(trial) -> bool:
        for e in (group if group is not None else eqs):
            e = e.xreplace(trial)
            if not (set(pending) & e.free_symbols) and not _is_zero(e, rng, symbolic=False):
                return False
        return True

    def accept(found) -> bool:
        for f in found:
            if any(variables & v.free_symbols for v in f.values()):
                continue
            if not _degenerate(derived, {**known, **solution, **f}) and holds({**solution, **f}):
                solution.update(f)
                for k in list(solution):
                    solution[k] = sp.cancel(solution[k].xreplace(f))
                return True
        return False

    memo: dict = {}

    def essential(e):
        if e not in memo:
            memo[e] = _essential(e, pending)
        return memo[e]

    progress = True
    while progress:
        progress = False
        for e, group in zip(eqs, groups):
            e = essential(e.xreplace(solution))
            present = [u for u in pending if u in e.free_symbols and u not in solution]
            if len(present) == 1 and accept(_solutions([e], present)):
                progress = True
                break
        group = None
        if progress:
            continue
        # parameters fixed only in combination (rho * n_data / n_batch = r * N / B): the user's unused
        # hyperparameters, most alike by name first
        rest = [u for u in pending if u not in solution]
        taken = {v for v in known.values()} | {x for v in solution.values() for x in v.free_symbols}
        unused = [sp.Symbol(h) for h in user.hyperparameters if sp.Symbol(h) not in taken]
        if rest and len(rest) <= 4 and len(unused) >= len(rest):
            trials = sorted(itertools.permutations(unused, len(rest)),
                            key=lambda p: -sum(_similar(u.name[3:], h.name) for u, h in zip(rest, p)))
            if any(accept([dict(zip(rest, p))]) for p in trials[:24]):
                continue
            # none satisfies every equation: keep the one that satisfies most, for the residual
            violated = [sum(1 for e in eqs if not (set(pending) & e.xreplace({**solution, **dict(zip(rest, p))})
                                                   .free_symbols)
                            and not _is_zero(e.xreplace({**solution, **dict(zip(rest, p))}), rng, symbolic=False))
                        for p in trials[:24]]
            solution.update(dict(zip(rest, trials[violated.index(min(violated))])))
            break
        # an equation that fixes only a combination (n_data / noise_variance = N / s2): solve it for its
        # first unknown, the others left free
        for e in eqs:
            e = essential(e.xreplace(solution))
            present = [u for u in pending if u in e.free_symbols and u not in solution]
            if len(present) > 1 and _linear_in(e, present[0]):
                roots = sp.solve(e, present[0])
                if roots and accept([{present[0]: roots[0]}]):
                    progress = True
                    break
    rest = [u for u in pending if u not in solution]
    if rest:
        current = [e.xreplace(solution) for e in eqs]
        current = [e for e in current if set(rest) & e.free_symbols]
        if current:
            accept(_solutions(current, rest))
    return solution
