r"""The verification table, rendered: Khan & Rue (2023), Table 1, with live checks.

The checks themselves live in :mod:`blrkit.verify` (one module per group of rows, a registry of
the rows and of Table 1); this module renders the :class:`~blrkit.verify.Row` objects they
produce as an aligned terminal table, Markdown, a LaTeX document (pdflatex) or JSON. Every
format shows, for every check, whether its counterpart is *independent* of the emitted step
(it verifies the row) or a *freshness* check (the same code run twice, which verifies nothing).

>>> from blrkit.table import render, verify_row
>>> print(render([verify_row("ridge", dim=3, n=20, batch=1)], "markdown").splitlines()[0])  # doctest: +ELLIPSIS
| Algorithm | Sec. | Family | Approximations | Checked against (kind: error) | ...
"""

from __future__ import annotations

import math
import re

from blrkit.verify.registry import (
    CLOSED_FORM, ITERATIVE, SAME_CODE, SEQUENCE, TABLE_1_GROUPS, Check, Problem, Row, record_group, relative_error,
    table_1, table_1_recipes,
)

#: names read from :mod:`blrkit.verify` when first used: it imports every row check and the records (and so
#: SymPy), which building the command line's parser (``FORMATS``) must not
_FROM_VERIFY = ("CHECKS", "SECTION_ROWS", "TABLE_1", "build_table", "exit_status", "not_yet_rows", "verify_row")


def __getattr__(name: str):
    if name in _FROM_VERIFY:
        import blrkit.verify

        return getattr(blrkit.verify, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "CHECKS", "CLOSED_FORM", "ITERATIVE", "SAME_CODE", "SECTION_ROWS", "SEQUENCE", "TABLE_1",
    "FORMATS", "Check", "Problem", "Row", "build_table", "exit_status", "not_yet_rows", "relative_error",
    "render", "summary", "verify_row", "check_table", "claim",
]

# -- rendering ----------------------------------------------------------------------------------

FORMATS = ("terminal", "markdown", "latex", "beamer", "json")

#: The legend printed under the terminal and Markdown tables.
LEGEND = ("Kind: indep = an independent counterpart, sharing no code with the emitted step "
          "(blrkit.classical, SciPy, a third-party library, Bayes' rule): it verifies the row; "
          "fresh = a freshness check, the same code run twice (the step compiled from the derivation "
          "against the committed one the driver runs): it verifies nothing. A row passes only if an "
          "independent check ran and every check that ran is within its tolerance. Errors are "
          "max|a - b| / max|b| (relative to the problem's scale) unless marked s.e. (standard errors "
          "of a Monte-Carlo estimate). Rows marked + are blrkit's, not rows of Table 1. "
          "Derive: the seconds SymPy took to derive the row's update.")

#: the mark of a row blrkit adds to Table 1
EXTRA = "+"


def _err(c: Check) -> str:
    return (c.note or "skipped") if c.skipped else f"{c.error:.1e}"


def _err_unit(c: Check) -> str:
    """The error with its unit when it is not the default relative error."""
    return _err(c) + (f" {c.unit}" if not c.skipped and c.unit != "rel." else "")


def _kind(c: Check) -> str:
    return "indep" if c.independent else "fresh"


def _approx(r: Row) -> str:
    return ", ".join(r.approximations) or "none"


def _seconds(s: float | None) -> str:
    return "" if s is None else f"{s:.2f}s"


def _max_relative(r: Row) -> str:
    """The largest relative error of a row's checks (those in other units are shown per check)."""
    if not r.implemented:
        return ""
    errors = [c.error for c in r.checks if not c.skipped and c.unit == "rel."]
    if not errors:
        return "skipped" if not any(not c.skipped for c in r.checks) else "see checks"
    return "nan" if any(math.isnan(e) for e in errors) else f"{max(errors):.1e}"


def _is_extra(r: Row) -> bool:
    """A recipe's row that is not (part of) a row of Table 1."""
    return not r.group and r.implemented and r.name not in table_1_recipes()


def _implemented_table_1() -> int:
    """How many rows of Table 1 a registered recipe implements (whatever rows a table shows)."""
    from blrkit.derive import RECIPES

    return sum(any(n in RECIPES for n in names) for *_, names in table_1())


def summary(rows) -> str:
    """One sentence: Table 1's rows (of 17) and blrkit's extra rows, counted apart.

    Table 1's rows implemented are counted over every registered recipe, whichever rows ``rows``
    holds (``blrkit table --rows``); when ``rows`` holds only some, the sentence says how many of
    them were checked. A row of Table 1 implemented by several recipes (conjugate Bayes: five)
    passes when all of them pass.

    >>> print(summary([Row("ridge", "Ridge", "5.1", "q", (), checks=(Check("c", 0.0, 1e-3, True),))]))
    ... # doctest: +ELLIPSIS
    Table 1: ... of 17 rows implemented, 0 of them checked here. blrkit's extra rows: 1 (1 pass, 0 fail).
    """
    implemented = {r.name: r for r in rows if r.implemented and not r.group}
    not_yet = sum(1 for r in rows if not r.implemented)
    covered = [[implemented[n] for n in names if n in implemented] for *_, names in table_1()]
    covered = [c for c in covered if c]
    passed = sum(all(r.status == "pass" for r in c) for c in covered)
    total = max(_implemented_table_1(), len(covered))
    text = f"Table 1: {total} of {len(table_1())} rows implemented"
    if len(covered) < total:
        text += f", {len(covered)} of them checked here"
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


def _heading(r: Row) -> str:
    """The block a row is shown in: Table 1's three (as the paper heads them), then the sections."""
    if r.group:
        return r.group
    from blrkit.derive import RECIPES

    if r.name in RECIPES:
        return record_group(RECIPES[r.name])
    for (title, *_, names), group in zip(table_1(), _table_1_headings()):
        if r.name in names or r.title == title:
            return group
    return TABLE_1_GROUPS[0][0]


def _table_1_headings() -> list[str]:
    return [group for group, count in TABLE_1_GROUPS for _ in range(count)]


def _grouped(rows) -> list[tuple[str, list[Row]]]:
    """The rows in blocks, as the paper groups Table 1: within a block Table 1's rows in its order
    (the recipes of one row in the order given), then blrkit's extra rows; the sections last."""
    order = {n: i for i, (*_, names) in enumerate(table_1()) for n in names}
    headings = [g for g, _ in TABLE_1_GROUPS] + list(dict.fromkeys(r.group for r in rows if r.group))
    blocks = {h: [] for h in headings}
    for k, r in enumerate(rows):
        blocks.setdefault(_heading(r), []).append((order.get(r.name, len(order)), k, r))
    return [(h, [r for *_, r in sorted(b, key=lambda t: t[:2])]) for h, b in blocks.items() if b]


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


def _title(r: Row) -> str:
    return r.title + (f" {EXTRA}" if _is_extra(r) else "")


def render_terminal(rows, width: int = 100) -> str:
    """An aligned text table, at most ``width`` columns: one line per counterpart within a row."""
    import textwrap

    def line(cells):
        return "  ".join(c.ljust(w) for c, (_, w) in zip(cells, _COLUMNS)).rstrip()

    rule = "-" * min(width, sum(w for _, w in _COLUMNS) + 2 * (len(_COLUMNS) - 1))
    out = [line([h for h, _ in _COLUMNS]), rule]
    for k, (heading, block) in enumerate(_grouped(rows)):
        out += ([""] if k else []) + [heading, rule]
        for r in block:
            out += _terminal_row(r, line, width, textwrap)
    out.append("")
    out += textwrap.wrap(summary(rows), width) + textwrap.wrap(LEGEND, width)
    return "\n".join(out)


def _terminal_row(r: Row, line, width: int, textwrap) -> list[str]:
    out = []
    cols = [_wrap(_title(r), _W["Algorithm"]), [r.section],
            _wrap(r.family, _W["Family / approx."]) + _wrap(_approx(r), _W["Family / approx."]), [], [], [],
            [_seconds(r.derive_seconds)], [r.status.upper() if r.status == "fail" else r.status]]
    for c in r.checks:
        lines = _wrap(c.counterpart, _W["Checked against"])
        errors = ["skipped" if c.skipped else f"{c.error:.1e}"] + ([c.unit] if c.unit != "rel." else [])
        lines += [""] * (len(errors) - len(lines))
        pad = [""] * (len(lines) - 1)
        cols[3] += lines
        cols[4] += [_kind(c)] + pad
        cols[5] += errors + [""] * (len(lines) - len(errors))
        if c.note:  # under the name: "skipped (not installed)", or why a check failed
            note = _wrap(c.note, _W["Checked against"] - 2)
            cols[3] += [f"  {n}" for n in note]
            cols[4] += [""] * len(note)
            cols[5] += [""] * len(note)
    for i in range(max(len(c) for c in cols)):
        out.append(line([c[i] if i < len(c) else "" for c in cols]))
    if r.implemented and r.checks and not r.independent_ran and not r.message:
        out.append("    ! no independent check ran: freshness checks alone verify nothing")
    if r.message:
        out += textwrap.wrap(r.message, width - 4, initial_indent="    ! ", subsequent_indent="      ")
    return out


def _checked(r: Row, sep: str, fmt=lambda s: s) -> str:
    return sep.join(f"{fmt(c.counterpart)} ({_kind(c)}: {_err_unit(c)})" for c in r.checks) or fmt(r.message)


def render_markdown(rows) -> str:
    """A GitHub-flavoured Markdown table (header row first), then the summary and the legend.

    Each algorithm links to its lecture notebook (a link relative to the repository's root).
    """
    esc = lambda s: s.replace("|", "\\|")  # noqa: E731
    out = ["| Algorithm | Sec. | Family | Approximations | Checked against (kind: error) | Max rel. error | "
           "Derive (s) | Status |",
           "|---|---|---|---|---|---|---|---|"]
    for heading, block in _grouped(rows):
        out.append(f"| **{esc(heading)}** | | | | | | | |")
        for r in block:
            derive = "" if r.derive_seconds is None else f"{r.derive_seconds:.2f}"
            checked = _checked(r, "<br>")
            if r.message and r.checks:
                checked += "<br>" + r.message
            title = esc(r.title.replace("[", "(").replace("]", ")"))
            title = f"[{title}]({r.notebook})" if r.notebook else title
            title += f" {EXTRA}" if _is_extra(r) else ""
            out.append(f"| {title} | {r.section} | `{r.family}` | {esc(_approx(r))} | "
                       f"{esc(checked)} | {_max_relative(r)} | {derive} | {r.status} |")
    return "\n".join(out) + "\n\n" + summary(rows) + "\n\n" + LEGEND


# -- LaTeX --------------------------------------------------------------------------------------

_TEX_SPECIAL = (("&", r"\&"), ("%", r"\%"), ("$", r"\$"), ("#", r"\#"), ("_", r"\_"), ("{", r"\{"),
                ("}", r"\}"), ("~", r"\textasciitilde{}"), ("^", r"\^{}"))
#: the non-ASCII characters blrkit's titles, approximations and counterparts use, as pdflatex takes them
_TEX_UNICODE = {"−": "$-$", "–": "--", "—": "---", "’": "'", "‘": "`", "“": "``", "”": "''", "∝": r"$\propto$",
                "×": r"$\times$", "·": r"$\cdot$", "≤": r"$\le$", "≥": r"$\ge$", "≈": r"$\approx$",
                "∇": r"$\nabla$", "∞": r"$\infty$", "→": r"$\to$", "²": r"$^2$", "⁻": r"$^-$", "¹": r"$^1$",
                "√": r"$\surd$", "ℓ": r"$\ell$", "\u0304": "", "…": r"\dots{}", "±": r"$\pm$", "µ": r"$\mu$"}


def _tex_char(ch: str) -> str:
    import unicodedata

    if ch.isascii():
        return ch
    if ch in _TEX_UNICODE:
        return _TEX_UNICODE[ch]
    name = unicodedata.name(ch, "")
    if name.startswith("GREEK SMALL LETTER ") or name.startswith("GREEK CAPITAL LETTER "):
        letter = name.split()[-1].lower()
        letter = {"lamda": "lambda"}.get(letter, letter)
        return f"$\\{letter.capitalize() if 'CAPITAL' in name else letter}$"
    ascii_ = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
    return ascii_ or "?"


def _tex(s: str, breakable: bool = False) -> str:
    r"""Escape ``s`` for pdflatex: its specials, and every non-ASCII character mapped to ASCII TeX.

    With ``breakable``, a line may break inside a word longer than 20 characters, after a dot, an
    underscore, a slash or an opening parenthesis (long identifiers in narrow columns).

    >>> _tex("ℓ̄ − λ_1 ∝ ρ")
    '$\\ell$ $-$ $\\lambda$\\_1 $\\propto$ $\\rho$'
    """
    if breakable:  # \1 marks a break point, set before escaping
        s = " ".join(re.sub(r"(?<=[._/(])", "\1", w) if len(w) > 20 else w for w in s.split(" "))
    s = s.replace("\\", "\0")
    for a, b in _TEX_SPECIAL:
        s = s.replace(a, b)
    s = s.replace("\0", r"\textbackslash{}").replace("\1", r"\allowbreak{}")
    return "".join(_tex_char(ch) for ch in s)


_LATEX_PREAMBLE = r"""\documentclass[11pt]{article}
\usepackage[a4paper,margin=2cm]{geometry}
\usepackage{booktabs,longtable,array}
\newcolumntype{P}[1]{>{\raggedright\arraybackslash}p{#1}}
\begin{document}
"""


def render_latex(rows, standalone: bool = True) -> str:
    r"""A LaTeX document (pdflatex, a plain ``article``) of two ``longtable`` tables that split
    across pages: the map (algorithm, section, family, approximations, status), grouped as the
    paper groups Table 1 with blrkit's extra rows marked :math:`^+`, and the checks (one line per
    counterpart, its error with its unit and its tolerance; independent counterparts marked
    :math:`^\dagger`). ``standalone=False`` gives the two tables alone, to ``\input`` into a
    document whose preamble loads ``booktabs``, ``longtable`` and ``array`` (see the comment).
    """
    out = [r"% blrkit table --format latex: Khan & Rue (2023), Table 1, checked live; compile with pdflatex",
           r"% needs \usepackage{booktabs,longtable,array} and the column type P of the preamble below"]
    if standalone:
        out.append(_LATEX_PREAMBLE.rstrip())
    out += [r"\section*{Table 1 of Khan \& Rue (2023), derived and checked by blrkit}",
            r"\small", r"\begin{longtable}{@{}P{3.4cm}lP{4.6cm}P{4.8cm}l@{}}",
            r"\toprule", r"Algorithm & Sec. & Candidate family & Approximations & Status \\", r"\midrule",
            r"\endhead", r"\bottomrule", r"\endfoot"]
    for k, (heading, block) in enumerate(_grouped(rows)):
        out += ([r"\midrule"] if k else []) + [r"\multicolumn{5}{@{}l}{\emph{" + _tex(heading) + r"}} \\",
                                               r"\midrule"]
        for r in block:
            mark = r"$^{+}$" if _is_extra(r) else ""
            out.append(" & ".join([_tex(r.title) + mark, _tex(r.section), r"\texttt{" + _tex(r.family) + "}",
                                   _tex(_approx(r), breakable=True), r.status]) + r" \\")
    out += [r"\end{longtable}",
            r"\noindent $^{+}$ a row blrkit adds to Table 1. " + _tex(summary(rows)), "",
            r"\begin{longtable}{@{}P{3.4cm}P{6.6cm}lrll@{}}",
            r"\toprule", r"Algorithm & Checked against & Kind & Error & Unit & Tolerance \\", r"\midrule",
            r"\endhead", r"\bottomrule", r"\endfoot"]
    for k, (heading, block) in enumerate(_grouped(rows)):
        block = [r for r in block if r.implemented]
        if not block:
            continue
        out += ([r"\midrule"] if k else []) + [r"\multicolumn{6}{@{}l}{\emph{" + _tex(heading) + r"}} \\",
                                               r"\midrule"]
        for r in block:
            lines = [[_tex(c.counterpart, breakable=True) + (r"$^\dagger$" if c.independent else ""), _kind(c),
                      _tex(_err(c)), "" if c.skipped else c.unit, f"{c.tolerance:.0e}"] for c in r.checks]
            if r.message:
                lines.append([r"\emph{" + _tex(r.message, breakable=True) + "}", "", "", "", ""])
            for i, cells in enumerate(lines or [["", "", "", "", ""]]):
                out.append(" & ".join([_tex(r.title) if i == 0 else ""] + cells) + r" \\")
    out += [r"\end{longtable}",
            r"\noindent $^\dagger$ an independent counterpart (it shares no code with the emitted step); the "
            r"others are freshness checks (the same code run twice), which verify nothing. Errors are "
            r"$\max|a-b|/\max|b|$ (rel.) or in standard errors of a Monte-Carlo estimate (s.e.)."]
    if standalone:
        out.append(r"\end{document}")
    return "\n".join(out) + "\n"


_BEAMER_PREAMBLE = r"""\documentclass[aspectratio=169]{beamer}
\usepackage{booktabs,array}
\newcolumntype{P}[1]{>{\raggedright\arraybackslash}p{#1}}
\setbeamertemplate{navigation symbols}{}
\begin{document}
"""

#: lines of text a slide's table holds (scriptsize rows under a frame title), and the characters a
#: line holds in the approximations and title columns: how many rows go on one slide
_SLIDE_LINES, _APPROX_CHARS, _TITLE_CHARS = 15, 26, 20


def _row_lines(r: Row) -> int:
    return max(1, -(-len(_approx(r)) // _APPROX_CHARS), -(-len(r.title) // _TITLE_CHARS))


def _slides(block):
    """The rows of one block, cut into slides of at most :data:`_SLIDE_LINES` lines of text."""
    slide, used = [], 0
    for r in block:
        n = _row_lines(r)
        if slide and used + n > _SLIDE_LINES:
            yield slide
            slide, used = [], 0
        slide.append(r)
        used += n
    if slide:
        yield slide


def render_beamer(rows) -> str:
    r"""Slides (LaTeX ``beamer``, 16:9, pdflatex): a title slide with the summary, then the map grouped
    as the paper groups Table 1, a few rows a slide (blrkit's extra rows marked :math:`^+`), each row
    with its largest error and that error's unit, and its status."""
    out = [r"% blrkit table --format beamer: Khan & Rue (2023), Table 1, checked live; compile with pdflatex",
           _BEAMER_PREAMBLE.rstrip(),
           r"\begin{frame}{Table 1 of Khan \& Rue (2023), derived and checked by blrkit}",
           _tex(summary(rows)), "",
           r"\medskip\footnotesize $^{+}$ a row blrkit adds to Table 1. Error: the largest over the row's "
           r"checks, relative ($\max|a-b|/\max|b|$) unless marked s.e. (standard errors of a Monte-Carlo "
           r"estimate).", r"\end{frame}"]
    for heading, block in _grouped(rows):
        slides = list(_slides(block))
        for k, slide in enumerate(slides, start=1):
            part = f" ({k}/{len(slides)})" if len(slides) > 1 else ""
            out += [r"\begin{frame}{" + _tex(heading) + part + "}", r"\scriptsize",
                    r"\begin{tabular}{@{}P{2.8cm}lP{2.4cm}P{3.7cm}ll@{}}", r"\toprule",
                    r"Algorithm & Sec. & Family & Approximations & Error & Status \\", r"\midrule"]
            for r in slide:
                worst = max((c for c in r.checks if not c.skipped), default=None,
                            key=lambda c: c.error / c.tolerance if c.tolerance else c.error)
                err = "" if worst is None else f"{worst.error:.0e} {worst.unit}"
                out.append(" & ".join([_tex(r.title) + (r"$^{+}$" if _is_extra(r) else ""), _tex(r.section),
                                       _tex(r.family.replace("-", "-\1"), breakable=True),
                                       _tex(_approx(r), breakable=True), _tex(err), r.status]) + r" \\")
            out += [r"\bottomrule", r"\end{tabular}", r"\end{frame}"]
    out.append(r"\end{document}")
    return "\n".join(out) + "\n"


def render_json(rows) -> str:
    """One JSON object per row with every field (a JSON list); each counterpart has ``independent``."""
    import json

    return json.dumps([r.to_dict() for r in rows], indent=2, ensure_ascii=False)


def render(rows, fmt: str = "terminal") -> str:
    """Render rows in one of :data:`FORMATS`."""
    return {"terminal": render_terminal, "markdown": render_markdown, "latex": render_latex,
            "beamer": render_beamer, "json": render_json}[fmt](rows)


# -- in the lecture notebooks: checks a class can see, numbers the text can cite ------------------

#: The first words of the table :func:`check_table` prints (the notebook tests look for them).
CHECK_HEADER = "blrkit vs textbook"


def check_table(comparisons, title: str = CHECK_HEADER) -> list[Check]:
    r"""Print a small table "blrkit vs textbook: error, tolerance, verdict"; raise if a check fails.

    The visible counterpart of a silent ``assert`` in a lecture notebook. Each comparison is a
    :class:`~blrkit.verify.Check` or a tuple ``(label, actual, desired, tolerance)``, whose error is
    :func:`~blrkit.verify.relative_error` (``max|a - b| / max|b|``).

    Raises
    ------
    AssertionError
        naming every comparison whose error exceeds its tolerance (or is NaN).

    Examples
    --------
    >>> import numpy as np
    >>> _ = check_table([("solve vs lstsq", np.linalg.solve([[2.0]], [1.0]), [0.5], 1e-12)])
    blrkit vs textbook    error    tolerance  unit  verdict
    solve vs lstsq        0.0e+00  1e-12      rel.  pass
    """
    checks = [c if isinstance(c, Check) else Check(c[0], relative_error(c[1], c[2]), c[3], True)
              for c in comparisons]
    if not checks:
        raise ValueError("check_table: comparisons is empty; give at least one (label, actual, desired, tolerance)")
    w = max(len(title), *(len(c.counterpart) for c in checks)) + 2
    lines = [f"{title:<{w}}{'error':<9}{'tolerance':<11}{'unit':<6}verdict"]
    for c in checks:
        verdict = "skipped" if c.skipped else ("pass" if c.passed else "FAIL")
        lines.append(f"{c.counterpart:<{w}}{_err(c):<9}{c.tolerance:<11.0e}{c.unit:<6}{verdict}".rstrip())
    print("\n".join(lines))
    failed = [c.counterpart for c in checks if not c.passed]
    if failed:
        raise AssertionError(f"{len(failed)} check(s) above their tolerance: {', '.join(failed)}")
    return checks


def claim(name: str, value, fmt: str = ".3g"):
    r"""Print ``name = value`` (a number the notebook's text may cite) and return ``value``.

    The convention the notebook tests enforce: a number the text states is written as inline code
    ```name = 0.078``` and must equal, to the digits typed, the value printed by ``claim(name, …)``.

    >>> claim("nll_ivon", 0.07812)
    nll_ivon = 0.0781
    0.07812
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"claim: name must be an identifier, got {name!r}")
    print(f"{name} = {format(value, fmt)}")
    return value
