r"""Wrong variants of emitted steps written by hand: what no rule over the derivation expresses yet.

The wrong variants of every recipe's step are made from its derivation by :mod:`blrkit.verify.variants` (rules
over the roles of the symbols of its SymPy update and over the kinds of the IR's oracle nodes: a sign flipped, a
dropped (1 − ρ), the old state for the new, a count doubled, a term dropped, draws not scaled by Σ^{1/2}, …).
This table holds the few that no rule makes, each with the reason (in a comment beside it): a regular expression
applied, *in memory*, to the code lines of an emitted module's source whose text matches a selector (one
output's line, say). :func:`mutant` compiles the mutated module and returns its step function; :func:`installed`
puts it where the public drivers import it, for the duration of a ``with`` block, so that a row check of
:mod:`blrkit.verify` (which runs those drivers) runs the wrong step; :func:`killed` says whether the row then
fails by an *independent* check (a failed freshness check, the same code twice, does not count).

The *mutation score* of a recipe (:func:`score`) counts both kinds: how many of its wrong variants, derived
and hand-written, its row rejects: the evidence that the row's checks can tell a right step from a wrong one
(``blrkit certify`` records it, each variant with its source; ``tests/verify/test_mutations.py`` requires every
hand entry killed and samples the derived ones).

If the emitted text changes (the derive layer prints differently), a pattern that no longer matches is reported
by :func:`mutant` (``count == 0``): update the pattern in :data:`MUTATIONS`.

>>> [name for name, *_ in MUTATIONS["svi_lda"][3]][:2]
['no D/|B| scale', 'alpha dropped from the local update']
>>> mutate("m_new = m - rho*g\n", r"^m_new =", r"\bg\b", "(-g)")
('m_new = m - rho*(-g)\n', 1)
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import re
from dataclasses import dataclass
from typing import Callable

__all__ = ["MUTATIONS", "Score", "cases", "installed", "killed", "mutant", "mutate", "rejected", "score"]

#: module -> (function, (driver module, ...), (rows, ...), [(mutation name, line selector, pattern, replacement)])
MUTATIONS = {
    "variational_newton": ("variational_newton_step", ("blrkit.algorithms.variational_newton",),
                           ("variational_newton",), [
        # no rule: the Cholesky Reparameterise node declares no side of its triangular solve (L⁻ᵀε, L⁻¹ε)
        ("samples with L^-1 for L^-T", r"^\s*theta =", r"L\.mT", "L"),
    ]),
    "ogn": ("ogn_step", ("blrkit.algorithms.ogn",), ("ogn",), [
        # no rule: g_sq and g_sum come from one user oracle (grad_sums); the IR does not declare g_sq as Σ g_i²
        ("square of the sum for the sum of squares", r"^\s*h_gn_batch =", r"\bg_sq\b", "g_sum**2"),
    ]),
    "adam": ("adam_step", ("blrkit.algorithms.adam",), ("adam",), [
        # no rule: no role links an average's new state (g_avg_new) to the oracle term it averages (g_mean)
        ("raw gradient for its average", r"^\s*m_new =", r"\bg_avg_new\b", "g_mean"),
    ]),
    "multimodal": ("mixture_newton_step", ("blrkit.algorithms.mixture",), ("multimodal",), [
        # no rule: two terms dropped together (log|S| and its K-th): dropped alone, each shifts every v_k (SHIFT)
        ("no determinant in the evidence", r"^\s*v_new =", r"logdet_S \+ 2\*loss_m - logdet_S_K", "2*loss_m"),
    ]),
    "ncvi": ("mixture_vi_step", ("blrkit.algorithms.mixture",), ("ncvi",), [
        # no rule: two terms dropped together (E[log q] and its K-th): dropped alone, each shifts every v_k (SHIFT)
        ("log q dropped from the weights", r"^\s*v_new =", r"E_logq \+ E_loss_k - E_logq_K", "E_loss_k"),
    ]),
    "ncvmp": ("ncvmp_step", ("blrkit.algorithms.ncvmp",), ("ncvmp",), [
        # no rule: the Quadrature node takes √(2·var) itself; the IR names no variance operand a rule could replace
        ("sd for variance in the nodes", r"^\s*eta = ", r"xp\.sqrt\(2 \* eta_var\)", "2 * eta_var"),
        # no rule: the ±1 loss's formula is QuadratureSum code; LabelCheck declares y ∈ {0, 1}, not the other convention's loss
        ("the ±1 logistic loss fed labels in {0, 1}", r"^\s*d1 =", r"expit\(eta\) - y_nodes",
         "-y_nodes*expit(-eta*y_nodes)"),
    ]),
    "svi_lda": ("svi_lda_step", ("blrkit.algorithms.svi",), ("svi_lda",), [
        # no rule: D/|B| multiplies LDA's statistics inside an index-contraction node; the node declares no scale
        ("no D/|B| scale", r"^\s*lam_new =", r"\*total_docs/n_batch", ""),
        # no rule: LDA's local fixed-point loop is one node; its prior α is not a declared field
        ("alpha dropped from the local update", r"^\s*new = ", r"doc_topic_prior \+ ", ""),
        # no rule: LDA's local loop node declares no iterate a rule could freeze
        ("statistics at the start gamma, not the fixed point", r"^\s*gamma = xp\.where", r"new, gamma\)", "gamma, gamma)"),
    ]),
    "bernoulli_exact": ("bernoulli_blr_step", ("blrkit.algorithms.binary",), ("bernoulli_exact",), [
        # no rule: the ½ sits in the Enumeration node's pairing code, not in a SymPy expression or a field
        ("no 1/2 in the pairing", r"^\s*dmu = ", r"0\.5 \* ", ""),
        # no rule: the leave-one-out product over k ≠ j is inside the Enumeration node
        ("q(w) itself for the product over k != j", r"^\s*dmu = ", r"before \* after", "before * after * f"),
    ]),
    "dropout_noise": ("dropout_noise_step", ("blrkit.algorithms.dropout",), ("dropout_noise",), [
        # no rule: moves a draw across the mask (z ⊙ (m + σε) → z ⊙ m + σε): a regrouping no rule makes
        ("noise on the dropped weights too", r"^\s*g_noise =", r"z_mask \* \(m \+ slab_sd \* eps\)",
         "z_mask * m + slab_sd * eps"),
    ]),
    "em": ("em_step", ("blrkit.algorithms.em",), ("em",), [
        # no rule: a sign flip of one factor of a single-term expression (−X for X in XΣ⁻¹m; +½ for −½ in η₂)
        ("sign of the linear term of <eta, T(x)>", r"^\s*lam = ", r"= X @ ", "= -X @ "),
        # no rule: a sign flip of one factor of a single-term expression (−X for X in XΣ⁻¹m; +½ for −½ in η₂)
        ("sign of the quadratic term of <eta, T(x)>", r"^\s*eta_2 = ", r"-1/2 \* ", "1/2 * "),
    ]),
    "bayesbinn": ("bayesbinn_step", ("blrkit.algorithms.binary",), ("bayesbinn",), [
        # no rule: the Relaxation node computes log_scale itself; its Fisher factor is no field
        ("no Fisher information (the lambda-gradient for the mu-gradient)", r"^\s*log_s =",
         r"2 \* \(xp\.abs\(lam\) - xp\.abs\(z\)\)", "-2 * xp.abs(z)"),
        # no rule: the Relaxation node's ½ log(u/(1 − u)) is node code with no declared scale
        ("twice the logistic noise", r"^\s*z = ", r"0\.5 \*", "1.0 *"),
    ]),
    "dirichlet_categorical": ("dirichlet_categorical_posterior", ("blrkit.algorithms.conjugate",),
                              ("dirichlet_categorical",), [
        # no rule: no rule changes a sum's range (Σ_{i=2}^N y_i for Σ_{i=1}^N y_i)
        ("first datum dropped", r"^\s*alpha_new =", r"xp\.sum\(y, axis=-2\)", "xp.sum(y[..., 1:, :], axis=-2)"),
    ]),
}



def cases(recipe: str | None = None) -> list[tuple[str, int]]:
    """``(module, index)`` of every mutation, or of those whose rows include ``recipe``.

    >>> cases("svi_lda")[:2]
    [('svi_lda', 0), ('svi_lda', 1)]
    """
    return [(module, i) for module, (_, _, rows, mutations) in MUTATIONS.items()
            if recipe is None or recipe in rows for i in range(len(mutations))]


def mutate(source: str, selector: str, pattern: str, replacement: str) -> tuple[str, int]:
    """Apply ``pattern`` → ``replacement`` to the code lines of ``source`` matching ``selector``
    (lines inside a triple-quoted string, the docstring's equations, are left alone).

    Returns the new source and the number of substitutions made.
    """
    lines, count, in_string = source.splitlines(keepends=True), 0, False
    for k, line in enumerate(lines):
        quotes = line.count('"""') % 2 == 1
        if in_string or quotes:
            in_string ^= quotes
            continue
        if re.search(selector, line):
            body, nl = (line[:-1], "\n") if line.endswith("\n") else (line, "")
            new, n = re.subn(pattern, replacement, body)
            lines[k], count = new + nl, count + n
    return "".join(lines), count


def mutant(module: str, i: int):
    """The step function of ``module`` with mutation ``i`` applied: ``(function, substitutions, changed)``."""
    function, *_, mutations = MUTATIONS[module]
    _, selector, pattern, replacement = mutations[i]
    source = inspect.getsource(importlib.import_module(f"blrkit.algorithms._generated.{module}"))
    new, count = mutate(source, selector, pattern, replacement)
    namespace = {"__name__": f"mutant_{module}"}
    exec(compile(new, f"<mutant of {module}>", "exec"), namespace)  # noqa: S102 -- our own emitted source
    return namespace[function], count, new != source


@contextlib.contextmanager
def installed(module: str, i: int):
    """Within the block, every driver of ``module`` runs mutant ``i`` of its step; restored on exit.

    The drivers' module attributes are replaced for the block (not thread-safe: run no other check meanwhile).
    """
    function, drivers, _, _ = MUTATIONS[module]
    fn, _, _ = mutant(module, i)
    original = getattr(importlib.import_module(f"blrkit.algorithms._generated.{module}"), function)
    # a driver may hold the step under its own name (``damped_newton_step as laplace_step``)
    names = [(t, n) for t in map(importlib.import_module, drivers) for n, v in vars(t).items() if v is original]
    try:
        for t, n in names:
            setattr(t, n, fn)
        yield fn
    finally:
        for t, n in names:
            setattr(t, n, original)


def rejected(row) -> bool:
    """Whether a row (a :class:`blrkit.verify.Row`) fails by an independent check that ran."""
    return any(c.independent and not c.skipped and not c.passed for c in row.checks)


def killed(module: str, i: int, run_row: Callable) -> tuple[bool, list]:
    """Run the rows of ``module`` with mutant ``i`` installed: ``(every row rejects it, the rows)``.

    ``run_row(name)`` runs one row and returns its :class:`blrkit.verify.Row` (``blrkit.verify.verify_row`` at a
    fixed size and seed): it is passed in, as this module sits below :mod:`blrkit.verify`'s entry point.
    """
    _, _, rows, _ = MUTATIONS[module]
    with installed(module, i):
        results = [run_row(name) for name in rows]
    return all(rejected(r) for r in results), results


@dataclass(frozen=True)
class Score:
    """The mutation score of a recipe: each wrong variant of its step as ``(name, source, rejected)``, the source
    ``"derived: <rule>"`` (made from the derivation by a rule of :mod:`blrkit.verify.variants`) or ``"hand"`` (an
    entry of :data:`MUTATIONS`)."""

    variants: tuple[tuple[str, str, bool], ...]

    @property
    def killed(self) -> int:
        return sum(ok for _, _, ok in self.variants)

    @property
    def total(self) -> int:
        return len(self.variants)

    @property
    def survivors(self) -> tuple[str, ...]:
        return tuple(name for name, _, ok in self.variants if not ok)

    @property
    def rejected(self) -> tuple[str, ...]:
        return tuple(name for name, _, ok in self.variants if ok)

    def to_dict(self) -> dict:
        return {"killed": self.killed, "total": self.total, "survivors": list(self.survivors),
                "rejected": list(self.rejected),
                "variants": [{"name": n, "source": src, "verdict": "rejected" if ok else "not rejected"}
                             for n, src, ok in self.variants]}


def score(recipe: str, derived, verdict: Callable[[str, int], bool]) -> Score:
    """The mutation score of ``recipe``: ``derived``, ``(name, rule, rejected)`` of each variant the rules make of
    its derivation (:func:`blrkit.verify.variants.survey`), then each hand entry of its module, ``verdict(module,
    i)`` saying whether mutant ``i`` of ``module`` is rejected (``killed(module, i, run_row)[0]``).

    >>> s = score("svi_lda", [("(1 - rho) dropped in lam_new", "one minus rho", True)], lambda module, i: i != 0)
    >>> s.killed, s.total, s.variants[:2]
    (3, 4, (('(1 - rho) dropped in lam_new', 'derived: one minus rho', True), ('no D/|B| scale', 'hand', False)))
    """
    made = [(name, f"derived: {rule}", bool(ok)) for name, rule, ok in derived]
    hand = [(MUTATIONS[module][3][i][0], "hand", bool(verdict(module, i))) for module, i in cases(recipe)]
    return Score(tuple(made + hand))
