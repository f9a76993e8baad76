r"""The mean-field BLR with a multivariate Gaussian block (Khan & Rue 2023, Sec. 5.3).

A block :math:`q(w) = \mathcal N(w\mid m, S^{-1})` has the statistics :math:`T(w) = (w, ww^\top)` and the
expectation parameters :math:`\mu = (m, S^{-1} + mm^\top)`.  A loss written with traces of matrix products
(``Trace((y - X w).T * (y - X w))``) whose every term is linear in :math:`w` or in :math:`ww^\top` (after a
cyclic rotation, :math:`\mathrm{tr}(w^\top A w) = \mathrm{tr}(A\,ww^\top)`) has an expectation over
:math:`q(w)` in closed form, and its gradient in :math:`\mu` is read off by SymPy's matrix calculus:

.. math::

    \lambda_1 \leftarrow \lambda_{0,1} - \nabla_{\mu_1}\mathbb E_q[\ell], \quad
    \lambda_2 \leftarrow \lambda_{0,2} - \nabla_{\mu_2}\mathbb E_q[\ell], \qquad
    S = -2\lambda_2, \quad m = S^{-1}\lambda_1 \quad (\rho = 1).

The other blocks are scalar exponential families (Gamma, …), updated by :mod:`blrkit.derive.conjugate` with
the Gaussian block's expectations as data, exactly as in :mod:`blrkit.derive.meanfield`.
"""

from __future__ import annotations

import sympy as sp
from sympy import Identity, Inverse, MatrixSymbol, Trace, Transpose

from . import ir
from .derivation import Argument, Assignment, Derivation, Equation, Step
from .algebra import expand_terms, matrix_gradient
from .errors import DerivationError
from .meanfield_blocks import adopt, block_label, one_sum, block_indices, expectation_assignments, expected_loss_name, live

__all__ = ["derive_gaussian_mean_field"]


def derive_gaussian_mean_field(blocks, loss, *, title: str, anchor: str, function_name: str) -> Derivation:
    r"""One sweep of the mean-field BLR over ``blocks`` (one ``"multivariate-gaussian"`` block with an isotropic
    prior :math:`\mathcal N(0, \alpha^{-1}I)`, the others scalar families with their prior in the family), each
    with ρ = 1 (VMP), for a scalar ``loss`` in traces of matrix products (see the module docstring)."""
    from ..families import FAMILIES
    from .approximations import ordered
    from .conjugate import Likelihood, derive_conjugate
    from .printing import Notation

    from .candidates import candidate_of_family

    gauss = [b for b in blocks if b.family in FAMILIES and candidate_of_family(b.family).matrix_statistics]
    if len(gauss) != 1 or len(blocks) < 2:
        raise DerivationError("a mean-field candidate with matrix statistics takes one multivariate-gaussian block "
                              "and at least one scalar block")
    for b in blocks:
        if tuple(b.approximations) != ("rho=1",):
            raise DerivationError(f"block {b.name}: the matrix mean field is derived with rho=1 per block (VMP)")
    g = gauss[0]
    if g.prior != "isotropic":
        raise DerivationError(f"block {g.name}: the Gaussian block takes the isotropic prior N(0, α⁻¹I)")
    w = next((s for s in loss.atoms(MatrixSymbol) if s.name == g.name), None)
    if w is None or w.shape[1] != 1:
        raise DerivationError(f"the loss has no column vector {g.name!r} (the Gaussian block)")
    D = w.shape[0]
    alpha = sp.Symbol("alpha", positive=True)
    E1, E2 = MatrixSymbol(f"E_{g.name}_1", D, 1), MatrixSymbol(f"E_{g.name}_2", D, D)
    m, S = MatrixSymbol(f"{g.name}_m", D, 1), MatrixSymbol(f"{g.name}_S", D, D)
    m_new, S_new = MatrixSymbol(f"{g.name}_m_new", D, 1), MatrixSymbol(f"{g.name}_S_new", D, D)
    names = {E1.name: rf"\mathbb{{E}}[{g.name}]", E2.name: rf"\mathbb{{E}}[{g.name}{g.name}^\top]"}
    names.update(expected_loss_name(b.name) for b in blocks)
    indices = dict(block_indices(g.name, ("m", "S")))
    scalars = {b.name: FAMILIES[b.family]() for b in blocks if b is not g}
    theta = {n: f.theta[0] for n, f in scalars.items()}
    syms = {s.name: s for s in loss.free_symbols if isinstance(s, sp.Symbol)}
    mu_now = {n: {t: sp.Symbol(f"E_{n}_{k + 1}", real=True) for k, t in enumerate(f.statistics)}
              for n, f in scalars.items()}
    for n, f in scalars.items():
        for t, sym in mu_now[n].items():
            names.setdefault(sym.name, rf"\mathbb{{E}}[{sp.latex(t.xreplace({theta[n]: sp.Symbol(n)}))}]")
    loss = _traces(loss)
    steps = [Step("Mean field", tuple(Equation(sp.Symbol(f"q_{b.name}"), sp.Symbol(
        "multivariate_Gaussian" if b is g else scalars[b.name].name.replace(" ", "_"))) for b in blocks),
        "$q = \\prod_b q_b$, updated in this order given the others' $\\mu$; the Gaussian block's "
        f"$\\mu = ({g.name}, {g.name}{g.name}^\\top)$ in expectation: $(m, S^{{-1}} + m m^\\top)$", anchor)]
    assignments, arguments, outputs = [], {}, []
    for n, f in scalars.items():
        assignments += expectation_assignments(n, f, mu_now[n], "", "the current")
    gauss_now = {E1: m, E2: Inverse(S) + m * m.T}
    for j, b in enumerate(blocks):
        if b is g:
            expr = _expect_scalars(loss, scalars, theta, mu_now, syms)
            lin = _linearise(expr, w, E1, E2)
            grad1, grad2 = matrix_gradient(lin, E1), matrix_gradient(lin, E2)
            grad2 = (grad2 + grad2.T) / 2 if not _symmetric(grad2) else grad2
            S_rhs = expand_terms(alpha * Identity(D) + 2 * grad2)
            lam1 = expand_terms(-grad1)
            m_rhs = Inverse(S_new) * lam1
            steps += [
                Step(f"Block {block_label(g.name)}", (Equation(sp.Symbol(f"E_loss_{g.name}"), lin),),
                     "$\\mathbb{E}$ over the other blocks; every term is linear in "
                     f"${g.name}$ or in ${g.name}{g.name}^\\top$ (a cyclic rotation of the trace)", anchor),
                Step(f"{block_label(g.name)}: natural gradient", (Equation(MatrixSymbol("grad_mu_1", D, 1), grad1),
                                                     Equation(MatrixSymbol("grad_mu_2", D, D), grad2)),
                     "$\\nabla_{\\mu}\\mathbb{E}_q[\\ell]$ by SymPy's matrix calculus", anchor),
                Step(f"{block_label(g.name)}: ρ = 1", (Equation(S_new, S_rhs), Equation(m_new, m_rhs)),
                     "$\\lambda = \\lambda_0 - \\nabla_\\mu\\mathbb{E}_q[\\ell]$, "
                     "$\\lambda_0 = (0, -\\tfrac12\\alpha I)$; $S = -2\\lambda_2$, $m = S^{-1}\\lambda_1$", anchor)]
            assignments += [Assignment(S_new, S_rhs, f"{g.name}: S = αI + 2∇_μ₂ E[ℓ]"),
                            Assignment(m_new, m_rhs, f"{g.name}: m = S⁻¹(−∇_μ₁ E[ℓ])")]
            outputs += [m_new, S_new]
            gauss_now = {E1: m_new, E2: Inverse(S_new) + m_new * m_new.T}
            arguments.setdefault("alpha", Argument("alpha", "scalar", f"prior precision α of q_{g.name}: N(0, α⁻¹I)"))
            continue
        fam, th = scalars[b.name], theta[b.name]
        expr = _expect_scalars(loss, {k: v for k, v in scalars.items() if k != b.name}, theta, mu_now, syms)
        expr = _traces(_linearise(expr, w, E1, E2).xreplace(gauss_now))
        # the coefficients of the block's statistics hold traces: one scalar symbol each, computed first
        expr = sp.expand(expr.xreplace({syms.get(b.name, th): th}))
        data, coeffs = [], {}
        for t in (th, sp.log(th)):
            c = expr.coeff(t)
            if c.atoms(Trace):
                sym = sp.Symbol(f"C_{b.name}_{len(coeffs) + 1}", real=True)
                coeffs[sym] = c
                names.setdefault(sym.name, rf"c_{{{len(coeffs)}}}")
                expr = sp.expand(expr - c * t + sym * t)
        if expr.atoms(Trace):
            raise DerivationError(f"block {b.name}: the expected loss is not linear in its statistics")
        for sym, c in coeffs.items():
            assignments.append(Assignment(sym, sp.expand(c), f"{sym.name}: a coefficient of the expected loss"))
            data.append((sym, "a coefficient of the expected loss"))
        lik = Likelihood(f"expected loss of block {b.name}", expr, data_free=True,
                         data=tuple(data) + tuple((s, f"E_q[{s.name}] of another block") for s in
                                                  sorted(expr.free_symbols, key=lambda s: s.name)
                                                  if s.name.startswith("E_")))
        d = derive_conjugate(fam, lik, None, ordered(b.approximations), function_name=f"{b.name}_step",
                             title=f"block {b.name}", anchor=anchor,
                             notation=Notation(tuple(names.items()), tuple(indices.items())))
        shown = one_sum(expr.xreplace({th: sp.Symbol(b.name)}))
        steps.append(Step(f"Block {block_label(b.name)}", (Equation(sp.Symbol(f"E_loss_{b.name}"), shown),
                                              *(Equation(k, v) for k, v in coeffs.items())),
                          "$\\mathbb{E}$ over the other blocks; the coefficients of its statistics as symbols", anchor))
        steps.extend(Step(f"{block_label(b.name)}: {s.label}", s.equations, s.justification, s.anchor) for s in d.steps[1:])
        adopt(d, b.name, fam, True, ("E_", "C_"), assignments, outputs, arguments, indices)
        if j < len(blocks) - 1:
            assignments += expectation_assignments(b.name, fam, mu_now[b.name], "_new", "the new")
    assignments = live(_hoist_data_products(assignments, {g.name}, names), outputs)
    data_args = {s.name: Argument(s.name, "data", _DATA_DOCS.get(s.name, f"data {s.name}"))
                 for s in sorted(loss.atoms(MatrixSymbol), key=lambda s: s.name) if s.name != g.name}
    first = [Argument(f"{g.name}_m", "data", f"current mean m of q_{g.name}, (..., D)"),
             Argument(f"{g.name}_S", "data", f"current precision S of q_{g.name}, (..., D, D)")]
    for b in blocks:
        if b is not g:
            for p in scalars[b.name].standard:
                first.append(Argument(f"{b.name}_{p.name}", "scalar", f"current {p.name} of q_{b.name}"))
    used = set().union(*(a.expr.free_symbols | a.expr.atoms(MatrixSymbol) for a in assignments))
    used_names = {s.name for s in used}
    args = [a for a in first if a.name in used_names] + list(data_args.values()) + \
        [a for k, a in arguments.items() if k in used_names and k not in data_args]
    return Derivation(
        title=title, family="mean-field", approximations=ordered(("rho=1",)), steps=tuple(steps), natural_update=(),
        update=tuple(Equation(a.target, a.expr) for a in assignments if a.target in outputs), anchor=anchor,
        function_name=function_name, summary=f"One sweep of {title}.", arguments=tuple(args),
        oracles=(ir.Count(("N",), "y", (-1,), "number of observations"),), assignments=tuple(assignments), outputs=tuple(outputs),
        dims=((D, "X.shape[-1]"),), elementwise=False, notation=Notation(tuple(names.items()), tuple(indices.items())),
        extra={"in_order": True, "sum_axis": -1},
    )


_DATA_DOCS = {"X": "inputs, (..., N, D)", "y": "targets, (..., N)"}


def _hoist_data_products(assignments, blocks: set, notation: dict) -> list:
    """Products of data alone (``Xᵀ X``, ``Xᵀ y``) that the sweep uses more than once, computed once, first.

    A run of consecutive factors of a matrix product whose symbols are all data (not a block's parameters or
    expectations) becomes a symbol named after its factors (``XtX``); ``notation`` (the sweep's names) gains
    its LaTeX."""

    def data(f):
        names = {a.name for a in f.atoms(MatrixSymbol)}
        return names and not any(n.startswith(("E_", *(f"{b}_" for b in blocks))) for n in names) \
            and not isinstance(f, Inverse)

    def runs(e):
        for mm in e.atoms(sp.MatMul):
            _, mats = mm.as_coeff_matrices()
            i = 0
            while i < len(mats):
                j = i
                while j < len(mats) and data(mats[j]):
                    j += 1
                if j - i >= 2:
                    yield tuple(mats[i:j])
                i = max(j, i + 1)
    counts: dict = {}
    for a in assignments:
        for r in runs(a.expr):
            counts[r] = counts.get(r, 0) + 1
    shared = [r for r, n in counts.items() if n > 1]
    if not shared:
        return assignments
    names = {}
    for r in shared:
        name = "".join(f.arg.name + "t" if isinstance(f, Transpose) else f.name for f in r)
        names[r] = MatrixSymbol(name, r[0].shape[0], r[-1].shape[1])
        notation.setdefault(name, " ".join(sp.latex(f) for f in r))

    def replace(e):
        def one(mm):
            c, mats = mm.as_coeff_matrices()
            mats = list(mats)
            for r, sym in names.items():
                k = len(r)
                i = 0
                while i + k <= len(mats):
                    if tuple(mats[i:i + k]) == r:
                        mats[i:i + k] = [sym]
                    i += 1
            return c * sp.MatMul(*mats) if len(mats) > 1 else c * mats[0]
        return e.replace(lambda x: isinstance(x, sp.MatMul), one)
    hoisted = [Assignment(sym, sp.MatMul(*r), f"{sym.name}: a product of data alone, once per sweep")
               for r, sym in names.items()]
    return hoisted + [Assignment(a.target, replace(a.expr), a.comment) for a in assignments]


def _traces(loss):
    """``loss`` with every trace of a sum of products split into traces of products, each 1 × 1 product in one
    canonical orientation (tr(yᵀXw) = tr(wᵀXᵀy)), so that equal terms combine."""
    def canonical(e):
        if e.arg.shape != (1, 1):
            return e
        return Trace(min(e.arg, e.arg.T.doit(), key=str))
    split = sp.expand(loss.replace(lambda e: isinstance(e, Trace), lambda e: Trace(sp.expand(e.arg)).doit()))
    return sp.expand(split.replace(lambda e: isinstance(e, Trace), canonical))


def _expect_scalars(expr, scalars, theta, mu_now, syms):
    """E over the scalar blocks: each block's statistic (τ, log τ) becomes its expectation symbol."""
    out = sp.expand(sp.expand_log(expr, force=True))
    for n, f in scalars.items():
        th = syms.get(n, theta[n])
        stats = {sp.expand_log(t.xreplace({theta[n]: th}), force=True): s for t, s in mu_now[n].items()}
        # linear in the statistics: replace log τ first, then τ
        for t in sorted(stats, key=lambda t: -sp.count_ops(t)):
            out = out.subs(t, stats[t])
        if out.has(th):
            raise DerivationError(f"the loss is not linear in the sufficient statistics of block {n}")
    return out


def _linearise(expr, w, E1, E2):
    r"""Every trace term in ``w``: no w (kept), one w or wᵀ (w → E[w]), or :math:`\mathrm{tr}(w^\top A w)` →
    :math:`\mathrm{tr}(A\,E[ww^\top])`; anything else is refused."""
    def one(tr):
        arg = tr.arg
        coeff, mats = arg.as_coeff_matrices() if isinstance(arg, sp.MatMul) else (sp.S.One, [arg])
        at = [i for i, f in enumerate(mats) if f == w or f == Transpose(w)]
        if not at:
            return tr
        if len(at) == 1:
            return Trace(coeff * sp.MatMul(*[E1 if f == w else (E1.T if f == Transpose(w) else f) for f in mats]))
        if len(at) == 2 and mats[0] == Transpose(w) and mats[-1] == w:
            inner = mats[1:-1]
            A = sp.MatMul(*inner) if inner else Identity(w.shape[0])
            return Trace(coeff * A * E2)
        raise DerivationError(f"the loss term {tr} is not linear in {w.name} or in {w.name}{w.name}ᵀ")
    return sp.expand(expr.replace(lambda e: isinstance(e, Trace), one))


def matrix_gradient(expr, X):
    """∂expr/∂X, term by term."""
    parts = [sp.diff(t, X) for t in sp.Add.make_args(sp.expand(expr)) if t.has(X)]
    parts = [p for p in parts if p != 0]
    return expand_terms(sp.MatAdd(*parts).doit()) if parts else sp.ZeroMatrix(*X.shape)


def _symmetric(A) -> bool:
    return sp.simplify((A - A.T).doit()) == sp.ZeroMatrix(*A.shape)
