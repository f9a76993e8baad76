r"""The result of a derivation: ordered steps, the update, LaTeX, and emitted NumPy code.

A :class:`Derivation` is immutable.  Its :attr:`~Derivation.steps` are what a lecturer
shows: each is one or more equations with a one-line justification and the paper
section it comes from (Khan & Rue 2023).  Its :attr:`~Derivation.update` is the final
update in the family's standard parameters, and :meth:`~Derivation.emit` prints that
update as the source of a NumPy function.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

import sympy as sp

from .._validation import check_count, check_flag
from ..paper import cite
from .approximations import StepSize
from .parsing import check_step_size
from .printing import Notation, latex, latex_rows, unicode_text

#: the longest line of an equation in a LaTeX ``align*``, in printed characters (``lhs = rhs``):
#: a plain ``article`` at 10 pt fits about 60 characters of maths in its 345 pt text width
LINE_WIDTH = 56


@dataclass(frozen=True)
class Equation:
    """``lhs = rhs`` (or ``lhs ≈ rhs`` when ``approximate``), kept unevaluated."""

    lhs: sp.Basic
    rhs: sp.Basic
    approximate: bool = False

    def latex(self, *, states=(), notation: Notation = Notation(), width: int | None = None) -> str:
        r"""``lhs &= rhs`` for an ``align*`` row.

        Parameters
        ----------
        states : iterable of str, optional
            Names of the update's state symbols (see :func:`~blrkit.derive.printing.latex`).
        notation : Notation, optional
            The derivation's names for its own symbols (see :class:`~blrkit.derive.printing.Notation`).
        width : int, optional
            Break the right-hand side between terms into rows ``&\quad + …`` so that no row
            prints more than ``width`` characters; ``None`` (default) keeps one row.
        """
        rel = r"\approx" if self.approximate else "="
        lhs = latex(self.lhs, states=states, notation=notation)
        if width is None:
            return f"{lhs} &{rel} {latex(self.rhs, states=states, notation=notation)}"
        rows = latex_rows(self.rhs, max(width - _visible(lhs) - 3, 20), indent=2, states=states, notation=notation)
        return f"{lhs} &{rel} " + " \\\\\n&\\quad ".join(rows)

    def text(self, *, states=(), notation: Notation = Notation()) -> str:
        """``lhs = rhs`` in Unicode, as :meth:`latex` prints it."""
        rel = "≈" if self.approximate else "="
        rhs = unicode_text(latex(self.rhs, states=states, notation=notation))
        rhs = re.sub(r"(^|\()- ", r"\1-", rhs)  # -β₀, (-x): a leading minus sign is unary
        return f"{unicode_text(latex(self.lhs, states=states, notation=notation))} {rel} {rhs}"


def _visible(tex: str) -> int:
    """About how many characters ``tex`` prints (fractions count as ``a/b``)."""
    return len(unicode_text(tex))


@dataclass(frozen=True)
class Step:
    """One step of a derivation: equations, why they hold, and where the paper says so."""

    label: str
    equations: tuple[Equation, ...]
    justification: str
    anchor: str

    @property
    def citation(self) -> str:
        return cite(self.anchor)

    @property
    def heading(self) -> str:
        """The label and the justification, once when they say the same (``ρ = 1``)."""
        if _plain(self.justification) == self.label:
            return self.label
        return f"{self.label}: {_plain(self.justification)}"

    def latex(self, *, states=(), notation: Notation = Notation(), number: int | None = None,
              width: int | None = LINE_WIDTH) -> str:
        r"""The step as ``align*`` rows: ``\intertext{label: justification}``, then its equations.

        Equations longer than ``width`` characters are broken between terms (see
        :meth:`Equation.latex`); the justification is a line of text above them, so it
        never widens the alignment.
        """
        label = _tex_label(self.label)
        note = _tex_text(self.justification.replace("%", r"\%"))
        head = f"{number}.~{label}" if number is not None else label
        text = rf"\textbf{{{head}}}" if _plain(self.justification) == self.label \
            else rf"\textbf{{{head}}}: {note}"
        lines = [eq.latex(states=states, notation=notation, width=width) for eq in self.equations]
        return rf"\intertext{{{text}}}" "\n" + " \\\\\n".join(lines)


def _plain(s: str) -> str:
    r"""A justification without LaTeX, for terminals (see :func:`~blrkit.derive.printing.unicode_text`).

    >>> _plain(r"$q_t = \mathcal{N}(m_t, S_t^{-1})$")
    'qₜ = N(mₜ, Sₜ⁻¹)'
    """
    return unicode_text(s)


#: Unicode in step labels -> LaTeX
_TEX_LABEL = {"ρ": r"$\rho$", "λ": r"$\lambda$", "μ": r"$\mu$", "θ": r"$\theta$", "ℓ": r"$\ell$",
              "∇": r"$\nabla$", "–": "--", "≈": r"$\approx$",
              **{c: rf"$\{n}$" for c, n in zip("αβγδεηκνξπστφψω", ("alpha beta gamma delta epsilon eta kappa nu xi pi "
                                                               "sigma tau phi psi omega").split())}}


def _tex_label(s: str) -> str:
    r"""A step label for LaTeX text mode.

    >>> _tex_label("ρ = 1")
    '$\\rho$ = 1'
    """
    return "".join(_TEX_LABEL.get(c, c) for c in _tex_text(s))


def _mathjax_text(step: Step) -> str:
    """The heading of ``step`` for ``\\text{…}`` in MathJax (its ``$…$`` maths kept)."""
    if _plain(step.justification) == step.label:
        return step.justification
    return f"{step.label}: {step.justification}"


def _tex_text(s: str) -> str:
    """Escape a justification for ``\\text{}``: math inside ``$…$`` stays math."""
    return s.replace("&", r"\&").replace("#", r"\#").replace("_", r"\_") if "$" not in s else s


@dataclass(frozen=True)
class Argument:
    """One argument of an emitted step: its name, kind and shape, documented."""

    name: str
    kind: str  # "vector" | "matrix" | "scalar" | "callable" | "int" | "rng" | "data"
    doc: str


@dataclass(frozen=True)
class Assignment:
    """``target = expr`` in the emitted code, preceded by ``comment``."""

    target: sp.Basic
    expr: sp.Basic
    comment: str = ""


@dataclass(frozen=True)
class Derivation:
    """A BLR update derived by :func:`blrkit.derive.derive`.

    Attributes
    ----------
    title : str
        What the derivation reaches, e.g. ``"Newton's method"``.
    family : str
        The candidate family's key.
    approximations : tuple
        The approximations, in the order they were applied.
    steps : tuple of Step
        The ordered derivation, from the BLR in natural parameters to the textbook form.
    natural_update : tuple of Equation
        The update of the natural parameters λ.
    update : tuple of Equation
        The update in standard parameters, simplified to textbook form; assignments run
        in this order (later ones may use earlier left-hand sides).
    arguments, oracles, assignments, outputs
        What :meth:`emit` prints: the function's arguments, how oracle terms are
        evaluated, the intermediate and output assignments, and the returned names.
    anchor : str
        Key of the paper section (see :mod:`blrkit.paper`).
    notation : Notation
        How the symbols this derivation introduced print (its printers read it; nothing global).
    """

    title: str
    family: str
    approximations: tuple
    steps: tuple[Step, ...]
    natural_update: tuple[Equation, ...]
    update: tuple[Equation, ...]
    anchor: str
    function_name: str
    summary: str
    arguments: tuple[Argument, ...] = ()
    oracles: tuple = ()  # of blrkit.derive.ir nodes
    assignments: tuple[Assignment, ...] = ()
    outputs: tuple[sp.Basic, ...] = ()
    dims: tuple[tuple[sp.Basic, str], ...] = ()
    elementwise: bool = False
    notation: Notation = Notation()
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self):
        # a step size the emitted code cannot hold (rho=1e-400 is 0 in float64) would print one update and run
        # another: refused, whatever path derived it
        for a in self.approximations:
            if isinstance(a, StepSize):
                check_step_size(a.value)

    # -- printing ---------------------------------------------------------------------
    @property
    def states(self) -> frozenset:
        """Names of the symbols the update advances (``alpha`` for ``alpha_new``): they print as
        ``\\alpha_t``."""
        lhs = [eq.lhs for eq in self.update] + list(self.outputs)
        return frozenset(getattr(x, "name", "")[:-4] for x in lhs if getattr(x, "name", "").endswith("_new"))

    @property
    def _shown(self) -> dict:
        """How its equations print: its states and its notation (the printers' keyword arguments)."""
        return {"states": self.states, "notation": self.notation}

    def _chosen(self, steps: bool) -> tuple:
        return self.steps if check_flag(steps, "steps") else (Step("Update", self.update, "textbook form", self.anchor),)

    def latex(self, *, steps: bool = True, width: int | None = LINE_WIDTH) -> str:
        r"""The derivation as one LaTeX ``align*`` block (steps, or only the update).

        Each step opens with its label and justification as ``\intertext``; page breaks are
        allowed between steps (``\displaybreak[0]``) and equations longer than ``width``
        printed characters are broken between terms, so the block fits a plain ``article``.
        """
        if width is not None:
            check_count(width, "width", 1)
        if check_flag(steps, "steps"):
            body = " \\displaybreak[0] \\\\\n".join(
                s.latex(**self._shown, number=i, width=width) for i, s in enumerate(self.steps, 1))
        else:
            body = " \\\\\n".join(eq.latex(**self._shown, width=width) for eq in self.update)
        return "\\begin{align*}\n" + body + "\n\\end{align*}"

    def _repr_latex_(self) -> str:
        """For Jupyter (MathJax): one ``aligned`` block, each step's heading as a row of text."""
        rows = []
        for i, s in enumerate(self.steps, 1):
            rows.append(rf"&\text{{{i}. {_tex_text(_mathjax_text(s))}}}")
            rows += [eq.latex(**self._shown, width=LINE_WIDTH) for eq in s.equations]
        return "$$\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}$$"

    def markdown(self, *, steps: bool = True) -> str:
        """Markdown with ``$$`` display maths, one block per step, for notebooks and READMEs."""
        out = [f"**{self.title}** ({cite(self.anchor)}); family: `{self.family}`; "
               f"approximations: {', '.join(a.name for a in self.approximations) or 'none'}.", ""]
        for i, s in enumerate(self._chosen(steps), 1):
            head = s.justification if _plain(s.justification) == s.label else f"*{s.label}*: {s.justification}"
            out.append(f"{i}. {head} ({s.citation})")
            out.append("")
            eqs = " \\\\\n".join(eq.latex(**self._shown, width=LINE_WIDTH) for eq in s.equations)
            out.append("$$\n\\begin{aligned}\n" + eqs + "\n\\end{aligned}\n$$")
            out.append("")
        return "\n".join(out)

    def text(self, *, steps: bool = True) -> str:
        """Plain text in Unicode (θ, λ₁,ₜ₊₁, ∇ℓ(mₜ), Σᵢ …), ordered as :meth:`latex` prints it."""
        out = [f"{self.title} ({cite(self.anchor)})"]
        for i, s in enumerate(self._chosen(steps), 1):
            out.append(f"{i}. {s.heading}")
            out.extend(f"     {eq.text(**self._shown)}" for eq in s.equations)
        return "\n".join(out)

    def equations_latex(self) -> list[str]:
        """Every equation of every step as a standalone LaTeX string (for rendering checks)."""
        return [eq.latex(**self._shown).replace("&", "") for s in self.steps for eq in s.equations]

    # -- code ---------------------------------------------------------------------------
    def emit(self, *, recipe: str | None = None) -> str:
        """The source of a NumPy module holding one update step (see :mod:`.printing`)."""
        from .printing import emit_module

        if recipe is not None and not isinstance(recipe, str):
            raise TypeError(f"recipe must be a str (the name the module's header gives) or None, got "
                            f"{type(recipe).__name__}")
        return emit_module(self, recipe=recipe)

    @cached_property
    def _compiled(self):
        from .arguments import CheckedStep

        namespace: dict = {}
        exec(compile(self.emit(), f"<blrkit {self.function_name}>", "exec"), namespace)
        return CheckedStep(self, namespace[self.function_name])

    def compile(self):
        """The emitted step as a Python callable (the same code :meth:`emit` prints), its arguments checked.

        Each argument is checked by the role the derivation declares for it before the step runs (real, finite
        numbers; shapes that agree, with the loss's D when it fixes one; a precision symmetric, then positive
        definite; ρ in (0, 1]; counts, callables, a Generator), and each output is checked finite after it runs:
        bad input is a ``ValueError`` or ``TypeError`` naming the argument (see :mod:`blrkit.derive.arguments`).
        The caller's arrays are read, never changed. The unchecked function is the result's ``__wrapped__``.
        """
        return self._compiled

    # -- lectures -------------------------------------------------------------------------
    def ladder(self):
        """The approximation ladder: this update after each of its approximations in turn, every rung
        derived again with that prefix, the terms each next approximation removes highlighted (see
        :mod:`blrkit.derive.ladder`; :meth:`~blrkit.derive.ladder.Ladder.latex`, ``markdown``, ``text``,
        ``beamer``).

        Raises
        ------
        ValueError
            No approximations, no recorded request (a path of its own: EM, VMP, mixtures, the Bernoulli
            candidate; call :func:`blrkit.derive.ladder.ladder`), or approximations that are not a chain.
        """
        from .ladder import ladder_of

        return ladder_of(self)
