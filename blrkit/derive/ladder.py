r"""The approximation ladder: the BLR update after each approximation in turn, for lectures.

A derivation applies its approximations in order (Khan & Rue 2023, Table 1).  Its ladder shows the
update at every rung: the exact BLR, then the BLR with the first approximation, with the first two,
and so on up to the algorithm, e.g. for Newton's method

.. math::

    \underbrace{S_{t+1} = (1-\rho)S_t + \rho\,\mathbb{E}_{q_t}[\nabla^2\ell]}_{\text{exact BLR}}
    \;\to\; \underbrace{S_{t+1} = (1-\rho)S_t + \rho\nabla^2\ell(m_t)}_{+\ \text{delta method}}
    \;\to\; \underbrace{S_{t+1} = \nabla^2\ell(m_t)}_{+\ \rho = 1}.

Every rung is a derivation of its own: the engine run again with that prefix of the approximations
(nothing is rewritten here), so each printed rung is as true as a derivation.  A rung's highlighted
terms are computed, not listed: they are the terms of its equations whose monomials (the product of
the factors other than numbers and :math:`\rho`) do not occur in the same equation of the next rung:
what the next approximation removes or replaces.  An equation the next rung no longer has (a change
of variables, :math:`s = Nv`) is highlighted whole.  Highlighting is colour in LaTeX and MathJax
(``{\color{red}{…}}``, LaTeX needs ``xcolor``) and ``[-…-]`` in plain text (as ``wdiff`` marks a
deletion).

The engine is given, not imported: a :class:`~blrkit.derive.derivation.Derivation` records the
function that derived it (``extra["request"]["derive"]``), and :func:`ladder` takes it as an argument,
so that this module sits below the derivation it describes.

>>> from blrkit.derive import derive
>>> steps = derive("multivariate-gaussian", approximations=["delta", "rho=1"]).ladder()
>>> [r.title for r in steps.rungs]
['Variational Newton', 'Damped BLR-Newton', "Newton's method"]
>>> print(steps.rungs[1].update[0].text(steps.rungs[1]))
Sₜ₊₁ = ρ ∇²ℓ(mₜ) + [-(1 - ρ) Sₜ-]
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import sympy as sp
from sympy import MatAdd, MatMul, MatrixExpr, MatrixSymbol

from ..paper import cite
from .approximations import Approximation, FixedCovariance, StepSize, as_approximation
from .printing import Notation, latex, unicode_text
from .symbols import RHO

__all__ = ["Ladder", "Mark", "Marked", "Rung", "ladder", "ladder_of"]

#: the colour of removed terms (a name both xcolor and MathJax know)
COLOUR = "red"
#: the longest printed line of a rung's equation, in characters (as :data:`.derivation.LINE_WIDTH`)
WIDTH = 56


# ------------------------------------------------------------------------------ marking --

def _scalar_key(piece):
    """A monomial of an expanded scalar term: the term without its number and without ρ."""
    rest = piece.as_independent(RHO, as_Add=False)[0]
    return rest.as_coeff_Mul()[1]


def _keys(expr) -> frozenset:
    """The monomials of ``expr`` (numbers and ρ stripped): what a term is, whatever its coefficient."""
    if isinstance(expr, MatrixExpr):
        e = sp.expand(expr).doit()
        out = set()
        for term in (e.args if isinstance(e, MatAdd) else (e,)):
            c, mats = term.as_coeff_matrices() if isinstance(term, MatMul) else (sp.S.One, [term])
            if getattr(term, "is_ZeroMatrix", False):
                continue
            out |= {(_scalar_key(p), tuple(mats)) for p in sp.Add.make_args(sp.expand(c)) if p != 0}
        return frozenset(out)
    flat = expr.replace(lambda x: isinstance(x, sp.Add), lambda x: sp.Add(*x.args))  # β₀ + (N - Σy): one sum
    return frozenset(_scalar_key(p) for p in sp.Add.make_args(sp.expand(flat)) if p != 0)


def _terms(expr) -> tuple:
    if isinstance(expr, MatAdd):
        return expr.args
    if isinstance(expr, MatrixExpr):
        return (expr,)
    return sp.Add.make_args(expr)


def _negative(term) -> bool:
    """Whether ``term`` prints with a leading minus (``-ρ x``, not ``(1 - ρ) x``)."""
    if isinstance(term, MatMul):
        term = term.as_coeff_matrices()[0]
    elif isinstance(term, MatrixExpr):
        return False
    return bool(term.as_coeff_Mul()[0].is_negative)


@dataclass(frozen=True)
class Mark:
    """One highlighted term: ``placeholder`` (or its negative) stands in the shown right-hand side for
    ``value``; ``contribution`` is what it adds to the equation (``value`` times its coefficients, when the
    term sits inside a product such as ``ρ S⁻¹(…)``)."""

    placeholder: sp.Basic
    value: sp.Basic
    negative: bool
    contribution: sp.Basic

    @property
    def shown(self):
        """The term as printed inside the highlight: without its sign, factored (``(1 - ρ)α_t``)."""
        body = -self.value if self.negative else self.value
        return body if isinstance(body, MatrixExpr) else sp.factor_terms(body)


@dataclass(frozen=True)
class Marked:
    """An equation of a rung with the terms of its right-hand side that the next rung does not have.

    Attributes
    ----------
    equation : Equation
        The rung's equation, as its derivation states it.
    shown : sympy.Basic
        Its right-hand side with a placeholder for each highlighted term.
    marks : tuple of Mark
        The highlighted terms (none on the last rung).
    """

    equation: object
    shown: sp.Basic = None
    marks: tuple = ()

    @property
    def removed(self) -> tuple:
        """What each highlighted term contributes to the right-hand side (with its sign and coefficients):
        their sum is what the next approximation removes from this equation."""
        return tuple(m.contribution for m in self.marks)

    def restored(self):
        """The shown right-hand side with each placeholder replaced by the terms it stands for: the equation
        the rung prints, whose highlighting changes nothing (equal to ``equation.rhs``)."""
        if not self.marks:
            return self.equation.rhs
        return self.shown.xreplace({m.placeholder: (-m.value if m.negative else m.value) for m in self.marks})

    def _printed(self, rung: "Rung", wrap) -> tuple:
        states, notation = rung.derivation.states, rung.derivation.notation
        marks = tuple((m.placeholder.name, wrap(latex(m.shown, states=states, notation=notation))) for m in self.marks)
        notation = Notation(notation.names + marks, notation.indices, notation.states)
        rhs = self.shown if self.marks else self.equation.rhs
        return dataclasses.replace(self.equation, rhs=rhs), {"states": states, "notation": notation}

    def latex(self, rung: "Rung", *, width: int | None = WIDTH) -> str:
        r"""``lhs &= rhs`` for an ``align*`` row, the removed terms in ``{\color{red}{…}}``."""
        eq, shown = self._printed(rung, lambda tex: rf"{{\color{{{COLOUR}}}{{{tex}}}}}")
        return eq.latex(**shown, width=width)

    def text(self, rung: "Rung") -> str:
        """``lhs = rhs`` in Unicode, the removed terms in ``[-…-]``."""
        eq, shown = self._printed(rung, lambda tex: f"[-{tex}-]")
        return eq.text(**shown)


def _opened(term):
    """``(rebuild, sum, inside)`` for a product with one sum among its factors (``ρ(a + b)``,
    ``ρ S⁻¹(a + b)``): ``rebuild(x)`` puts ``x`` in the sum's place, ``inside(u)`` is the term ``u`` of
    the sum with the product's other factors; ``None`` for any other term."""
    if isinstance(term, MatMul):
        c, mats = term.as_coeff_matrices()
        at = [i for i, x in enumerate(mats) if isinstance(x, MatAdd)]
        if len(at) != 1:
            return None
        i = at[0]
        around = lambda x: MatMul(c, *mats[:i], x, *mats[i + 1:])  # noqa: E731
        return around, mats[i], around
    if isinstance(term, sp.Mul):
        sums = [f for f in term.args if isinstance(f, sp.Add)]
        if len(sums) != 1:
            return None
        rest = sp.Mul(*[f for f in term.args if f is not sums[0]])
        return (lambda x: rest * x), sums[0], (lambda u: rest * u)
    return None


def _place(expr, keep: frozenset, inside, marks: list):
    """``expr`` with each term none of whose monomials (as it enters the equation: ``inside(term)``) is in
    ``keep`` replaced by a placeholder; terms of one monomial share one (``α_t - ρα_t`` is ``(1 - ρ)α_t``).
    A term only part of which goes is opened when it is a product with a sum (``ρ S⁻¹(α m_t + X^T y)``),
    else kept: an under-statement, never a false one."""
    items, groups = [], {}
    for t in _terms(expr):
        k = _keys(inside(t))
        if k and k.isdisjoint(keep):
            if k not in groups:
                groups[k] = (len(items), [])
                items.append(None)
            groups[k][1].append(t)
            continue
        opened = None if not k or k <= keep else _opened(t)
        if opened is None:
            items.append(t)
            continue
        rebuild, total, more = opened
        items.append(rebuild(_place(total, keep, lambda u, more=more: inside(more(u)), marks)))
    for i, ts in groups.values():
        matrix = isinstance(ts[0], MatrixExpr)
        value = (MatAdd(*ts) if len(ts) > 1 else ts[0]) if matrix else sp.Add(*ts)
        negative = all(_negative(t) for t in ts)
        name = f"removed_{len(marks)}_term"
        ph = MatrixSymbol(name, *value.shape) if matrix else sp.Symbol(name)
        contribution = (MatAdd(*[inside(t) for t in ts]) if len(ts) > 1 else inside(ts[0])) if matrix \
            else sp.Add(*[inside(t) for t in ts])
        marks.append(Mark(ph, value, negative, contribution))
        items[i] = -ph if negative else ph
    if isinstance(expr, MatrixExpr):
        return MatAdd(*items) if len(items) > 1 else items[0]
    return sp.Add(*items)


def _mark(equation, following) -> Marked:
    """``equation`` marked against the same equation of the next rung (``following``; ``None``: it has none,
    and the whole right-hand side is highlighted)."""
    rhs, marks = equation.rhs, []
    keep = frozenset() if following is None else _keys(following)
    shown = _place(rhs, keep, lambda t: t, marks)
    return Marked(equation, shown, tuple(marks)) if marks else Marked(equation)


@dataclass(frozen=True)
class Rung:
    """One rung: the derivation with the first ``k`` approximations, its equations marked.

    Attributes
    ----------
    approximation : Approximation or None
        The approximation this rung adds (``None``: the exact BLR).
    derivation : Derivation
        The engine's derivation of this prefix.
    natural : tuple of Marked
        The update of the natural parameters λ (empty when it reads as :attr:`update`).
    update : tuple of Marked
        The update in standard parameters (textbook form).
    following : Approximation or None
        The approximation of the next rung: what removes the highlighted terms.
    """

    approximation: Approximation | None
    derivation: object
    natural: tuple
    update: tuple
    following: Approximation | None = None

    @property
    def title(self) -> str:
        return self.derivation.title

    @property
    def removes(self) -> bool:
        """Whether any term of this rung is highlighted."""
        return any(m.removed for m in self.natural + self.update)


def _tex_text(s: str) -> str:
    return s.replace("–", "--").replace("&", r"\&").replace("_", r"\_").replace("#", r"\#")


def _heading(rung: Rung, k: int, style: str) -> str:
    """``k. Exact BLR: title`` or ``k. + approximation, its statement (anchor): title``, in ``style``
    ``"text"`` (Unicode), ``"markdown"`` or ``"latex"`` (the statement as maths, a step size by its value)."""
    a, tex = rung.approximation, style == "latex"
    title = _tex_text(rung.title) if tex else (f"*{rung.title}*" if style == "markdown" else rung.title)
    if a is None:
        return f"{k}. Exact BLR: {title}"
    statement = unicode_text(a.statement) if style == "text" else f"${a.statement}$"
    if isinstance(a, StepSize):
        said = statement if tex else a.label
    else:
        said = f"{_tex_text(a.name) if tex else a.label}, {statement}"
    return f"{k}. + {said} ({_tex_text(a.citation) if tex else a.citation}): {title}"


def _legend(rung: Rung, tex: bool) -> str:
    a = rung.following
    if tex:
        what = f"${a.statement}$" if isinstance(a, StepSize) else _tex_text(a.name)
        return rf"{{\color{{{COLOUR}}}{{Highlighted}}}}: removed or replaced by the next approximation, {what}."
    return f"[-…-]: removed or replaced by the next approximation, {a.label}"


@dataclass(frozen=True)
class Ladder:
    """The rungs from the exact BLR to the derived algorithm (see the module docstring).

    Attributes
    ----------
    rungs : tuple of Rung
        Rung ``k`` is the derivation with the first ``k`` approximations.
    """

    rungs: tuple

    @property
    def approximations(self) -> tuple:
        return tuple(r.approximation for r in self.rungs[1:])

    @property
    def title(self) -> str:
        return self.rungs[-1].title

    @staticmethod
    def _blocks(rung: Rung, natural: bool) -> list:
        return [("natural parameters", rung.natural), ("update", rung.update)] if rung.natural and natural \
            else [("update", rung.update)]

    def text(self, *, natural: bool = True) -> str:
        """Plain text: each rung's heading, its equations, the removed terms in ``[-…-]`` (``natural=False``:
        the update in standard parameters only, as for each format)."""
        out = [f"Approximation ladder of {self.title}: "
               f"{' → '.join(['exact BLR'] + [a.label for a in self.approximations])}"]
        for k, rung in enumerate(self.rungs):
            out.append(_heading(rung, k, "text"))
            for label, marked in self._blocks(rung, natural):
                out.append(f"   {label}:")
                out.extend(f"     {m.text(rung)}" for m in marked)
            if rung.removes:
                out.append(f"   {_legend(rung, tex=False)}")
        return "\n".join(out)

    def _align(self, rung: Rung, natural: bool) -> str:
        rows = []
        for label, marked in self._blocks(rung, natural):
            rows.append(rf"\intertext{{{label}:}}")
            rows.append(" \\\\\n".join(m.latex(rung) for m in marked))
        return "\\begin{align*}\n" + "\n".join(rows) + "\n\\end{align*}"

    def latex(self, *, natural: bool = True) -> str:
        r"""LaTeX for an ``article`` (needs ``amsmath``, ``amssymb`` and ``xcolor``): one ``align*`` per rung."""
        out = [r"% the approximation ladder; needs \usepackage{amsmath,amssymb,xcolor}"]
        for k, rung in enumerate(self.rungs):
            out.append(rf"\paragraph{{{_heading(rung, k, 'latex')}}}")
            out.append(self._align(rung, natural))
            if rung.removes:
                out.append(_legend(rung, tex=True))
            out.append("")
        return "\n".join(out)

    def markdown(self, *, natural: bool = True) -> str:
        """Markdown with ``$$`` blocks (MathJax colours the removed terms), one section per rung."""
        out = [f"**Approximation ladder of {self.title}**: "
               + " → ".join(["exact BLR"] + [f"+ {a.label}" for a in self.approximations]), ""]
        for k, rung in enumerate(self.rungs):
            out += [_heading(rung, k, "markdown"), ""]
            for label, marked in self._blocks(rung, natural):
                rows = " \\\\\n".join(m.latex(rung) for m in marked)
                out += [f"{label}:", "", "$$\n\\begin{aligned}\n" + rows + "\n\\end{aligned}\n$$", ""]
            if rung.removes:
                a = rung.following
                out += [rf"$\color{{{COLOUR}}}{{\text{{Highlighted}}}}$: removed or replaced by the next "
                        f"approximation, {a.label}.", ""]
        return "\n".join(out)

    def _repr_markdown_(self) -> str:
        return self.markdown()

    def beamer(self, *, natural: bool = False) -> str:
        """A Beamer document, one frame per rung (the exact BLR, then one per approximation), for pdflatex.

        A frame shows the rung's update in standard parameters; ``natural=True`` adds the natural-parameter
        update above it (long updates, IVON's, then overflow the frame)."""
        frames = []
        for k, rung in enumerate(self.rungs):
            a = rung.approximation
            head = "Exact BLR" if a is None else (f"+ ${a.statement}$" if isinstance(a, StepSize)
                                                  else f"+ {_tex_text(a.name)}")
            sub = _tex_text(rung.title) + ("" if a is None or isinstance(a, StepSize)
                                           else f": ${a.statement}$")
            maths = self._align(rung, natural)
            rows = maths.count("\\\\") + 2 * maths.count(r"\intertext")  # a 16:9 frame holds ~9 rows at \small
            size = r"\small" if rows <= 9 else (r"\footnotesize" if rows <= 12 else r"\scriptsize")
            body = [rf"\begin{{frame}}{{{k}. {head}}}{{{sub}}}", size, maths]
            if rung.removes:
                body.append(r"\vfill\footnotesize " + _legend(rung, tex=True))
            body.append(r"\end{frame}")
            frames.append("\n".join(body))
        title = _tex_text(self.title)
        return "\n".join([
            r"\documentclass[aspectratio=169]{beamer}",
            r"\usepackage{amsmath,amssymb}",
            r"\setbeamertemplate{navigation symbols}{}",
            rf"\title{{The approximation ladder of {title}}}",
            rf"\subtitle{{The Bayesian learning rule, one approximation at a time ({_tex_text(cite('blr'))})}}",
            r"\date{}",
            r"\begin{document}",
            r"\begin{frame}\titlepage\end{frame}",
            *frames,
            r"\end{document}", ""])


def _rung(approximation, derivation, following, nxt) -> Rung:
    def marked(equations, others):
        later = {eq.lhs: eq.rhs for eq in others} if nxt is not None else None
        return tuple(_mark(eq, later.get(eq.lhs)) if later is not None else Marked(eq) for eq in equations)

    same = tuple(eq.rhs for eq in derivation.natural_update) == tuple(eq.rhs for eq in derivation.update)
    natural = () if same else marked(derivation.natural_update, nxt.natural_update if nxt is not None else ())
    update = marked(derivation.update, nxt.update if nxt is not None else ())
    return Rung(approximation, derivation, natural, update, following)


def ladder(derive, family, loss=None, prior=None, approximations=(), *, rule: str = "blr") -> Ladder:
    r"""The approximation ladder of a request: ``derive`` run with every prefix of ``approximations``.

    Parameters
    ----------
    derive : callable
        The engine, :func:`blrkit.derive.derive` (given, so that this module does not sit above it).
    family, loss, prior, approximations, rule
        The request, as :func:`blrkit.derive.derive` takes it.

    Returns
    -------
    Ladder
        ``len(approximations) + 1`` rungs: rung ``k`` is ``derive(family, loss, prior,
        approximations[:k], rule=rule)``.

    Raises
    ------
    ValueError
        No approximations (a ladder of one rung), a request that does not derive, or one that is not a
        chain: some prefix of the approximations does not derive on its own (the message says which and
        why).

    Examples
    --------
    >>> from blrkit.derive import derive
    >>> steps = ladder(derive, "gaussian-fixed-covariance", approximations=["delta"])
    >>> print(steps.rungs[0].update[0].text(steps.rungs[0]))
    mₜ₊₁ = mₜ - [-ρ E_qₜ[∇ℓ(θ)]-]
    """
    if isinstance(approximations, (str, Approximation)):
        approximations = (approximations,)
    approx = tuple(as_approximation(a) for a in approximations)
    if not approx:
        raise ValueError("no approximations: the ladder would be the exact BLR alone; give the approximations "
                         "to climb (e.g. delta, rho=1)")
    derived = {}
    n = len(approx)
    for k in [*range(n - 1, -1, -1), n]:  # longest prefix first, the request last: a refusal comes before costly rungs
        try:
            derived[k] = derive(family, loss, prior, approx[:k], rule=rule)
        except Exception as e:  # noqa: BLE001 -- the engine raises many types; each becomes one clear message
            what = "the request" if k == n else (
                f"its prefix ({', '.join(a.key for a in approx[:k]) or 'no approximations: the exact BLR'})")
            reason = str(e) if isinstance(e, (ValueError, TypeError)) else f"{type(e).__name__}: {e}"
            chain = "" if k == n else "the approximations do not form a chain: "
            raise ValueError(f"no ladder for {', '.join(a.key for a in approx)}: {chain}"
                             f"{what} does not derive ({reason})") from None
    rungs = []
    for k in range(len(approx) + 1):
        nxt = derived.get(k + 1)
        rungs.append(_rung(approx[k - 1] if k else None, derived[k], approx[k] if nxt is not None else None, nxt))
    return Ladder(tuple(rungs))


def ladder_of(derivation) -> Ladder:
    """The ladder of a derivation, from the request it records (see :meth:`Derivation.ladder`).

    Raises
    ------
    ValueError
        The derivation records no request (EM, SVI for LDA, VMP, mixtures and the Bernoulli candidate are
        derived by paths of their own: call :func:`ladder` with the request), or a request that is not a
        chain.
    """
    request = derivation.extra.get("request")
    if request is None or "derive" not in request:
        raise ValueError(f"{derivation.title} was derived by a path of its own (EM, SVI for LDA, VMP, mixtures, "
                         "the Bernoulli candidate) that records no request to derive again: build its ladder with "
                         "blrkit.derive.ladder.ladder(derive, family, loss, prior, approximations)")
    family = request["family"] or derivation.family
    if request["family"] is None and any(isinstance(a, FixedCovariance) for a in request["approximations"]):
        raise ValueError("with fixed-covariance the derivation no longer names the Gaussian family it started "
                         "from: build its ladder with blrkit.derive.ladder.ladder(derive, family, …)")
    return ladder(request["derive"], family, request["loss"], request["prior"], request["approximations"],
                  rule=request["rule"])
