"""What the mean-field sweeps share (:mod:`.meanfield`, :mod:`.meanfield_gaussian`): the :class:`Block` of a
mean-field candidate (data: the recipe records name blocks without importing the engine), a block's own derivation
adopted under the block's names, the expectations of its statistics, the live assignments of a sweep, and the
notation of a block's symbols. A module made for sharing; it imports nothing above :mod:`.derivation`.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .derivation import Argument, Assignment


@dataclass(frozen=True)
class Block:
    """One block of a mean-field candidate: ``name`` (the symbol of θ_b in the loss), a family key,
    its step size (``"rho=1"``, ``"rho=1/2"``, … or none for a symbolic ρ_b) and its prior: ``"family"``
    (in the family, standard parameters ``<param>_0``) or ``"none"`` (every prior term is in the loss)."""

    name: str
    family: str
    approximations: tuple = ("rho=1",)
    prior: str = "family"


def adopt(d, block: str, family, with_prior: bool, computed: tuple, assignments: list, outputs: list,
           arguments: dict, indices: dict) -> None:
    """Append the assignments, outputs and arguments of block ``block``'s own derivation ``d`` under the block's
    parameter names (``alpha`` → ``tau_alpha``, ``alpha_new``, ``alpha_0``); arguments whose names start with
    one of ``computed`` are computed in the sweep, not passed. ``indices`` (the sweep's notation) gains how
    the renamed parameters print."""
    params = [p.name for p in family.standard]
    prefix = {n: f"{block}_{n}" for n in params} | {f"{n}_new": f"{block}_{n}_new" for n in params}
    if with_prior:
        prefix |= {f"{n}_0": f"{block}_{n}_0" for n in params}
    for k, v in block_indices(block, params):
        indices.setdefault(k, v)
    for a in d.assignments:
        target = renamed(a.target, prefix)
        assignments.append(Assignment(target, renamed(a.expr, prefix), a.comment))
        if a.target in d.outputs:
            outputs.append(target)
    for arg in d.arguments:
        name = prefix.get(arg.name, arg.name)
        if not name.startswith(computed):
            arguments.setdefault(name, Argument(name, arg.kind, arg.doc.replace("prior", f"prior of q_{block}:")))


def expected_loss_name(block: str) -> tuple[str, str]:
    r"""The symbol name and LaTeX of the expected loss over every block but ``block``:
    :math:`\mathbb{E}_{q_{\setminus \tau}}[\ell]`."""
    return f"E_loss_{block}", rf"\mathbb{{E}}_{{q_{{\setminus {sp.latex(sp.Symbol(block))}}}}}[\ell]"


def block_indices(block: str, params) -> list:
    r"""``(name, (base, index))`` pairs of a :class:`~blrkit.derive.printing.Notation`: block ``mu``'s parameter
    ``m`` prints as :math:`m_{\mu,t}` (and ``_new``, ``_0``)."""
    b = sp.latex(sp.Symbol(block))
    return [(f"{block}_{n}", (sp.latex(sp.Symbol(n)), b)) for n in params]


def expectation_assignments(block: str, family, symbols: dict, suffix: str, which: str) -> list:
    """Assignments ``E_<block>_k = E[T_k(θ)]`` from the block's parameters ``<block>_<param><suffix>``."""
    names = {p.name: f"{block}_{p.name}{suffix}" for p in family.standard}
    return [Assignment(sym, renamed(e, names), f"{sym.name} = E[{t}] under {which} q_{block}")
            for (t, sym), e in zip(symbols.items(), family.closed_forms["expectation_standard"])]


def live(assignments, outputs):
    """Drop the expectations no later update reads (E[log τ] when only E[τ] enters), last to first."""
    kept, needed = [], set(outputs)
    for a in reversed(assignments):
        if a.target in needed or a.target in outputs:
            kept.append(a)
            needed.discard(a.target)
            needed |= {x for x in a.expr.free_symbols}
    return list(reversed(kept))


def renamed(e, names: dict):
    """``e`` with its symbols renamed by name (assumptions kept)."""
    return e.xreplace({x: sp.Symbol(names[x.name], **x.assumptions0) for x in e.free_symbols
                       if isinstance(x, sp.Symbol) and x.name in names})


__all__ = ["Block", "adopt", "block_indices", "expectation_assignments", "expected_loss_name", "live", "renamed"]


def block_label(name: str) -> str:
    """A block's name as step labels print it: its symbol in Unicode (``tau`` → τ), not its code name."""
    from .printing import latex, unicode_text

    return unicode_text(latex(sp.Symbol(name)))


def one_sum(expr):
    r"""``expr`` with its sums over the same range as one sum: :math:`\sum_i (a_i + b_i)`, not :math:`\sum_i a_i +
    \sum_i b_i` (a coefficient goes inside). Display only: the sum is equal, term by term.

    >>> i, n, y = sp.Idx("i"), sp.Symbol("N"), sp.IndexedBase("y")
    >>> one_sum(sp.Sum(y[i], (i, 1, n)) - sp.Sum(y[i]**2, (i, 1, n)) / 2 + 3)
    Sum(-y[i]**2/2 + y[i], (i, 1, N)) + 3
    """
    groups: dict = {}
    rest = sp.S.Zero
    for term in sp.Add.make_args(expr):
        coeff, body = term.as_independent(sp.Sum, as_Add=False)
        if isinstance(body, sp.Sum):
            groups.setdefault(body.limits, []).append(coeff * body.function)
        else:
            rest += term
    return rest + sp.Add(*(sp.Sum(sp.Add(*parts), *limits) for limits, parts in groups.items()))
