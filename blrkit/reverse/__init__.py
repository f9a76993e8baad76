r"""Is this update a BLR instance?  Reverse lookup of an update rule among the derivations blrkit makes.

The forward direction (:func:`blrkit.derive.derive`) goes from a candidate family, a loss and
approximations to an update (Khan & Rue 2023, Sec. 1.2).  :func:`identify` goes backwards: given an
update rule — the states it advances, the gradient symbols it reads, its hyperparameters — it
searches the derivations the engine makes for one whose emitted update is the same expression up
to a renaming of the states and gradients and a reparameterisation of the hyperparameters, which it
solves for and prints (Adam's :math:`\beta_2` is :math:`1 - \rho`).  If none matches, it returns the
closest candidates with the symbolic residual of each state.

>>> r = identify("m_new = m - lr*g/(sqrt(v_new) + eps); v_new = b2*v + (1 - b2)*g**2",
...              state=["m", "v"], gradient=["g"], hyperparameters=["lr", "eps", "b2"])
>>> r.matched, r.recipe, r.mapping["rho"]
(True, 'rmsprop', 1 - b2)
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

import sympy as sp

from .candidates import recipe_candidates, variant_candidates
from .numeric import D, NumericCheck, check
from .prune import screen
from .search import Attempt, UserUpdate, attempt, by_name, renamings
from .syntax import as_assignments, parse_update

#: how many near misses an unmatched update reports
CLOSEST = 3
#: the search spaces: the recipes, or the recipes and their neighbours in the engine's space
SPACES = ("recipes", "engine")


@dataclass(frozen=True)
class Identification:
    """The outcome of :func:`identify`.

    Attributes
    ----------
    matched : bool
        Whether some derivation's update equals the user's (every residual simplifies to zero).
    matches : tuple of Attempt
        The exact matches (several recipes may print the same update, e.g. damped Newton and Laplace).
    closest : tuple of Attempt
        Without a match, the nearest candidates (smallest residual first), each with its residuals.
    numeric : NumericCheck or None
        For a match, the user's update against the emitted step at random states.
    explanation : dict
        Candidate key -> a sentence naming the approximation that would remove its residual, if one does.
    user : UserUpdate
        The update as read, with its roles.
    refuted : tuple of Attempt
        The candidates equal to the update in one dimension whose emitted step differs from it with
        matrices (off the diagonal, or in a product's order): no match.
    """

    matched: bool
    matches: tuple
    closest: tuple
    numeric: NumericCheck | None
    user: UserUpdate
    explanation: dict = field(default_factory=dict)
    refuted: tuple = ()

    @property
    def best(self) -> Attempt | None:
        return (self.matches or self.closest or (None,))[0]

    @property
    def recipe(self) -> str | None:
        """The recipe matched (``None`` without a match)."""
        return self.matches[0].candidate.recipe if self.matched else None

    @property
    def recipes(self) -> tuple:
        """Every matching candidate's key."""
        return tuple(a.candidate.key for a in self.matches)

    @property
    def mapping(self) -> dict:
        """The matched candidate's parameters as expressions of the user's hyperparameters."""
        return dict(self.matches[0].parameters) if self.matched else {}

    def text(self) -> str:
        """The outcome as a few lines for a terminal."""
        if self.matched:
            a = self.matches[0]
            d = a.candidate.derivation
            lines = [f"a BLR instance: {d.title} (recipe {a.candidate.key}; family {d.family}; "
                     f"approximations: {', '.join(x.key for x in d.approximations) or 'none'})"]
            if len(self.matches) > 1:
                lines.append("  also: " + ", ".join(m.candidate.key for m in self.matches[1:]))
            lines.append("  states: " + ", ".join(f"{u} -> {c}" for u, c in a.states.items()))
            if a.gradients:
                lines.append("  gradients: " + ", ".join(f"{u} -> {c}" for u, c in a.gradients.items()))
            lines.append("  parameters: " + (", ".join(f"{k} = {v}" for k, v in a.parameters.items()) or "none"))
            how = sorted(set((a.proofs or {}).values()))
            lines.append("  residual: 0 for every state (" + ", ".join(
                {"symbolic": "simplified by SymPy",
                 "radicals": "square roots SymPy cannot simplify: zero to 50 digits at 6 random points"}[h]
                for h in how) + ")")
            if self.numeric is not None:
                lines.append("  " + self.numeric.text())
            if self.refuted:
                lines.append("  not: " + ", ".join(a.candidate.key for a in self.refuted) + f" (equal in one dimension, "
                             f"not with {D}×{D} matrices: off the diagonal or in a product's order)")
            return "\n".join(lines)
        if not self.closest:
            return (f"not an instance: no derivation advances {len(self.user.states)} state(s) reading "
                    "the same states and gradients")
        lines = ["not an instance of any derivation searched; the closest:"]
        for a in self.closest:
            lines.append(f"  {a.candidate.key} ({a.candidate.title}); "
                         + ", ".join(f"{k} = {v}" for k, v in a.parameters.items()))
            lines += [f"    residual {s}_new: user − derived = {r}" for s, r in a.residuals.items() if r != 0]
            if a.refuted:
                lines.append(f"    residual 0 in one dimension, but not with {D}×{D} matrices: the updates differ off "
                             f"the diagonal or in a product's order ({a.numeric.text()})")
            if a.refusals:
                lines.append("    no parameter values match: " + "; ".join(r.text() for r in a.refusals))
            if a.candidate.key in self.explanation:
                lines.append(f"    {self.explanation[a.candidate.key]}")
        return "\n".join(lines)

    __str__ = text


def _names(value, what: str) -> tuple:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [v for v in value.replace(",", " ").split() if v]
    try:
        names = tuple(str(getattr(v, "name", v)) for v in value)
    except TypeError:
        raise TypeError(f"{what} must be a list of names, got {type(value).__name__}") from None
    for n in names:
        if not n.isidentifier():
            raise ValueError(f"{what}: {n!r} is not a name")
    if len(set(names)) != len(names):
        raise ValueError(f"{what}: a name is given twice in {list(names)}")
    return names


def read_update(update, *, state, gradient=(), hyperparameters=None) -> UserUpdate:
    """The user's update with its roles checked; intermediate terms and new states substituted.

    Raises ``ValueError`` naming the part: a state without ``<state>_new = …``, a gradient or a
    hyperparameter that does not appear, a symbol with no role, a name with two roles.
    """
    assignments = as_assignments(update)
    states = _names(state, "state")
    gradients = _names(gradient, "gradient")
    hyper = None if hyperparameters is None else _names(hyperparameters, "hyperparameters")
    if not states:
        raise ValueError("state: name at least one state (the update assigns <state>_new)")
    for role, names in (("gradient", gradients), ("hyperparameters", hyper or ())):
        both = set(names) & set(states)
        if both:
            raise ValueError(f"{role}: {sorted(both)[0]!r} is also a state")
    if hyper and set(hyper) & set(gradients):
        raise ValueError(f"hyperparameters: {sorted(set(hyper) & set(gradients))[0]!r} is also a gradient")
    for s in states:
        if s + "_new" not in assignments:
            raise ValueError(f"state {s!r} does not appear: the update has no '{s}_new = ...' "
                             f"(it assigns {', '.join(assignments)})")
    new, local = _resolve(assignments, states, sp.Symbol)
    ordered = None
    if isinstance(update, str):  # the same update with each product's order kept, for the check with matrices
        ordered, _ = _resolve(parse_update(update, ordered=True), states,
                              lambda n: sp.Symbol(n, commutative=False))
    used = {x.name for e in new.values() for x in e.free_symbols}
    for g in gradients:
        if g not in used:
            raise ValueError(f"gradient {g!r} does not appear in the update")
    if hyper is None:
        hyper = tuple(sorted(used - set(states) - set(gradients)))
    else:
        for h in hyper:
            if h not in used:
                raise ValueError(f"hyperparameters: {h!r} does not appear in the update")
        unknown = sorted(used - set(states) - set(gradients) - set(hyper))
        if unknown:
            raise ValueError(f"update: {unknown[0]!r} is neither a state, a gradient nor a hyperparameter")
    return UserUpdate(states, gradients, hyper, new, local, ordered)


def _resolve(assignments: dict, states: tuple, symbol) -> tuple[dict, dict]:
    """Each state's new value with the intermediate terms and the other new states substituted, and with the
    intermediate terms only (``symbol(name)`` makes the symbols of the left-hand sides)."""
    targets = {symbol(n): e for n, e in assignments.items()}
    news = {symbol(s + "_new") for s in states}
    local = _substitute(dict(targets), {k: v for k, v in targets.items() if k not in news})
    resolved = _substitute(local, {k: local[k] for k in news})
    for k, v in resolved.items():
        if set(targets) & v.free_symbols:
            raise ValueError(f"update: {k.name!r} is defined through itself")
    return ({s: resolved[symbol(s + "_new")] for s in states}, {s: local[symbol(s + "_new")] for s in states})


def _substitute(exprs: dict, definitions: dict) -> dict:
    """``exprs`` with ``definitions`` substituted until nothing changes (a circle is an error)."""
    out = dict(exprs)
    for _ in range(len(definitions) + 1):
        nxt = {k: v.xreplace(definitions) for k, v in out.items()}
        if nxt == out:
            return out
        out = nxt
        definitions = {k: v.xreplace(definitions) for k, v in definitions.items()}
    raise ValueError("update: the assignments refer to each other in a circle")


def _explain(a: Attempt, user: UserUpdate) -> str:
    """An approximation that removes the residual: ρ = 1, or a small step (first order in ρ)."""
    rho = a.parameters.get("rho")
    if rho is None or not isinstance(rho, sp.Symbol) or rho.name not in user.hyperparameters:
        return ""
    res = [r for r in a.residuals.values() if r != 0]
    if all(sp.simplify(r.subs(rho, 1)) == 0 for r in res):
        return f"the residual vanishes at {rho} = 1: the approximation rho=1 explains it"
    try:
        if all(sp.simplify(sp.series(r, rho, 0, 2).removeO()) == 0 for r in res):
            return f"the residual is O({rho}²): the approximation small-step explains it"
    except (ValueError, NotImplementedError, TypeError):
        return ""
    return ""


def identify(update, *, state, gradient=(), hyperparameters=None, space: str = "recipes",
             seed: int = 0) -> Identification:
    r"""Which BLR derivation, if any, is this update?

    Parameters
    ----------
    update : str, dict or sequence of sympy.Eq
        The update: text in the syntax of :mod:`blrkit.reverse.syntax`
        (``"m_new = m - lr*g; ..."``), ``{"m_new": expression}``, or equations ``Eq(m_new, ...)``.
    state : list of str
        The states the update advances; each needs an assignment ``<state>_new = ...``.
    gradient : list of str, optional
        The symbols that stand for oracle terms (gradient, Hessian, squared gradient, …).
    hyperparameters : list of str, optional
        The remaining symbols (step sizes, decay rates, data counts, the data).  When given, any
        other symbol is an error; when omitted, every symbol that is not a state or gradient is one.
    space : {"recipes", "engine"}
        Search the recipes of :data:`blrkit.derive.RECIPES` (derived once per process), or also their
        neighbours: the other rule, ρ symbolic, one approximation fewer.
    seed : int
        Seed of the random points used to solve for the parameters and of the numeric check.

    Returns
    -------
    Identification
        ``matched``, the matching recipes with the renaming and the parameters
        (:attr:`~Identification.mapping`), the numeric check against the emitted step; or the closest
        candidates with their residuals.

    Notes
    -----
    Each candidate is first screened by cheap tests that prove no parameter values can match
    (:mod:`blrkit.reverse.prune`: a random point, degrees, coefficients, a Gröbner basis at random
    rational hyperparameters); only the others are solved for symbolically.  Without a match, a refused
    candidate is still a near miss, solved from its rational states and reported with the reason.

    The search compares updates in one dimension (:mod:`blrkit.reverse.candidates`); each match is
    then run against its emitted step with :data:`~blrkit.reverse.numeric.D`-dimensional states,
    every matrix symmetric positive definite and far from diagonal (:mod:`blrkit.reverse.numeric`),
    and one that differs there is no match (:attr:`Identification.refuted`): ``diag(H)`` for ``H``,
    ``g/diag(S)`` for ``inv(S)*g``, ``B*B*inv(S)`` for ``B*inv(S)*B``.  A step that reads data arrays
    is not run, so for it a transpose or a product's order is not checked.

    Examples
    --------
    >>> identify("m_new = m - lr*g", state="m", gradient="g").mapping
    {'rho': lr}
    >>> r = identify("s_new = s + rho*h; m_new = m - rho*g/s_new", state="s m", gradient="g h")
    >>> near = {a.candidate.key: a for a in r.closest}["diagonal_newton"]
    >>> r.matched, near.residuals["s"], near.residuals["m"]
    (False, rho*s, 0)
    """
    if space not in SPACES:
        raise ValueError(f"space must be one of {', '.join(SPACES)}, got {space!r}")
    user = read_update(update, state=state, gradient=gradient, hyperparameters=hyperparameters)
    candidates = recipe_candidates() + (variant_candidates() if space == "engine" else ())
    matches, near, refused = [], [], {}
    for cand in candidates:
        best = None
        for sigma, gamma in renamings(user, cand):
            screening = screen(user, cand, sigma, gamma, seed=seed)
            if not screening.possible:  # no parameter values match: not solved, kept for the near misses
                refused.setdefault(cand.key, (sigma, gamma, screening))
                continue
            a = attempt(user, cand, sigma, gamma, seed=seed)
            if a.exact:
                matches.append(a)
                break
            if best is None or a.size < best.size:
                best = a
        else:
            if best is not None:
                near.append(best)
    if not matches:  # residuals of the candidates refused, or whose dependencies differ (renamed by name)
        tried = {a.candidate.key for a in near}
        for cand in candidates:
            if cand.key in tried:
                continue
            if cand.key in refused:
                sigma, gamma, screening = refused[cand.key]
            elif (fallback := by_name(user, cand)) is not None:
                sigma, gamma = fallback
                screening = screen(user, cand, sigma, gamma, seed=seed)
            else:
                continue
            # solved from the states that are rational on both sides only: cheap (no square roots), and these
            # still fix the parameters of the states that are right
            near.append(attempt(user, cand, sigma, gamma, seed=seed, solve_from=screening.rational,
                                refusals=screening.refusals))
    # every match in one dimension is run against its emitted step in D dimensions: one that differs there (off
    # the diagonal, or in a product's order) is no match
    checked = [replace(a, numeric=check(a, user, seed=seed)) for a in matches]
    matches = [a for a in checked if not a.refuted]
    near += [a for a in checked if a.refuted]
    matches.sort(key=lambda a: a.constants)
    numeric = matches[0].numeric if matches else None
    closest = () if matches else tuple(a.simplified() for a in sorted(near, key=lambda a: a.size)[:CLOSEST])
    explanation = {a.candidate.key: e for a in closest if (e := _explain(a, user))}
    refuted = tuple(a for a in checked if a.refuted)
    return Identification(bool(matches), tuple(matches), closest, numeric, user, explanation, refuted)


__all__ = ["identify", "Identification", "parse_update", "read_update", "SPACES"]
