r"""The BLR for a mean-field candidate :math:`q(\theta_1, \dots, \theta_B) = \prod_b q_b(\theta_b)` (Khan & Rue 2023, Sec. 5.3).

Each block :math:`q_b` is an exponential family with its own natural parameters; the BLR updates one
block at a time, in a stated order, with the others held at their current expectation parameters:

.. math::

    \lambda_b \leftarrow (1-\rho_b)\lambda_b + \rho_b\big(\lambda_{0,b} - \nabla_{\mu_b}\mathbb{E}_{q}[\ell]\big).

When the loss is linear in every block's sufficient statistics (a conditionally conjugate model), the
expectation over the other blocks replaces their statistics by their :math:`\mu`'s, and each block's
update is the conjugate one of :mod:`blrkit.derive.conjugate` with those :math:`\mu`'s as data.
With :math:`\rho_b = 1` for every block this is variational message passing (Winn & Bishop 2005),
i.e. coordinate-ascent VI.  A block whose statistics the loss is not linear in is refused by name.
"""

from __future__ import annotations

import sympy as sp

from . import ir
from .derivation import Argument, Derivation, Equation, Step
from .errors import DerivationError
from .meanfield_blocks import Block, adopt, block_label, one_sum, expectation_assignments, expected_loss_name, live

__all__ = ["Block", "derive_mean_field"]


def derive_mean_field(blocks, loss, *, title: str = "Mean-field BLR", anchor: str = "vmp",
                      function_name: str = "mean_field_sweep") -> Derivation:
    r"""Derive one sweep of the mean-field BLR over ``blocks``, in their order.

    Parameters
    ----------
    blocks : sequence of Block
        The factors of q, updated in this order, each given the others' current expectations (the
        new ones of the blocks already updated in the sweep).
    loss : SymPy expression
        :math:`\ell` (prior terms not in a block's family included) in the blocks' names, data
        ``y[i]`` summed over ``i`` (:data:`blrkit.derive.conjugate.Y`), and any other symbols
        (known constants: arguments of the emitted function).

    Returns
    -------
    Derivation
        Steps per block (the expectation over the other blocks, then its conjugate update); the
        emitted function runs one sweep and returns every block's new standard parameters.
    """
    from ..families import FAMILIES
    from .approximations import ordered
    from .conjugate import Likelihood, N_OBS, Y, derive_conjugate

    if len(blocks) < 2:
        raise DerivationError("a mean-field candidate needs at least two blocks")
    from .candidates import candidate_of_family

    if any(b.family in FAMILIES and candidate_of_family(b.family).matrix_statistics for b in blocks):  # (w, wwᵀ)
        from .meanfield_gaussian import derive_gaussian_mean_field

        return derive_gaussian_mean_field(blocks, loss, title=title, anchor=anchor, function_name=function_name)
    fams, theta = {}, {}
    for b in blocks:
        if b.family not in FAMILIES:
            raise DerivationError(f"block {b.name}: unknown family {b.family!r}")
        fams[b.name] = FAMILIES[b.family]()
        if len(fams[b.name].theta) != 1:
            raise DerivationError(f"block {b.name}: a scalar θ per block ({b.family} has {len(fams[b.name].theta)})")
        theta[b.name] = fams[b.name].theta[0]
    loss = loss.xreplace({s: sp.Symbol(s.name, **theta[s.name].assumptions0) for s in loss.free_symbols
                          if s.name in theta})
    known = {s for s in loss.free_symbols if isinstance(s, sp.Symbol) and not isinstance(s, sp.Idx)
             and s.name not in theta and s != N_OBS and s.name != Y.name}
    steps = [Step("Mean field", tuple(
        Equation(sp.Symbol(f"q_{b.name}"), sp.Symbol(fams[b.name].name.replace(" ", "_")))
        for b in blocks),
        "$q = \\prod_b q_b$, each block in its family, updated in this order given the others' "
        "$\\mu$", anchor)]
    assignments, arguments, outputs = [], {}, []
    mu_now: dict = {}  # block name -> {statistic: symbol of its current expectation}
    from .printing import Notation, latex

    names: dict = {}  # this derivation's own notation: symbol name -> LaTeX
    indices: dict = {}  # a block's parameter -> (base, index): m_{\mu,t}
    for b in blocks:
        fam = fams[b.name]
        mu_now[b.name] = {t: sp.Symbol(f"E_{b.name}_{k + 1}", real=True) for k, t in enumerate(fam.statistics)}
        for t, sym in mu_now[b.name].items():  # E[T_k(θ_b)], printed with θ_b's name
            shown = latex(t.xreplace({theta[b.name]: sp.Symbol(b.name)}))
            names.setdefault(sym.name, rf"\mathbb{{E}}[{shown}]")
    for b in blocks:  # every block's expectations at its current parameters, before the sweep
        assignments += expectation_assignments(b.name, fams[b.name], mu_now[b.name], "", "the current")
    for j, b in enumerate(blocks):
        fam = fams[b.name]
        mine = sp.Symbol(b.name, **theta[b.name].assumptions0)
        expr = sp.expand(sp.expand_log(loss, force=True))
        for other in blocks:
            if other.name == b.name:
                continue
            th_o = sp.Symbol(other.name, **theta[other.name].assumptions0)
            stats = {sp.expand_log(t.xreplace({theta[other.name]: th_o}), force=True): s
                     for t, s in mu_now[other.name].items()}
            expr = _expect(expr, th_o, stats, other.name, fams[other.name].statistics)
        expr = expr.xreplace({mine: theta[b.name]})
        used = sorted((s for s in expr.free_symbols if s.name.startswith("E_") or s in known), key=lambda s: s.name)
        # the whole expected loss (its sums over the data included) in θ_b, the others' μ as data
        lik = Likelihood(f"expected loss of block {b.name}", expr, data_free=True,
                         data=tuple((s, f"E_q[{s.name}] of another block" if s.name.startswith("E_") else
                                     f"known constant {s.name}") for s in used))
        notation = Notation(tuple(names.items()), tuple(indices.items()))
        d = derive_conjugate(fam, lik, "none" if b.prior == "none" else None, ordered(b.approximations),
                             function_name=f"{b.name}_step", title=f"block {b.name}", anchor=anchor,
                             notation=notation)
        names.setdefault(*expected_loss_name(b.name))
        steps.append(Step(f"Block {block_label(b.name)}", (Equation(sp.Symbol(f"E_loss_{b.name}"),
                                                      one_sum(expr.xreplace({theta[b.name]: sp.Symbol(b.name)}))),),
                          "$\\mathbb{E}$ over the other blocks: their statistics become their $\\mu$", anchor))
        steps.extend(Step(f"{block_label(b.name)}: {s.label}", s.equations, s.justification, s.anchor) for s in d.steps[1:])
        adopt(d, b.name, fam, b.prior != "none", ("E_",), assignments, outputs, arguments, indices)
        # this block's expectations at its new parameters, for the blocks after it
        if j < len(blocks) - 1:
            assignments += expectation_assignments(b.name, fam, mu_now[b.name], "_new", "the new")
    for b in blocks:  # the initial expectations use every block's current standard parameters
        for p in fams[b.name].standard:
            arguments.setdefault(f"{b.name}_{p.name}", Argument(f"{b.name}_{p.name}", "scalar",
                                                                f"current {p.name} of q_{b.name}"))
    assignments = live(assignments, outputs)
    order = [f"{b.name}_{p.name}" for b in blocks for p in fams[b.name].standard]
    arguments = {k: arguments[k] for k in order if k in arguments} | {k: a for k, a in arguments.items()
                                                                       if k not in order}
    same = {tuple(b.approximations) for b in blocks}
    approx = ordered(next(iter(same))) if len(same) == 1 else ()
    return Derivation(
        title=title, family="mean-field", approximations=approx, steps=tuple(steps), natural_update=(),
        update=tuple(Equation(a.target, a.expr) for a in assignments if a.target in outputs), anchor=anchor,
        function_name=function_name, summary=f"One sweep of {title}.", arguments=tuple(arguments.values()),
        oracles=(ir.Count(("N",), "y", (-1,), "number of observations"),), assignments=tuple(assignments),
        outputs=tuple(outputs), notation=Notation(tuple(names.items()), tuple(indices.items())),
        extra={"sum_axis": -1, "in_order": True},
    )


def _expect(expr, th, stats: dict, block: str, shown):
    """E over q_block of ``expr``: every term's factor in θ_block must be one sufficient statistic (then it
    becomes its expectation symbol) or absent; anything else (θ³ where T = (θ, θ²)) is refused."""
    def one(term):
        inside = sp.Mul(*[f for f in sp.Mul.make_args(term) if f.has(th)])
        if inside == 1:
            return term
        for t, sym in stats.items():
            if sp.expand(inside - t) == 0:
                return sp.Mul(*[f for f in sp.Mul.make_args(term) if not f.has(th)]) * sym
        raise DerivationError(f"the loss is not linear in the sufficient statistics {shown} of block {block}: "
                              f"the term {inside} has no closed-form expectation over q_{block} (not "
                              "conditionally conjugate)")

    def terms(e):
        return sp.Add(*[one(t) for t in sp.Add.make_args(sp.expand(e))])
    expr = expr.replace(lambda x: isinstance(x, sp.Sum), lambda x: sp.Sum(terms(x.function), *x.limits))
    return sp.Add(*[t if isinstance(t, sp.Sum) else one(t) for t in sp.Add.make_args(sp.expand(expr))])


