r"""The updates the engine derives, read as plain SymPy assignments: the space :func:`blrkit.identify` searches.

Each candidate is a derivation (a recipe of :data:`blrkit.derive.RECIPES`, or a variant of one:
the other rule, ρ left symbolic, one approximation fewer) whose emitted assignments are inlined
into one expression per state, :math:`x_{t+1} = f(x_t, \text{oracle terms}, \text{hyperparameters})`.
Matrix expressions are read in one dimension (:math:`D = 1`): a product's order and a transpose
are not seen, an inverse is a reciprocal, a trace is its argument.

The recipes' forms are read from :mod:`blrkit.reverse._generated.candidates`, written by
``python -m blrkit.reverse.cache`` from the derivations and checked fresh by the tests, so that a
lookup derives only the recipes it matches (for the numeric check), not every recipe; the
neighbours of the engine space are derived when first asked for, once per process.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import sympy as sp
from sympy.matrices.expressions import MatrixExpr

from .syntax import DATA_SUM


@dataclass(frozen=True)
class Candidate:
    """One derivation, read as ``{state: new value}``.

    Attributes
    ----------
    key : str
        The recipe's name, or ``"<recipe> (<variant>)"``.
    recipe : str
        The recipe it comes from.
    variant : str
        ``""`` for the recipe itself, else what differs (``"rule: improved"``, ``"without rho=1"``).
    states : tuple of str
        The states the update advances (``x`` for ``x_new``), in the order of the assignments.
    new : dict
        State → its new value as a plain-symbol SymPy expression of the old states, the oracle
        terms and the parameters (intermediate terms and other new states substituted).
    oracles : tuple of str
        Names computed by the step's oracle lines (gradients, Hessians, their sample averages):
        the candidates for the user's gradient symbols.
    shapes : dict
        Name → ``"matrix"``, ``"vector"`` or ``"scalar"``: the symbol's shape in the derivation.
    title : str
        The derivation's title.
    built : blrkit.derive.Derivation or None
        The derivation when it was derived to make the candidate; ``None`` for a recipe's form read
        from the generated file (:attr:`derivation` derives it when asked).
    """

    key: str
    recipe: str
    variant: str
    states: tuple
    new: dict
    oracles: tuple
    shapes: dict
    title: str = ""
    built: object = field(default=None, compare=False, repr=False)

    @property
    def derivation(self):
        """The derivation (its :meth:`~blrkit.derive.Derivation.compile` is the emitted step): derived on first
        use for a recipe's form read from the generated file."""
        if self.built is not None:
            return self.built
        from blrkit.derive import RECIPES

        return RECIPES[self.recipe].derive()


def scalar(expr, shapes: dict | None = None):
    """``expr`` in one dimension, on plain symbols; ``shapes`` (if given) records each matrix symbol's shape.

    >>> import sympy as sp
    >>> S, g = sp.MatrixSymbol("S", 3, 3), sp.MatrixSymbol("g", 3, 1)
    >>> scalar(sp.Inverse(S) * g)
    g/S
    """
    if isinstance(expr, sp.MatrixSymbol):
        if shapes is not None:
            shapes[expr.name] = "vector" if expr.shape[1] == 1 else "matrix"
        return sp.Symbol(expr.name)
    if isinstance(expr, sp.Symbol):
        if shapes is not None:
            shapes.setdefault(expr.name, "scalar")
        return sp.Symbol(expr.name)
    if isinstance(expr, sp.Identity):
        return sp.Integer(1)
    if isinstance(expr, sp.ZeroMatrix):
        return sp.Integer(0)
    if isinstance(expr, sp.Inverse):
        return 1 / scalar(expr.arg, shapes)
    if isinstance(expr, (sp.Transpose, sp.Trace)):
        return scalar(expr.arg, shapes)
    if isinstance(expr, sp.Indexed):
        return scalar(expr.base.label, shapes)
    if isinstance(expr, sp.Sum):
        return DATA_SUM(scalar(expr.function, shapes))
    if isinstance(expr, sp.MatMul):
        return sp.Mul(*(scalar(a, shapes) for a in expr.args))
    if isinstance(expr, sp.MatAdd):
        return sp.Add(*(scalar(a, shapes) for a in expr.args))
    if isinstance(expr, sp.MatPow):
        return scalar(expr.base, shapes) ** expr.exp
    if isinstance(expr, MatrixExpr):
        raise TypeError(f"cannot read {type(expr).__name__} in one dimension")
    if not expr.args:
        return expr
    return expr.func(*(scalar(a, shapes) for a in expr.args))


def read(key: str, recipe: str, variant: str, derivation) -> Candidate:
    """The :class:`Candidate` of ``derivation``: its emitted assignments inlined, state by state."""
    shapes: dict = {}
    subs: dict = {}
    for a in derivation.assignments:
        target = scalar(a.target, shapes)
        subs[target] = scalar(a.expr, shapes).xreplace(subs)
    states = tuple(t.name[:-4] for t in subs if t.name.endswith("_new"))
    new = {s: subs[sp.Symbol(s + "_new")] for s in states}
    arguments = {a.name for a in derivation.arguments}
    used = set().union(*(e.free_symbols for e in new.values())) if new else set()
    oracles = tuple(sorted(s.name for s in used if s.name not in arguments and s.name not in states))
    return Candidate(key, recipe, variant, states, new, oracles, shapes, derivation.title, derivation)


def record(c: Candidate) -> dict:
    """What the generated file keeps of a recipe's candidate (all but the derivation)."""
    return {"title": c.title, "states": c.states, "new": c.new, "oracles": c.oracles, "shapes": c.shapes}


def emitted_hash(name: str) -> str | None:
    """SHA-256 of the committed emitted module of recipe ``name`` (``blrkit/algorithms/_generated/<module>.py``,
    which ``python -m blrkit.derive.emit`` writes from the derivation), or ``None`` if it cannot be read."""
    import blrkit.algorithms
    from blrkit.derive import RECIPES

    module = RECIPES[name].module if name in RECIPES else name
    try:
        return hashlib.sha256((Path(blrkit.algorithms.__file__).parent / "_generated" / f"{module}.py")
                              .read_bytes()).hexdigest()
    except OSError:
        return None


@lru_cache(maxsize=None)
def recipe_candidates() -> tuple[Candidate, ...]:
    """Every recipe of :data:`blrkit.derive.RECIPES` as a :class:`Candidate`, read from the generated file.

    A recipe missing from it, or whose emitted module no longer has the hash recorded beside its form (the
    derive layer changed and the file was not regenerated), is derived instead.
    """
    from blrkit.derive import RECIPES

    from ._generated.candidates import FORMS

    def recorded(name):
        form = dict(FORMS[name])
        return Candidate(name, name, "", **{k: v for k, v in form.items() if k != "emitted"})

    return tuple(recorded(name) if name in FORMS and FORMS[name]["emitted"] == emitted_hash(name)
                 else read(name, name, "", r.derive()) for name, r in RECIPES.items())


@lru_cache(maxsize=None)
def variant_candidates() -> tuple[Candidate, ...]:
    """The recipes' neighbours in the engine's space, each derived by :func:`blrkit.derive.derive`.

    For every recipe with a single family: the other rule (plain ↔ improved), ρ left symbolic
    (``rho=1`` dropped), and the chain with one approximation dropped.  A request the engine
    refuses is left out.
    """
    from blrkit.derive import RECIPES, derive

    out, seen = [], set()
    for name, r in RECIPES.items():
        if r.family == "mean-field":
            continue
        loss, prior = r.problem() if r.problem else (None, None)
        other = "improved" if r.rule == "blr" else "blr"
        requests = [(r.approximations, other, f"rule: {other}")]
        requests += [(r.approximations[:k] + r.approximations[k + 1:], r.rule, f"without {a}")
                     for k, a in enumerate(r.approximations)]
        for approximations, rule, variant in requests:
            request = (r.family, r.problem, approximations, rule)
            if request in seen:
                continue
            seen.add(request)
            try:
                d = derive(r.family, loss, prior, approximations, rule=rule, function_name=r.function,
                           title=f"{r.title} ({variant})", anchor=r.anchor)
                out.append(read(f"{name} ({variant})", name, variant, d))
            except Exception:  # noqa: BLE001 -- a request the engine refuses is not in its space
                continue
    return tuple(out)
