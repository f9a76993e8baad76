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
import random
from dataclasses import dataclass

import sympy as sp

#: a residual whose absolute value exceeds this at a random point (all symbols in (0.2, 0.9)) is not zero:
#: float64 evaluation of an expression of a few hundred operations errs by far less
NONZERO = 1e-8
#: the largest sampled system handed to ``sympy.solve`` (operations): larger ones are not attempted
MAX_SOLVE_OPS = 600
#: the most renamings tried per candidate
MAX_RENAMINGS = 48


@dataclass(frozen=True)
class UserUpdate:
    """The user's update with its symbols' roles: ``new`` maps each state to its new value."""

    states: tuple
    gradients: tuple
    hyperparameters: tuple
    new: dict

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

    @property
    def exact(self) -> bool:
        return all(r == 0 for r in self.residuals.values())

    @property
    def constants(self) -> int:
        """How many parameters are fixed to numbers (a degenerate reading, as α = 0): fewer is a better match."""
        return sum(1 for v in self.parameters.values() if not v.free_symbols)

    @property
    def size(self) -> int:
        """How large the residual is (SymPy operations), to rank near misses."""
        return sum(int(sp.count_ops(r)) + (r != 0) for r in self.residuals.values())


def _degenerate(derived: dict, solution: dict) -> bool:
    """Whether ``solution`` turns a derived update into 0/0 or a division by zero (``n_batch = 0``)."""
    for e in derived.values():
        for part in sp.preorder_traversal(e):
            if isinstance(part, sp.Pow) and part.exp.is_negative and sp.simplify(part.base.xreplace(solution)) == 0:
                return True
    return False


def _is_zero(expr, symbols, rng) -> bool:
    if expr == 0:
        return True
    for _ in range(2):
        point = {s: sp.Float(rng.uniform(0.2, 0.9)) for s in symbols}
        try:
            value = complex(expr.xreplace(point).evalf())
        except (TypeError, ValueError, ZeroDivisionError):
            continue
        if abs(value) > NONZERO:
            return False
    try:
        return sp.simplify(sp.cancel(sp.together(expr))) == 0 or sp.simplify(sp.expand(expr)) == 0
    except (TypeError, ValueError, RecursionError):
        return False


def _residual(expr):
    """``expr`` simplified, for printing (a size guard keeps simplification short)."""
    if expr == 0:
        return sp.Integer(0)
    try:
        r = sp.cancel(sp.together(expr))
        return sp.factor(r) if sp.count_ops(r) < 200 else r
    except (TypeError, ValueError, sp.PolynomialError):
        return expr


def _dependencies(expr, names) -> frozenset:
    return frozenset(s.name for s in expr.free_symbols if s.name in names)


def renamings(user: UserUpdate, cand):
    """State bijections and gradient injections whose dependencies agree (each state's new value reads the
    same old states and gradients in both updates)."""
    if len(user.states) != len(cand.states) or len(user.gradients) > len(cand.oracles):
        return
    udeps = {s: _dependencies(user.new[s], set(user.states + user.gradients)) for s in user.states}
    count = 0
    for perm in itertools.permutations(cand.states):
        sigma = dict(zip(user.states, perm))
        for image in itertools.permutations(cand.oracles, len(user.gradients)):
            gamma = dict(zip(user.gradients, image))
            back = {v: k for k, v in {**sigma, **gamma}.items()}
            if all(frozenset(back[n] for n in _dependencies(cand.new[sigma[s]], set(back))) == udeps[s]
                   for s in user.states):
                count += 1
                yield sigma, gamma
                if count >= MAX_RENAMINGS:
                    return


def attempt(user: UserUpdate, cand, sigma: dict, gamma: dict, *, seed: int = 0) -> Attempt:
    """Solve for the candidate's parameters under the renaming ``sigma``, ``gamma``; the residuals."""
    rng = random.Random(seed)
    rename = {sp.Symbol(c): sp.Symbol(u) for u, c in {**sigma, **gamma}.items()}
    derived = {s: cand.new[sigma[s]] for s in user.states}
    free = set().union(*(e.free_symbols for e in derived.values())) - set(rename)
    # the candidate's own parameters, kept apart from the user's names until solved
    unknown = {s: sp.Symbol("_c_" + s.name) for s in free}
    derived = {s: e.xreplace({**rename, **unknown}) for s, e in derived.items()}
    hyper = {sp.Symbol(h) for h in user.hyperparameters}
    solution = {u: sp.Symbol(s.name) for s, u in unknown.items() if sp.Symbol(s.name) in hyper}
    pending = [u for u in unknown.values() if u not in solution]
    solution.update(_solve(user, derived, solution, pending, rng))
    derived = {s: e.xreplace(solution) for s, e in derived.items()}
    symbols = set(user.variables) | hyper | set(unknown.values())
    residuals = {s: (sp.Integer(0) if _is_zero(user.new[s] - derived[s], symbols, rng)
                     else _residual(user.new[s] - derived[s])) for s in user.states}
    parameters = {s.name: solution.get(u, sp.Symbol(s.name)) for s, u in unknown.items()}
    parameters = {k: v.xreplace({u: sp.Symbol(s.name) for s, u in unknown.items()}) for k, v in parameters.items()}
    residuals = {k: v.xreplace({u: sp.Symbol(s.name) for s, u in unknown.items()}) for k, v in residuals.items()}
    return Attempt(cand, sigma, gamma, dict(sorted(parameters.items())), residuals)


def _solve(user: UserUpdate, derived: dict, known: dict, pending: list, rng) -> dict:
    """Unknown parameters solved state by state (smallest first) at random rational points of the variables."""
    solution: dict = {}
    variables = user.variables
    for s in sorted(user.states, key=lambda s: sp.count_ops(derived[s])):
        diff = user.new[s] - derived[s].xreplace(known).xreplace(solution)
        present = [u for u in pending if u in diff.free_symbols and u not in solution]
        if not present:
            continue
        points = [{v: sp.Integer(rng.randint(2, 13)) for v in variables} for _ in range(len(present) + 1)]
        eqs = [sp.together(diff.xreplace(p)) for p in points]
        eqs = [sp.numer(e) for e in eqs]
        if sum(sp.count_ops(e) for e in eqs) > MAX_SOLVE_OPS:
            continue
        try:
            found = sp.solve(eqs, present, dict=True)
        except (NotImplementedError, ValueError, TypeError, ZeroDivisionError):
            continue
        for f in found:
            if any(set(variables) & v.free_symbols for v in f.values()):
                continue
            if not _degenerate(derived, {**known, **solution, **f}):
                solution.update({k: sp.simplify(v) for k, v in f.items()})
                break
    return solution
