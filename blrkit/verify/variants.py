r"""Wrong variants of every recipe's step made from its derivation, not from its printed text.

A recipe's :class:`~blrkit.derive.Derivation` carries its update as SymPy assignments ``target = rhs``. The
rules below rewrite one right-hand side (or the returned outputs) by the *roles* of its symbols, read from the
derivation: the step size ρ (:data:`~blrkit.derive.symbols.RHO`), a state and its new value (``S`` and
``S_new``: :attr:`Derivation.states <blrkit.derive.Derivation.states>`), an oracle term (a symbol the oracle
lines compute: neither an argument nor an assignment), a count (an integer symbol or an ``int`` argument).
No rule looks at a module's or a recipe's name.

==============================  ====================================================================================
rule                            rewrite of one right-hand side (or of the outputs returned)
==============================  ====================================================================================
``sign``                        an oracle term ``g`` → ``−g`` (the sign of the gradient, of E[H], …)
``one minus rho``               a factor ``(1 − ρ)`` → 1 (the dropped decay of the old state)
``rho``                         ρ → 1 outside ``(1 − ρ)`` (the step size dropped)
``old state``                   a new state → its old value (``S_new`` → ``S`` in the mean's update; Jacobi)
``old state returned``          an output ``S_new`` → ``S`` (the step returns the state it was given)
``count doubled``               a count ``N`` → ``2N`` (α₀ + N/2 → α₀ + N; N/M → 2N/M)
``count dropped``               a count ``N`` → 1 (no N/M scale)
``term dropped``                one term of a sum dropped (a prior, a retraction term, K R Kᵀ, …)
``inverse dropped``             ``A⁻¹`` → ``A`` (a covariance for a precision, no Hessian in Newton's step)
``fraction doubled``            a fraction ``p/q`` → ``2p/q`` (½ B S⁻¹ B → B S⁻¹ B; N/2 → N)
``hyperparameter doubled``      an argument the step reads but does not advance ``x`` → ``2x`` (2R, 2β₀)
``hyperparameter minus one``    such a scalar ``x`` → ``x − 1`` (α₀ − 1: the mode's offset for the mean's)
``hyperparameter plus one``     such a scalar ``x`` → ``x + 1`` (a prior mean off by one)
``hyperparameter one``          such a scalar ``x`` → 1 (no 1/σ²)
``hyperparameter sign``         such an argument ``x`` → ``−x`` (the sign of the observation, of its offset)
``count plus one``              a count ``N`` → ``N + 1`` (κ₀ + N + 1)
``count halved``                a count ``N`` → ``N/2`` (β₀ + N/2 for β₀ + N)
``count for count``             one count for another, or two swapped (M for N: no N/M scale; M/N for N/M)
``inverse to one``              ``A⁻¹`` → I, ``1/x`` → 1 (a gradient step for Newton's)
``decay dropped``               a hyperparameter β multiplying an old state → 1 (β₁ g_avg → g_avg)
``bias correction dropped``     a factor ``1/(1 − β^t)`` (or its square root), ``t`` a count → 1
``term sign``                   one term of a top-level sum → its negative (Σ − m mᵀ → Σ + m mᵀ)
``inner term dropped``          one term of a sum inside a product dropped (the prior λ₀ of ρ(λ₀ − Δμ))
``factor dropped``              a computed factor of a product → 1 (a mask, E[τ], an oracle term)
``computed sign``               a term an earlier assignment computes → its negative (−g_avg_new)
``term scaled``                 one term of a top-level sum doubled or halved (½ S → S: S counted twice)
``computed for update``         a right-hand side → a computed term it reads (s_new = b: no retraction term)
``rho in a term``               ρ → 1 in one term of a sum only (ρ g² → g² beside the decay −ρv)
``output scaled``               a returned output ``x`` → ``2x``, a square matrix one → ``x + I``, after the update
==============================  ====================================================================================

The mutated derivation (``dataclasses.replace`` of its assignments or outputs) is printed by the same
:meth:`~blrkit.derive.Derivation.emit` as the committed module; a variant that prints the same code as the
original (or that the printer refuses) is dropped. :func:`recorded_calls` records the arguments the row's
driver passes to the step on the row's seeded problem; :func:`difference` says whether a variant's step gives
another output on them (``"wrong"``), the same (``"same"``: the original there) or raises (``"broken"``: the
printed code is not the rewritten maths); :func:`survey` drops and reports all but the wrong
ones. :func:`installed` puts a variant where every driver imports the step;
:func:`killed` says whether the rows then fail by an independent check.

The oracle terms are nodes of :mod:`blrkit.derive.ir`; :data:`NODE_RULES` rewrite one node by its kind and the
roles its fields declare:

==============================  ====================================================================================
rule                            rewrite of one oracle node
==============================  ====================================================================================
``samples unscaled``            θ = m + Σ^{1/2}ε → m + ε (a :class:`~blrkit.derive.ir.Reparameterise` not scaled)
``scale for its factor``        θ = m + L⁻ᵀε → m + S⁻¹ε (the precision a Cholesky node factors, for its factor)
``oracle at the mean``          mean_k f(θ_k) → f(m) (an averaged oracle at the draws' mean: the delta method)
``draw dropped at the oracle``  f(z ⊙ m) → f(m), f(m + σε) → f(m) (a factor or term holding a sample dropped)
``no binarisation``             w = sign(λ) → λ (a :class:`~blrkit.derive.ir.Sign` node for its argument)
``one quadrature node``         n Gauss–Hermite nodes → 1: E[f(η)] → f(E[η]) (the predictive's variance dropped)
``normaliser dropped``          a node's declared normaliser dropped (softmax's, Gauss–Hermite's √π, ψ(Σ_v λ_v))
``variance for sd``             θ = m + ε/√s → m + ε/s (a diagonal precision where its square root goes)
==============================  ====================================================================================

A :class:`~blrkit.derive.ir.Let` node (a derived expression among the oracle nodes: EM's natural parameters and
log-normaliser, IVON's precision, a GLM's derivatives) is rewritten by the assignments' rules above, as a
right-hand side.

What no rule writes yet (LDA's local loop, the enumeration's pairing, a sign flip of one factor, …) stays a hand
entry of :data:`blrkit.verify.mutations.MUTATIONS`, each with the reason.

>>> import sympy as sp
>>> from blrkit.derive.symbols import RHO
>>> s, h = sp.symbols("s h")
>>> [str(e) for _, e in one_minus_rho(RHO * h + (1 - RHO) * s)]
['h*rho + s']
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib
import pkgutil
import sys
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

# SymPy and the derive layer are imported where used: blrkit.verify imports every module of its package, and
# running a row needs neither

__all__ = ["NODE_RULES", "RULES", "Roles", "Survey", "Variant", "changes_output", "difference", "installed", "killed",
           "names", "one_minus_rho", "outputs", "recorded_calls", "recording", "rewrites", "roles", "rows_of",
           "same_outputs", "survey", "usable", "variant", "variants"]


def _name(sym) -> str:
    """The name ``sym`` has in the emitted code (``m`` for the mixture's ``m_k``)."""
    from blrkit.derive.printing import CODE_NAMES

    name = getattr(sym, "name", None)
    name = name if isinstance(name, str) else str(sym)
    return CODE_NAMES.get(name, name)


@dataclass(frozen=True)
class Roles:
    """The roles of a derivation's symbols, read from the derivation."""

    arguments: dict  # code name -> Argument
    targets: frozenset  # code names of the assignments' targets
    old: dict  # new-state symbol -> the old state's symbol

    dims: frozenset = frozenset()  # the dimensions of the matrices (D): a shape, not a count of data
    counts: frozenset = frozenset()  # every count the derivation's assignments read (N, M, n_data, ...)

    def count(self, s) -> bool:
        a = self.arguments.get(_name(s))
        if s in self.dims:
            return False
        return bool(getattr(s, "is_integer", False)) or (a is not None and a.kind == "int")

    def hyperparameter(self, s) -> bool:
        """An argument the update reads but does not advance: a prior's parameter, a noise variance, data."""
        from blrkit.derive.symbols import RHO

        a = self.arguments.get(_name(s))
        return (a is not None and a.kind in ("scalar", "data") and s != RHO and s not in self.old.values()
                and f"{a.name}_new" not in self.targets)

    def oracle(self, s) -> bool:
        """A term the oracle lines compute: not an argument, not an assignment, not ρ, not a count."""
        from blrkit.derive.symbols import RHO

        n = _name(s)
        return (n not in self.arguments and n not in self.targets and s != RHO and s not in self.dims
                and not self.count(s))


def roles(d) -> Roles:
    """The roles of ``d``'s symbols: its arguments, its assignments' targets, each new state's old value, its
    dimensions."""
    import sympy as sp

    args = {a.name: a for a in d.arguments}
    symbols = {}
    for a in d.assignments:
        for s in a.expr.free_symbols | {a.target}:
            symbols.setdefault(getattr(s, "name", str(s)), s)
    old = {}
    for a in d.assignments:
        t = a.target
        name = getattr(t, "name", "")
        # a state by its SymPy name (``S_k`` for the mixture's ``S_k_new``) or its code name
        if name.endswith("_new") and {name[:-4], _name(t)[:-4]} & d.states and _name(t)[:-4] in args:
            base = name[:-4]
            old[t] = symbols.get(base) or (t.func(base, *t.args[1:]) if isinstance(t, sp.MatrixSymbol)
                                           else sp.Symbol(base, **t.assumptions0))
    dims = frozenset(x for a in d.assignments for m in a.expr.atoms(sp.MatrixSymbol, sp.Identity)
                     for x in m.shape if isinstance(x, sp.Symbol)) | frozenset(dim for dim, _ in d.dims)
    r = Roles(args, frozenset(_name(a.target) for a in d.assignments), old, dims)
    return replace(r, counts=frozenset(s for s in symbols.values() if r.count(s)))


# -- the rules: each maps (rhs, roles) to [(what it did, new rhs)] ----------------------------------------


def sign(expr, r: Roles):
    """An oracle term ``g`` → ``−g``, one variant per term."""
    return [(f"sign of {_name(s)}", expr.xreplace({s: -s})) for s in _sorted(expr.free_symbols) if r.oracle(s)]


def one_minus_rho(expr, r: Roles | None = None):
    """A factor ``(1 − ρ)`` → 1."""
    import sympy as sp
    from blrkit.derive.symbols import RHO

    factor = 1 - RHO
    return [("(1 - rho) dropped", expr.xreplace({factor: sp.S.One}))] if expr.has(factor) else []


def rho(expr, r: Roles):
    """ρ → 1 outside the factors ``(1 − ρ)``."""
    import sympy as sp
    from blrkit.derive.symbols import RHO

    if not expr.has(RHO):
        return []
    hold = sp.Dummy("one_minus_rho")
    new = expr.xreplace({1 - RHO: hold}).xreplace({RHO: sp.S.One}).xreplace({hold: 1 - RHO})
    return [("rho dropped", new)]


def rho_in_a_term(expr, r: Roles):
    """ρ → 1 in one term of a sum only (ρ g² → g² beside the decay −ρv; ρ dropped on the prior's term of a
    numerator), one variant per term that holds ρ outside (1 − ρ)."""
    import sympy as sp
    from blrkit.derive.symbols import RHO

    hold = sp.Dummy("one_minus_rho")
    sums = ([expr] if isinstance(expr, (sp.Add, sp.MatAdd)) else []) + _inner_sums(expr)
    out = []
    for s in sums:
        for t in s.args:
            held = t.xreplace({1 - RHO: hold})
            if held.has(RHO) and len(s.args) >= 2:
                new = held.xreplace({RHO: sp.S.One}).xreplace({hold: 1 - RHO})
                out.append((f"rho dropped from {_short(t)}", expr.xreplace({t: new})))
    return out


def old_state(expr, r: Roles):
    """A new state → its old value (``S_new`` → ``S``), one variant per new state read (a later block of a
    mean-field sweep reading an earlier block's old value: Jacobi's sweep for Gauss–Seidel's). The new state is
    matched by name: a block's target and the symbol a later block reads may carry other assumptions."""
    out = []
    for new, old in r.old.items():
        read = {x: old for x in expr.free_symbols | expr.atoms(_matrix_symbol())
                if getattr(x, "name", None) == new.name}
        if read:
            out.append((f"old {_name(old)} for {_name(new)}", expr.xreplace(read)))
    return out


def _matrix_symbol():
    import sympy as sp

    return sp.MatrixSymbol


def decay_dropped(expr, r: Roles):
    """A hyperparameter β multiplying an old state → 1 (``β₁ g_avg`` → ``g_avg``: the average's decay dropped),
    one variant per such product."""
    import sympy as sp

    olds = set(r.old.values())
    out = []
    for term in _unique(x for x in sp.preorder_traversal(expr) if isinstance(x, (sp.Mul, sp.MatMul))):
        decays = [f for f in term.args if r.hyperparameter(f) and not isinstance(f, sp.MatrixSymbol)]
        if decays and any(f in olds for f in term.args):
            for f in decays:
                rest = [u for u in term.args if u is not f]
                out.append((f"decay {_name(f)} dropped from {_short(term)}",
                            expr.xreplace({term: term.func(*rest)})))
    return out


def bias_correction_dropped(expr, r: Roles):
    """A factor ``1/(1 − β^t)`` (or its square root) with ``t`` a count → 1: Adam's bias correction dropped, one
    variant per factor."""
    import sympy as sp

    def corrects(x) -> bool:
        if not (isinstance(x, sp.Pow) and x.exp.is_negative and isinstance(x.base, sp.Add)):
            return False
        power = 1 - x.base  # β^t
        return isinstance(power, sp.Pow) and r.count(power.exp)

    return [(f"no {_short(x)}", expr.xreplace({x: sp.S.One}))
            for x in _unique(x for x in sp.preorder_traversal(expr) if corrects(x))]


def _unique(xs) -> list:
    return list(dict.fromkeys(xs))


def count_doubled(expr, r: Roles):
    """A count ``N`` → ``2N``, one variant per count."""
    return [(f"2 {_name(s)} for {_name(s)}", expr.xreplace({s: 2 * s})) for s in _sorted(expr.free_symbols)
            if r.count(s)]


def count_dropped(expr, r: Roles):
    """A count ``N`` → 1, one variant per count."""
    import sympy as sp

    return [(f"{_name(s)} dropped", expr.xreplace({s: sp.S.One})) for s in _sorted(expr.free_symbols) if r.count(s)]


def term_dropped(expr, r: Roles):
    """One term of a top-level sum dropped, one variant per term."""
    import sympy as sp

    if not isinstance(expr, (sp.Add, sp.MatAdd)) or len(expr.args) < 2:
        return []
    return [(f"term {_short(t)} dropped", expr.func(*[u for u in expr.args if u is not t]))
            for t in expr.args]


def term_sign(expr, r: Roles):
    """One term of a top-level sum → its negative (``Σ − m mᵀ`` → ``Σ + m mᵀ``), one variant per term."""
    import sympy as sp

    if not isinstance(expr, (sp.Add, sp.MatAdd)) or len(expr.args) < 2:
        return []
    return [(f"sign of term {_short(t)}", expr.xreplace({t: -t})) for t in expr.args]


def term_scaled(expr, r: Roles):
    """One term of a top-level sum doubled or halved (½ S → S: S counted twice; ½ B S⁻¹ B → ¼ B S⁻¹ B), two
    variants per term."""
    import sympy as sp

    if not isinstance(expr, (sp.Add, sp.MatAdd)) or len(expr.args) < 2:
        return []
    return [(f"term {_short(t)} {what}", expr.xreplace({t: c * t}))
            for t in expr.args for what, c in (("doubled", 2), ("halved", sp.Rational(1, 2)))]


def computed_for_update(expr, r: Roles):
    """A new state's right-hand side → one term the step computes before it and this one reads (s_new = b: the
    plain BLR's precision for the improved rule's retraction), one variant per such term."""
    import sympy as sp

    return [(f"{_name(s)} for the whole update", s) for s in _sorted(expr.free_symbols | expr.atoms(sp.MatrixSymbol))
            if _name(s) in r.targets and s not in r.old and getattr(s, "shape", None) == getattr(expr, "shape", None)]


def _inner_sums(expr) -> list:
    """The sums inside ``expr`` but ``expr`` itself, each once, in the order of a preorder traversal."""
    import sympy as sp

    return _unique(x for x in sp.preorder_traversal(expr)
                   if x is not expr and isinstance(x, (sp.Add, sp.MatAdd)) and len(x.args) >= 2)


def inner_term_dropped(expr, r: Roles):
    """One term of a sum inside a product or a power dropped (the prior λ₀ of ``ρ(λ₀ − Δμ)``, a weight decay
    inside the step, an entropy's gradient beside the loss's), one variant per term."""
    return [(f"term {_short(t)} dropped from {_short(s)}",
             expr.xreplace({s: s.func(*[u for u in s.args if u is not t])}))
            for s in _inner_sums(expr) for t in s.args]


def factor_dropped(expr, r: Roles):
    """A computed factor of a product (an oracle term, a mask, an intermediate such as E[τ]: neither ρ, a count, an
    argument nor a new state) → 1, one variant per factor."""
    import sympy as sp

    out = []
    for term in _unique(x for x in sp.preorder_traversal(expr) if isinstance(x, (sp.Mul, sp.MatMul))):
        for f in term.args:
            if not (getattr(f, "name", None) and (r.oracle(f) or (_name(f) in r.targets and f not in r.old))):
                continue
            rest = [u for u in term.args if u is not f]
            try:
                new = term.func(*rest)
                if getattr(new, "shape", None) != getattr(term, "shape", None):
                    continue  # a matrix factor whose dropping changes the shape: no update of the same state
                out.append((f"factor {_name(f)} dropped from {_short(term)}", expr.xreplace({term: new})))
            except (TypeError, ValueError, sp.ShapeError):  # the rest does not multiply (a matrix by a scalar)
                continue
    return out


def computed_sign(expr, r: Roles):
    """A term the step computes before (an average, a new state: an assignment's target) read here → its
    negative, one variant per term."""
    return [(f"sign of {_name(s)}", expr.xreplace({s: -s})) for s in _sorted(expr.free_symbols)
            if _name(s) in r.targets and s not in r.old.values()]


def _inverses(expr) -> list:
    """The inverses in ``expr`` (``A⁻¹``, ``1/x``), each once, in the order of a preorder traversal."""
    import sympy as sp

    nodes = [x for x in sp.preorder_traversal(expr)
             if isinstance(x, sp.Inverse) or (isinstance(x, sp.MatPow) and x.exp == -1)
             or (isinstance(x, sp.Pow) and x.exp == -1 and not x.base.is_number)]
    return list(dict.fromkeys(nodes))


def inverse_dropped(expr, r: Roles):
    """An inverse ``A⁻¹`` (or ``1/x``) → ``A``, one variant per inverse."""
    return [(f"{_short(x.args[0])} for its inverse", expr.xreplace({x: x.args[0]})) for x in _inverses(expr)]


def fraction_doubled(expr, r: Roles):
    """A fraction ``p/q`` → ``2p/q``, one variant per fraction."""
    import sympy as sp

    fracs = sorted({x for x in expr.atoms(sp.Rational) if not x.is_integer and x.q != 1}, key=str)
    return [(f"2 * {x} for {x}", expr.xreplace({x: 2 * x})) for x in fracs]


def hyperparameter_doubled(expr, r: Roles):
    """An argument the step reads but does not advance ``x`` → ``2x``."""
    return [(f"2 {_name(s)} for {_name(s)}", expr.xreplace({s: 2 * s})) for s in _sorted(expr.free_symbols)
            if r.hyperparameter(s)]


def hyperparameter_minus_one(expr, r: Roles):
    """Such a scalar argument ``x`` → ``x − 1``."""
    import sympy as sp

    return [(f"{_name(s)} - 1 for {_name(s)}", expr.xreplace({s: s - 1})) for s in _sorted(expr.free_symbols)
            if r.hyperparameter(s) and not isinstance(s, sp.MatrixSymbol)]


def hyperparameter_plus_one(expr, r: Roles):
    """Such a scalar argument ``x`` → ``x + 1``."""
    import sympy as sp

    return [(f"{_name(s)} + 1 for {_name(s)}", expr.xreplace({s: s + 1})) for s in _sorted(expr.free_symbols)
            if r.hyperparameter(s) and not isinstance(s, sp.MatrixSymbol)]


def hyperparameter_one(expr, r: Roles):
    """Such a scalar argument ``x`` → 1 (a noise variance, a prior's precision forgotten)."""
    import sympy as sp

    return [(f"1 for {_name(s)}", expr.xreplace({s: sp.S.One})) for s in _sorted(expr.free_symbols)
            if r.hyperparameter(s) and not isinstance(s, sp.MatrixSymbol)]


def hyperparameter_sign(expr, r: Roles):
    """An argument the step reads but does not advance ``x`` → ``−x`` (the sign of an observation)."""
    return [(f"-{_name(s)} for {_name(s)}", expr.xreplace({s: -s})) for s in _sorted(expr.free_symbols)
            if r.hyperparameter(s)]


def count_plus_one(expr, r: Roles):
    """A count ``N`` → ``N + 1``."""
    return [(f"{_name(s)} + 1 for {_name(s)}", expr.xreplace({s: s + 1})) for s in _sorted(expr.free_symbols)
            if r.count(s)]


def count_halved(expr, r: Roles):
    """A count ``N`` → ``N/2``."""
    return [(f"{_name(s)}/2 for {_name(s)}", expr.xreplace({s: s / 2})) for s in _sorted(expr.free_symbols)
            if r.count(s)]


def count_for_count(expr, r: Roles):
    """One count for another of the derivation's (``N`` → ``M``: the minibatch's size for the data's), and two
    in ``expr`` swapped."""
    counts = [s for s in _sorted(expr.free_symbols) if r.count(s)]
    others = _unique(counts + [s for s in _sorted(r.counts) if s not in counts])
    out = [(f"{_name(b)} for {_name(a)}", expr.xreplace({a: b})) for a in counts for b in others if a != b]
    out += [(f"{_name(a)} and {_name(b)} swapped", expr.xreplace({a: b, b: a}))
            for i, a in enumerate(counts) for b in counts[i + 1:]]
    return out


def inverse_to_one(expr, r: Roles):
    """An inverse ``A⁻¹`` (or ``1/x``) → the identity (or 1): Newton's step without its Hessian."""
    import sympy as sp

    return [(f"no {_short(x)}", expr.xreplace({x: sp.Identity(x.shape[0]) if getattr(x, "is_Matrix", False)
                                                else sp.S.One})) for x in _inverses(expr)]


#: rule key -> rule (a function of a right-hand side and the derivation's roles)
RULES = {"sign": sign, "one minus rho": one_minus_rho, "rho": rho, "old state": old_state,
         "count doubled": count_doubled, "count dropped": count_dropped, "term dropped": term_dropped,
         "inverse dropped": inverse_dropped, "fraction doubled": fraction_doubled,
         "hyperparameter doubled": hyperparameter_doubled, "hyperparameter minus one": hyperparameter_minus_one,
         "hyperparameter plus one": hyperparameter_plus_one, "hyperparameter one": hyperparameter_one,
         "hyperparameter sign": hyperparameter_sign, "count plus one": count_plus_one, "count halved": count_halved,
         "count for count": count_for_count, "inverse to one": inverse_to_one, "decay dropped": decay_dropped,
         "bias correction dropped": bias_correction_dropped, "term sign": term_sign,
         "inner term dropped": inner_term_dropped, "factor dropped": factor_dropped, "computed sign": computed_sign,
         "term scaled": term_scaled, "computed for update": computed_for_update, "rho in a term": rho_in_a_term}


# -- rules over the IR's oracle nodes (blrkit.derive.ir): each maps (node, the derivation's nodes) to
# [(what it did, new node)], by the node's kind and the roles its fields declare ----------------------------


def samples_unscaled(node, nodes):
    """Draws θ = m + Σ^{1/2}ε → m + ε: a sample not scaled by the covariance."""
    from blrkit.derive import ir

    if isinstance(node, ir.Reparameterise) and node.form != "identity":
        return [(f"{node.target} not scaled by Σ^(1/2)", replace(node, form="identity", scale=None))]
    return []


def scale_for_its_factor(node, nodes):
    """θ = m + L⁻ᵀε with S = L Lᵀ → m + S⁻¹ε: the precision in place of its Cholesky factor."""
    from blrkit.derive import ir

    factored = {n.target: n.of for n in nodes if isinstance(n, ir.Cholesky)}
    if isinstance(node, ir.Reparameterise) and node.scale in factored:
        return [(f"{factored[node.scale]} for its Cholesky factor in {node.target}",
                 replace(node, scale=factored[node.scale]))]
    return []


def oracle_at_the_mean(node, nodes):
    """E_q[f(θ)] ≈ mean_k f(θ_k) → f(m): an oracle averaged over the draws evaluated at their mean instead (the
    delta method in place of Monte Carlo)."""
    import sympy as sp
    from blrkit.derive import ir

    means = {n.target: n.mean for n in nodes if isinstance(n, ir.Reparameterise)}
    at = getattr(node, "at", None)
    if isinstance(node, ir.OracleCall) and node.average and node.log_weight is None and getattr(at, "name", None) in means:
        return [(f"{node.oracle} at {means[at.name]} for {', '.join(node.targets)}",
                 replace(node, at=sp.Symbol(means[at.name]), average=False))]
    return []


def draw_dropped_at_the_oracle(node, nodes):
    """An oracle called at a point made with a draw (``z ⊙ m``, ``m + σε``) → the point without it: a factor or a
    term that holds a sample (:class:`~blrkit.derive.ir.Sample`) dropped."""
    import sympy as sp
    from blrkit.derive import ir

    sampled = {n.target for n in nodes if isinstance(n, ir.Sample)}
    if not isinstance(node, ir.OracleCall) or not isinstance(node.at, (sp.Mul, sp.Add)):
        return []

    def draw(a) -> bool:  # a sample, or a sample scaled (σε)
        factors = a.args if isinstance(a, sp.Mul) else (a,)
        return any(getattr(f, "name", None) in sampled for f in factors)

    def drops(e):
        if not isinstance(e, (sp.Mul, sp.Add)):
            return []
        out = []
        for i, a in enumerate(e.args):
            rest = e.args[:i] + e.args[i + 1:]
            if draw(a):
                out.append((a, rest[0] if len(rest) == 1 else e.func(*rest, evaluate=False)))
            else:
                out += [(d, e.func(*(e.args[:i] + (new,) + e.args[i + 1:]), evaluate=False)) for d, new in drops(a)]
        return out

    return [(f"{_short(dropped)} dropped from the point of {node.oracle}", replace(node, at=new))
            for dropped, new in drops(node.at)]


def no_binarisation(node, nodes):
    """Binary weights w = sign(λ) → λ: the oracle called at the latent weights."""
    from blrkit.derive import ir

    if isinstance(node, ir.Sign):
        return [(f"{node.of} for sign({node.of}) in {node.target}", ir.Alias(node.target, node.of))]
    return []


def one_quadrature_node(node, nodes):
    """Gauss–Hermite quadrature with n nodes → one node (z = 0, w = √π): E[f(η)] → f(E[η]), the predictive's
    variance dropped (the delta method in place of quadrature)."""
    from blrkit.derive import ir

    if isinstance(node, ir.Quadrature) and node.n > 1:
        return [(f"1 Gauss–Hermite node for {node.n}", replace(node, n=1))]
    return []


def normaliser_dropped(node, nodes):
    """A node that declares a normaliser (``normalised``: softmax's log-sum-exp, Gauss–Hermite's √π, the
    Dirichlet's ψ(Σ_v λ_v)) → without it."""
    if getattr(node, "normalised", False):
        return [(f"no normaliser in {', '.join(node.writes[-1:])}", replace(node, normalised=False))]
    return []


def variance_for_sd(node, nodes):
    """Draws θ = m + ε/√s (a diagonal precision s) → m + ε/s: the precision where its square root goes (the
    variance for the standard deviation). Made as two nodes: ``s²`` named, and the draws scaled by it."""
    import sympy as sp
    from blrkit.derive import ir

    if isinstance(node, ir.Reparameterise) and node.form == "diagonal" and node.scale:
        squared = f"{node.scale}_squared"
        return [(f"{node.scale} for its square root in {node.target}",
                 (ir.Let(squared, sp.Symbol(node.scale) ** 2), replace(node, scale=squared)))]
    return []


#: rule key -> rule over one oracle node (see :mod:`blrkit.derive.ir`)
NODE_RULES = {"samples unscaled": samples_unscaled, "scale for its factor": scale_for_its_factor,
              "oracle at the mean": oracle_at_the_mean, "draw dropped at the oracle": draw_dropped_at_the_oracle,
              "no binarisation": no_binarisation, "one quadrature node": one_quadrature_node,
              "normaliser dropped": normaliser_dropped, "variance for sd": variance_for_sd}


def _sorted(symbols):
    return sorted(symbols, key=lambda s: getattr(s, "name", str(s)))


def _short(x) -> str:
    text = str(x)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass(frozen=True)
class Variant:
    """A wrong variant of ``recipe``'s step: ``name`` says what changed, ``rule`` which rule made it."""

    recipe: str
    name: str
    rule: str
    derivation: object  # the mutated Derivation
    source: str  # its emitted module

    def step(self) -> Callable:
        """The variant's step function, compiled from :attr:`source`."""
        namespace = {"__name__": f"variant of {self.recipe}"}
        exec(compile(self.source, f"<variant of {self.recipe}: {self.name}>", "exec"), namespace)  # noqa: S102
        return namespace[self.derivation.function_name]


def _candidates(d):
    """(name, rule, mutated derivation) of every rewrite the rules make of ``d``."""
    from blrkit.derive.ir import Let

    r = roles(d)
    for k, a in enumerate(d.assignments):
        for rule, fn in RULES.items():
            for what, new in fn(a.expr, r):
                if new != a.expr:
                    changed = d.assignments[:k] + (replace(a, expr=new),) + d.assignments[k + 1:]
                    yield f"{what} in {_name(a.target)}", rule, replace(d, assignments=changed)
    for k, node in enumerate(d.oracles):
        if isinstance(node, Let):  # a derived expression among the oracle nodes: the assignments' rules rewrite it
            for rule, fn in RULES.items():
                for what, new in fn(node.expr, r):
                    if new != node.expr:
                        yield (f"{what} in {node.target}", rule,
                               replace(d, oracles=d.oracles[:k] + (replace(node, expr=new),) + d.oracles[k + 1:]))
        for rule, fn in NODE_RULES.items():
            for what, new in fn(node, d.oracles):  # one node, or the nodes that stand in its place
                yield what, rule, replace(d, oracles=d.oracles[:k] + (new if isinstance(new, tuple) else (new,))
                                          + d.oracles[k + 1:])
    for k, o in enumerate(d.outputs):
        if o in r.old:
            outs = d.outputs[:k] + (r.old[o],) + d.outputs[k + 1:]
            # printed in the order assigned: the printer puts outputs last, and the old new state is one no more
            yield (f"old {_name(r.old[o])} returned for {_name(o)}", "old state returned",
                   replace(d, outputs=outs, extra={**d.extra, "in_order": True}))
    for what, new in _outputs_scaled(d):
        yield what, "output scaled", new


def _outputs_scaled(d):
    """``(what, derivation)`` with one returned output ``x`` → ``2x`` (and a square matrix one → ``x + I``),
    after every assignment that reads it (an output returned wrong, the update itself right)."""
    import sympy as sp
    from blrkit.derive.derivation import Assignment

    assigned = {a.target for a in d.assignments}
    for o in d.outputs:
        if o not in assigned:
            continue
        changes = [("doubled", 2 * o)]
        if isinstance(o, sp.MatrixSymbol) and o.shape[0] == o.shape[1] and o.shape[0] != 1:
            changes.append(("plus I", o + sp.Identity(o.shape[0])))
        for what, expr in changes:
            yield (f"{_name(o)} returned {what}",
                   replace(d, assignments=d.assignments + (Assignment(o, expr),),
                           extra={**d.extra, "in_order": True}))


def rewrites(recipe: str) -> tuple[tuple[str, str, object], ...]:
    """``(name, rule, mutated derivation)`` of every rewrite the rules make of ``recipe``'s derivation, before any
    is printed."""
    from blrkit.derive import RECIPES

    return tuple(_candidates(RECIPES[recipe].derive()))


def names(recipe: str) -> tuple[str, ...]:
    """The name of every rewrite the rules make of ``recipe``'s derivation, before any is printed."""
    return tuple(name for name, _, _ in rewrites(recipe))


def variant(recipe: str, name: str) -> Variant | None:
    """The rewrite ``name`` of ``recipe``'s derivation, printed; None when it prints the original's code or the
    printer refuses it (:func:`variants` says which). Raises ``KeyError`` when the rules make no such rewrite."""
    from blrkit.derive import RECIPES

    d = RECIPES[recipe].derive()
    for what, rule, mutated in _candidates(d):
        if what == name:
            try:
                source = mutated.emit(recipe=recipe)
            except Exception:  # noqa: BLE001 -- a rewrite the printer cannot print is no variant
                return None
            return None if source == d.emit(recipe=recipe) else Variant(recipe, name, rule, mutated, source)
    raise KeyError(f"the rules make no rewrite {name!r} of {recipe!r}")


def variants(recipe: str) -> tuple[tuple[Variant, ...], tuple[tuple[str, str], ...]]:
    """Every variant the rules make of ``recipe``'s derivation that prints other code than the original, and
    ``(name, reason)`` of each rewrite dropped (printed the same code as the original or as an earlier variant,
    or refused by the printer)."""
    from blrkit.derive import RECIPES

    d = RECIPES[recipe].derive()
    original = d.emit(recipe=recipe)
    seen, kept, dropped = {original: "the original"}, [], []
    for name, rule, mutated in _candidates(d):
        try:
            source = mutated.emit(recipe=recipe)
        except Exception as e:  # noqa: BLE001 -- a rewrite the printer cannot print is reported, not kept
            dropped.append((name, f"not printable: {type(e).__name__}: {e}"[:200]))
            continue
        if source in seen:
            dropped.append((name, f"prints the same code as {seen[source]}"))
            continue
        seen[source] = name
        kept.append(Variant(recipe, name, rule, mutated, source))
    return tuple(kept), tuple(dropped)


# -- running a variant -----------------------------------------------------------------------------------


def _original(recipe: str):
    from blrkit.derive import RECIPES

    r = RECIPES[recipe]
    module = importlib.import_module(f"blrkit.algorithms._generated.{r.module}")
    return getattr(module, r.function)


def _drivers(fn) -> list:
    """Every module of :mod:`blrkit.algorithms` (but the generated ones) that holds ``fn``, under any name (a driver
    may import a shared step under its own: ``damped_newton_step as laplace_step``)."""
    import blrkit.algorithms as package

    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if "._generated" not in info.name:
            importlib.import_module(info.name)
    return [m for n, m in sorted(sys.modules.items()) if n.startswith(package.__name__ + ".")
            and "._generated" not in n and any(v is fn for v in vars(m).values())]


def bound_names(module, fn) -> list[str]:
    """The names under which ``module`` holds ``fn``."""
    return [n for n, v in vars(module).items() if v is fn]


@contextlib.contextmanager
def _in_place_of(recipe: str, fn: Callable):
    """``fn`` in place of ``recipe``'s step in every driver that imports it; a recipe run by the generic driver
    (:func:`blrkit.algorithms.iterate.iterate`, whose row check reads the step from its generated module) has
    it replaced in that module."""
    from blrkit.derive import RECIPES

    original = _original(recipe)
    targets = _drivers(original) or [importlib.import_module(f"blrkit.algorithms._generated.{RECIPES[recipe].module}")]
    names = [(t, n) for t in targets for n in bound_names(t, original)]
    try:
        for t, n in names:
            setattr(t, n, fn)
        yield fn
    finally:
        for t, n in names:
            setattr(t, n, original)


def installed(variant: Variant):
    """Within the block, every driver that imports ``variant``'s step runs the variant; restored on exit
    (the drivers' module attributes are replaced: not thread-safe)."""
    return _in_place_of(variant.recipe, variant.step())


def rows_of(recipe: str) -> tuple[str, ...]:
    """The rows that run ``recipe``'s emitted module: the recipes that share it."""
    from blrkit.derive import RECIPES

    module = RECIPES[recipe].module
    return tuple(n for n, r in RECIPES.items() if r.module == module)


def killed(variant: Variant, run_row: Callable, calls: list | None = None) -> tuple[bool, list]:
    """Run the rows of ``variant``'s module with it installed: ``(every row rejects it, the rows)``
    (``run_row(name)`` runs one row, as for :func:`blrkit.verify.mutations.killed`); the arguments the drivers
    pass the variant are appended to ``calls`` when given (see :func:`recording`)."""
    from .mutations import rejected

    step = variant.step() if calls is None else recording(variant.step(), calls)
    with _in_place_of(variant.recipe, step):
        results = [run_row(name) for name in rows_of(variant.recipe)]
    return all(rejected(r) for r in results), results


class _Recorded(Exception):
    """Raised by :func:`recording` after its last recorded call, to stop the row that made it."""


def recording(fn: Callable, calls: list, limit: int = 50, stop: bool = False) -> Callable:
    """``fn``, appending the arguments ``(args, kwargs)`` of its first ``limit`` calls to ``calls`` (copied as
    they arrive: the step's inputs, a random generator's state included); with ``stop``, the call after the
    last recorded one raises instead of running (the caller has what it needs)."""

    @functools.wraps(fn)  # its signature is the step's: a driver that reads the step's arguments reads them
    def recorded(*args, **kwargs):
        if len(calls) < limit:
            calls.append(copy.deepcopy((args, kwargs)))
        elif stop:
            raise _Recorded
        return fn(*args, **kwargs)

    return recorded


def recorded_calls(recipe: str, run_row: Callable, limit: int = 50) -> list:
    """The arguments of the first ``limit`` calls the rows' drivers make to ``recipe``'s step on the rows'
    seeded problems (see :func:`recording`); a row stops at the call after them, its checks unrun."""
    calls: list = []
    with _in_place_of(recipe, recording(_original(recipe), calls, limit, stop=True)):
        for name in rows_of(recipe):
            if len(calls) < limit:
                try:
                    run_row(name)
                except _Recorded:
                    pass
    return calls


def _leaves(x) -> list:
    """The arrays of a step's outputs as floats; a complex value (a square root of a negative number in a wrong
    variant) is NaN, without NumPy's warning (which a test run turns into an error)."""
    if isinstance(x, (tuple, list)):
        return [leaf for v in x for leaf in _leaves(v)]
    a = np.asarray(x)
    if np.iscomplexobj(a):
        a = np.where(a.imag == 0, a.real, np.nan)
    return [np.asarray(a, dtype=float)]


def outputs(fn: Callable, calls: list) -> list | None:
    """``fn``'s outputs on each recorded call, each flattened to a list of float arrays; None when it raises."""
    out = []
    for args, kwargs in calls:
        try:
            with np.errstate(all="ignore"):
                out.append(_leaves(fn(*copy.deepcopy(args), **copy.deepcopy(kwargs))))
        except Exception:  # noqa: BLE001 -- a step that raises has no outputs to compare
            return None
    return out


def usable(recipe: str, calls: list) -> list:
    """The recorded ``calls`` on which ``recipe``'s committed step returns finite values (a diverging variant's
    later inputs may not be such)."""
    original = _original(recipe)
    return [c for c in calls if (o := outputs(original, [c])) is not None and all(np.all(np.isfinite(x)) for x in o[0])]


def same_outputs(a: list | None, b: list | None, rtol: float = 1e-9) -> bool:
    """Whether two results of :func:`outputs` agree, call by call and array by array (to ``rtol``)."""
    return a is not None and b is not None and len(a) == len(b) and all(
        len(x) == len(y) and all(u.shape == v.shape and np.allclose(u, v, rtol=rtol, atol=1e-12, equal_nan=True)
                                 for u, v in zip(x, y)) for x, y in zip(a, b))


def difference(variant: Variant, calls: list, rtol: float = 1e-9) -> str:
    """How ``variant``'s step compares with the original on the recorded ``calls``: ``"wrong"`` (another value
    on some call, beyond ``rtol``: the rounding of two printings of one expression), ``"same"`` (the same
    values on every call), or ``"broken: …"`` (it raises, or returns another shape: the printed code is not
    the rewritten maths, a printing artefact rather than a wrong update). Calls on which the original raises or
    returns a non-finite value are skipped."""
    original, step = _original(variant.recipe), variant.step()
    verdict = "same"
    for args, kwargs in calls:
        try:
            with np.errstate(all="ignore"):
                want = _leaves(original(*copy.deepcopy(args), **copy.deepcopy(kwargs)))
        except Exception:  # noqa: BLE001 -- inputs the original refuses (a diverged iterate) say nothing
            continue
        if not all(np.all(np.isfinite(w)) for w in want):
            continue
        try:
            with np.errstate(all="ignore"):
                got = _leaves(step(*copy.deepcopy(args), **copy.deepcopy(kwargs)))
        except Exception as e:  # noqa: BLE001 -- reported as the verdict
            return f"broken: {type(e).__name__}: {e}"[:160]
        if len(got) != len(want) or any(g.shape != w.shape for g, w in zip(got, want)):
            return f"broken: returns shapes {[g.shape for g in got]} for {[w.shape for w in want]}"
        scale = max(max((float(np.max(np.abs(w), initial=0.0)) for w in want), default=0.0), 1e-300)
        if any(not np.allclose(g, w, rtol=rtol, atol=rtol * scale) for g, w in zip(got, want)):
            verdict = "wrong"
    return verdict


def changes_output(variant: Variant, calls: list, rtol: float = 1e-9) -> bool:
    """Whether ``variant``'s step returns other values than the original's on a recorded call (see
    :func:`difference`)."""
    return difference(variant, calls, rtol) == "wrong"


@dataclass(frozen=True)
class Survey:
    """What the rules make of one recipe: the variants kept (wrong on the row's inputs), those dropped (with
    the reason), and the verdict of the rows on each kept one."""

    recipe: str
    kept: tuple[str, ...]
    dropped: tuple[tuple[str, str], ...]
    survivors: tuple[str, ...]
    guarded: tuple[tuple[str, str], ...] = ()  # survivors whose rows fail, but by an error before any check ran
    rules: tuple[str, ...] = ()  # the rule that made each kept variant, in the order of ``kept``

    @property
    def killed(self) -> int:
        return len(self.kept) - len(self.survivors)


def survey(recipe: str, run_row: Callable) -> Survey:
    """Make every variant of ``recipe``, drop those that do not change the step's output on the rows' recorded
    inputs (none when the rows never call the step: a row that checks nothing scores 0), and run the rows on each
    of the rest."""
    chosen, dropped = variants(recipe)
    calls = recorded_calls(recipe, run_row)
    kept, rules, survivors, guarded, dropped = [], [], [], [], list(dropped)
    for v in chosen:
        # rows that never call the step give no inputs to compare on: every variant is kept, and run
        verdict = difference(v, calls) if calls else "wrong"
        if verdict != "wrong":
            dropped.append((v.name, "the same output as the original on the rows' inputs" if verdict == "same"
                            else f"the emitted variant is {verdict}"))
            continue
        kept.append(v.name)
        rules.append(v.rule)
        ok, rows = killed(v, run_row)
        if not ok:
            survivors.append(v.name)
            if all(r.status == "fail" for r in rows):
                guarded.append((v.name, "; ".join(r.message for r in rows)[:160]))
    return Survey(recipe, tuple(kept), tuple(dropped), tuple(survivors), tuple(guarded), tuple(rules))


def main(argv=None) -> int:
    """``python -m blrkit.verify.variants [RECIPE ...]``: every variant of each recipe (default: all), and how
    many its row rejects, at the size and seed of ``tests/verify`` (seed 0, D = 3, N = 24, batch 1)."""
    import argparse

    from blrkit.derive import RECIPES
    from blrkit.verify import verify_row

    parser = argparse.ArgumentParser(prog="python -m blrkit.verify.variants", description=main.__doc__)
    parser.add_argument("recipes", nargs="*", help="recipe names (default: every recipe)")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every variant and every dropped one")
    ns = parser.parse_args(argv)
    unknown = [n for n in ns.recipes if n not in RECIPES]
    if unknown:
        parser.error(f"unknown recipe(s): {', '.join(unknown)}")
    size = dict(seed=0, dim=3, n=24, batch=1)
    total = [0, 0, 0]
    for name in ns.recipes or list(RECIPES):
        s = survey(name, lambda row: verify_row(row, **size))
        total = [total[0] + len(s.kept), total[1] + s.killed, total[2] + len(s.dropped)]
        print(f"{name}: {len(s.kept)} variants, {s.killed} killed, {len(s.dropped)} dropped"
              + (f"; NOT KILLED: {'; '.join(s.survivors)}" if s.survivors else ""))
        if ns.verbose:
            print("".join(f"    + {v}\n" for v in s.kept if v not in s.survivors), end="")
            print("".join(f"    - {v}: {why}\n" for v, why in s.dropped), end="")
            print("".join(f"    ! {v}: the row fails by an error, no check ran: {why}\n"
                          for v, why in s.guarded), end="")
    print(f"total: {total[0]} variants, {total[1]} killed, {total[2]} dropped")
    return 0 if total[0] == total[1] else 1


if __name__ == "__main__":
    raise SystemExit(main())
