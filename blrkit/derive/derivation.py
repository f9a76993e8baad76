r"""The result of a derivation: ordered steps, the update, LaTeX, and emitted NumPy code.

A :class:`Derivation` is immutable.  Its :attr:`~Derivation.steps` are what a lecturer
shows: each is one or more equations with a one-line justification and the paper
section it comes from (Khan & Rue 2023).  Its :attr:`~Derivation.update` is the final
update in the family's standard parameters, and :meth:`~Derivation.emit` prints that
update as the source of a NumPy function.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import sympy as sp

from ..paper import cite
from .printing import latex


@dataclass(frozen=True)
class Equation:
    """``lhs = rhs`` (or ``lhs ≈ rhs`` when ``approximate``), kept unevaluated."""

    lhs: sp.Basic
    rhs: sp.Basic
    approximate: bool = False

    def latex(self) -> str:
        rel = r"\approx" if self.approximate else "="
        return f"{latex(self.lhs)} &{rel} {latex(self.rhs)}"


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

    def latex(self) -> str:
        lines = [eq.latex() for eq in self.equations]
        note = self.justification.replace("%", r"\%")
        lines[-1] += rf" && \text{{{_tex_text(note)}}}"
        return r" \\" "\n".join(lines)


#: LaTeX in justifications -> plain text, longest first
_PLAIN = (
    (r"\mathbb{E}", "E"), (r"\mathcal{N}", "N"), (r"\mathcal{H}", "H"), (r"\bar\ell", "ℓ̄"),
    (r"\bar P", "P̄"), (r"\tfrac12", "½"), (r"\theta", "θ"), (r"\lambda", "λ"), (r"\mu", "μ"),
    (r"\rho", "ρ"), (r"\nabla", "∇"), (r"\ell", "ℓ"), (r"^\top", "ᵀ"), (r"\top", "ᵀ"), (r"\log", "log"),
    (r"\approx", "≈"),
    (r"\mathrm{diag}", "diag"), ("^{-1}", "⁻¹"), ("^2", "²"), ("{", ""), ("}", ""), ("$", ""), ("\\", ""),
)


def _plain(s: str) -> str:
    r"""A justification without LaTeX, for terminals.

    >>> _plain(r"$q_t = \mathcal{N}(m_t, S_t^{-1})$")
    'q_t = N(m_t, S_t⁻¹)'
    """
    for tex, text in _PLAIN:
        s = s.replace(tex, text)
    return s


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
    oracles: tuple[str, ...] = ()
    assignments: tuple[Assignment, ...] = ()
    outputs: tuple[sp.Basic, ...] = ()
    dims: tuple[tuple[sp.Basic, str], ...] = ()
    elementwise: bool = False
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    # -- printing ---------------------------------------------------------------------
    def latex(self, *, steps: bool = True) -> str:
        r"""The derivation as one LaTeX ``align*`` block (steps, or only the update)."""
        if steps:
            body = " \\\\[4pt]\n".join(s.latex() for s in self.steps)
        else:
            body = " \\\\\n".join(eq.latex() for eq in self.update)
        return "\\begin{align*}\n" + body + "\n\\end{align*}"

    def _repr_latex_(self) -> str:
        return "$$" + self.latex().replace("align*", "aligned") + "$$"

    def markdown(self, *, steps: bool = True) -> str:
        """Markdown with ``$$`` display maths, one block per step, for notebooks and READMEs."""
        out = [f"**{self.title}** ({cite(self.anchor)}); family: `{self.family}`; "
               f"approximations: {', '.join(a.name for a in self.approximations) or 'none'}.", ""]
        chosen = self.steps if steps else (Step("Update", self.update, "textbook form", self.anchor),)
        for i, s in enumerate(chosen, 1):
            out.append(f"{i}. *{s.label}*: {s.justification} ({s.citation})")
            out.append("")
            eqs = " \\\\\n".join(eq.latex() for eq in s.equations)
            out.append("$$\n\\begin{aligned}\n" + eqs + "\n\\end{aligned}\n$$")
            out.append("")
        return "\n".join(out)

    def text(self, *, steps: bool = True) -> str:
        """Plain text: SymPy's string form of every equation."""
        chosen = self.steps if steps else (Step("Update", self.update, "textbook form", self.anchor),)
        out = [f"{self.title} ({cite(self.anchor)})"]
        for i, s in enumerate(chosen, 1):
            out.append(f"{i}. {s.label}: {_plain(s.justification)}")
            for eq in s.equations:
                rel = "≈" if eq.approximate else "="
                out.append(f"     {sp.sstr(eq.lhs)} {rel} {sp.sstr(eq.rhs)}")
        return "\n".join(out)

    def equations_latex(self) -> list[str]:
        """Every equation of every step as a standalone LaTeX string (for rendering checks)."""
        return [eq.latex().replace("&", "") for s in self.steps for eq in s.equations]

    # -- code ---------------------------------------------------------------------------
    def emit(self, *, recipe: str | None = None) -> str:
        """The source of a NumPy module holding one update step (see :mod:`.printing`)."""
        from .printing import emit_module

        return emit_module(self, recipe=recipe)

    @cached_property
    def _compiled(self):
        namespace: dict = {}
        exec(compile(self.emit(), f"<blrkit {self.function_name}>", "exec"), namespace)
        return namespace[self.function_name]

    def compile(self):
        """The emitted step as a Python callable (the same code :meth:`emit` prints)."""
        return self._compiled
