r"""The verification table, rendered: Khan & Rue (2023), Table 1, with live checks.

The checks themselves live in :mod:`blrkit.verify` (one module per group of rows, a registry of
the rows and of Table 1); this module renders the :class:`~blrkit.verify.Row` objects they
produce as an aligned terminal table, Markdown, LaTeX (a ``booktabs`` tabular) or JSON. Every
format shows, for every check, whether its counterpart is *independent* of the emitted step
(it verifies the row) or a *freshness* check (the same code run twice, which verifies nothing).

>>> from blrkit.table import render, verify_row
>>> print(render([verify_row("ridge", dim=3, n=20, batch=1)], "markdown").splitlines()[0])  # doctest: +ELLIPSIS
| Algorithm | Sec. | Family | Approximations | Checked against (kind: error) | ...
"""

from __future__ import annotations

import re

from blrkit.verify import (
    CHECKS, CLOSED_FORM, ITERATIVE, SAME_CODE, SECTION_ROWS, SEQUENCE, TABLE_1, Check, Problem, Row,
    build_table, exit_status, not_yet_rows, relative_error, table_1_recipes, verify_row,
)

__all__ = [
    "CHECKS", "CLOSED_FORM", "ITERATIVE", "SAME_CODE", "SECTION_ROWS", "SEQUENCE", "TABLE_1",
    "FORMATS", "Check", "Problem", "Row", "build_table", "exit_status", "not_yet_rows", "relative_error",
    "render", "summary", "verify_row",
]

# -- rendering ----------------------------------------------------------------------------------

FORMATS = ("terminal", "markdown", "latex", "json")

#: The legend printed under the terminal and Markdown tables.
LEGEND = ("Kind: indep = an independent counterpart, sharing no code with the emitted step "
          "(blrkit.classical, SciPy, a third-party library, Bayes' rule): it verifies the row; "
          "fresh = a freshness check, the same code run twice (the step compiled from the derivation "
          "against the committed one the driver runs): it verifies nothing. A row passes only if an "
          "independent check ran and every check that ran is within its tolerance. Errors are "
          "max|a - b| / max|b| (relative to the problem's scale). Derive: the seconds SymPy took to "
          "derive the row's update.")


def _err(c: Check) -> str:
    return (c.note or "skipped") if c.skipped else f"{c.error:.1e}"


def _kind(c: Check) -> str:
    return "indep" if c.independent else "fresh"


def _approx(r: Row) -> str:
    return ", ".join(r.approximations) or "none"


def _seconds(s: float | None) -> str:
    return "" if s is None else f"{s:.2f}s"


def summary(rows) -> str:
    """One sentence: Table 1's rows (of 17) and blrkit's extra rows, counted apart.

    A row of Table 1 implemented by several recipes (conjugate Bayes: five) passes when all of
    them pass.

    >>> print(summary([Row("ridge", "Ridge", "5.1", "q", (), checks=(Check("c", 0.0, 1e-3, True),))]))
    Table 1: 0 of 17 rows implemented. blrkit's extra rows: 1 (1 pass, 0 fail).
    """
    implemented = {r.name: r for r in rows if r.implemented and not r.group}
    not_yet = sum(1 for r in rows if not r.implemented)
    covered = [[implemented[n] for n in names if n in implemented] for *_, names in TABLE_1]
    covered = [c for c in covered if c]
    passed = sum(all(r.status == "pass" for r in c) for c in covered)
    text = f"Table 1: {len(covered)} of {len(TABLE_1)} rows implemented"
    if covered:
        text += f" ({passed} pass, {len(covered) - passed} fail)"
    if not_yet:
        text += f", {not_yet} not yet"
    inside = table_1_recipes()
    extra = [r for n, r in implemented.items() if n not in inside]
    if extra:
        ok = sum(r.status == "pass" for r in extra)
        text += f". blrkit's extra rows: {len(extra)} ({ok} pass, {len(extra) - ok} fail)"
    for group in dict.fromkeys(r.group for r in rows if r.group):
        grouped = [r for r in rows if r.group == group]
        ok = sum(r.status == "pass" for r in grouped)
        text += f". {group}: {len(grouped)} rows ({ok} pass, {len(grouped) - ok} fail)"
    return text + "."


def _group_starts(rows):
    """``(row, group)`` pairs, ``group`` set on the first row of each section after Table 1 (else None)."""
    seen = ""
    for r in rows:
        start = r.group if r.group and r.group != seen else None
        seen = r.group or seen
        yield r, start


_COLUMNS = (("Algorithm", 15), ("Sec.", 4), ("Family / approx.", 17), ("Checked against", 26), ("Kind", 5),
            ("Error", 7), ("Derive", 5), ("Status", 7))
_W = dict(_COLUMNS)


def _wrap(text: str, width: int) -> list[str]:
    """Wrap at spaces, and after a hyphen, an en dash or a plus, never inside a word."""
    pieces = [p for p in re.split(r"(?<=[ \-–+])", text) if p]
    lines, line = [], ""
    for piece in pieces:
        if line and len((line + piece).rstrip()) > width:
            lines.append(line.rstrip())
            line = piece.lstrip()
        else:
            line += piece
    lines.append(line.rstrip())
    return [ln for ln in lines if ln] or [""]


def render_terminal(rows, width: int = 100) -> str:
    """An aligned text table, at most ``width`` columns: one line per counterpart within a row."""
    import textwrap

    def line(cells):
        return "  ".join(c.ljust(w) for c, (_, w) in zip(cells, _COLUMNS)).rstrip()

    rule = "-" * min(width, sum(w for _, w in _COLUMNS) + 2 * (len(_COLUMNS) - 1))
    out = [line([h for h, _ in _COLUMNS]), rule]
    for r, group in _group_starts(rows):
        if group:
            out += ["", group, rule]
        cols = [_wrap(r.title, _W["Algorithm"]), [r.section],
                _wrap(r.family, _W["Family / approx."]) + _wrap(_approx(r), _W["Family / approx."]), [], [], [],
                [_seconds(r.derive_seconds)], [r.status.upper() if r.status == "fail" else r.status]]
        for c in r.checks:
            lines = _wrap(c.counterpart, _W["Checked against"])
            pad = [""] * (len(lines) - 1)
            cols[3] += lines
            cols[4] += [_kind(c)] + pad
            cols[5] += ["skipped" if c.skipped else f"{c.error:.1e}"] + pad
            if c.note:  # under the name: "skipped (not installed)", or why a check failed
                note = _wrap(c.note, _W["Checked against"] - 2)
                cols[3] += [f"  {n}" for n in note]
                cols[4] += [""] * len(note)
                cols[5] += [""] * len(note)
        for i in range(max(len(c) for c in cols)):
            out.append(line([c[i] if i < len(c) else "" for c in cols]))
        if r.implemented and r.checks and not r.verified and not r.message:
            out.append("    ! no independent check ran: freshness checks alone verify nothing")
        if r.message:
            out += textwrap.wrap(r.message, width - 4, initial_indent="    ! ", subsequent_indent="      ")
    out.append("")
    out += textwrap.wrap(summary(rows), width) + textwrap.wrap(LEGEND, width)
    return "\n".join(out)


def _checked(r: Row, sep: str, fmt=lambda s: s) -> str:
    return sep.join(f"{fmt(c.counterpart)} ({_kind(c)}: {_err(c)})" for c in r.checks) or fmt(r.message)


def render_markdown(rows) -> str:
    """A GitHub-flavoured Markdown table (header row first), then the summary and the legend."""
    esc = lambda s: s.replace("|", "\\|")  # noqa: E731
    out = ["| Algorithm | Sec. | Family | Approximations | Checked against (kind: error) | Max rel. error | "
           "Derive (s) | Status |",
           "|---|---|---|---|---|---|---|---|"]
    for r, group in _group_starts(rows):
        if group:
            out.append(f"| **{esc(group)}** | | | | | | | |")
        derive = "" if r.derive_seconds is None else f"{r.derive_seconds:.2f}"
        err = "" if not r.implemented else ("skipped" if r.max_error is None else f"{r.max_error:.1e}")
        checked = _checked(r, "<br>")
        if r.message and r.checks:
            checked += "<br>" + r.message
        out.append(f"| {esc(r.title)} | {r.section} | `{r.family}` | {esc(_approx(r))} | "
                   f"{esc(checked)} | {err} | {derive} | {r.status} |")
    return "\n".join(out) + "\n\n" + summary(rows) + "\n\n" + LEGEND


def _tex(s: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("$", r"\$"), ("#", r"\#"),
                 ("_", r"\_"), ("{", r"\{"), ("}", r"\}"), ("~", r"\textasciitilde{}"), ("^", r"\^{}"),
                 ("ρ", r"$\rho$"), ("∝", r"$\propto$"), ("×", r"$\times$"), ("ℓ̄", r"$\bar\ell$"),
                 ("–", "--"), ("’", "'")):
        s = s.replace(a, b) if a != "\\" else s.replace(a, "\0")
    return s.replace("\0", r"\textbackslash{}")


def render_latex(rows) -> str:
    r"""A ``tabular`` with ``booktabs`` rules that a paper can ``\input`` (it needs
    ``\usepackage{booktabs}``); independent counterparts are marked :math:`^\dagger`."""
    out = [r"% needs \usepackage{booktabs} in the preamble",
           r"% counterparts marked $^\dagger$ are independent of the emitted step; the others are freshness checks",
           r"\begin{tabular}{llllp{5.5cm}rrl}", r"\toprule",
           r"Algorithm & Sec. & Family & Approximations & Checked against & Max rel.\ error & Derive (s) & Status \\",
           r"\midrule"]
    for k, (r, group) in enumerate(_group_starts(rows)):
        if group:
            out += ([r"\midrule"] if k else []) + [r"\multicolumn{8}{l}{\emph{" + _tex(group) + r"}} \\",
                                                   r"\midrule"]
        derive = "" if r.derive_seconds is None else f"{r.derive_seconds:.2f}"
        err = "" if not r.implemented or r.max_error is None else f"{r.max_error:.1e}"
        checked = ", ".join(_tex(c.counterpart) + (r"$^\dagger$" if c.independent else "") for c in r.checks)
        out.append(" & ".join([_tex(r.title), r.section, r"\texttt{" + _tex(r.family) + "}", _tex(_approx(r)),
                               checked or _tex(r.message), err, derive, r.status]) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(out)


def render_json(rows) -> str:
    """One JSON object per row with every field (a JSON list); each counterpart has ``independent``."""
    import json

    return json.dumps([r.to_dict() for r in rows], indent=2, ensure_ascii=False)


def render(rows, fmt: str = "terminal") -> str:
    """Render rows in one of :data:`FORMATS`."""
    return {"terminal": render_terminal, "markdown": render_markdown, "latex": render_latex,
            "json": render_json}[fmt](rows)
