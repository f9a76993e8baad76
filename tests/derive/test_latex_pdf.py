"""Every derivation's LaTeX, pasted into a plain ``article``, compiles with pdflatex and fits the page: no
``Overfull \\hbox`` wider than 10 pt and no blank page (issue #26's readability standard). One document holds them
all, each under a ``\\typeout`` marker that names it in the log: the 111 requests of the support matrix, the 34
recipes and the catalogue's examples, each as a user pastes it (``Derivation.latex()``, the steps, then
``latex(steps=False)``, the update alone), compiled in one pdflatex run.

Needs a TeX engine (Debian: ``apt-get install texlive-latex-base texlive-latex-recommended``;
``.ci/run`` installs it) and ``pdftotext`` (poppler-utils) to read the pages back.
"""

import re
import shutil
import subprocess

import pytest

pytestmark = [
    pytest.mark.skipif(shutil.which("pdflatex") is None,
                       reason="pdflatex not found: install texlive-latex-base and texlive-latex-recommended"),
    pytest.mark.skipif(shutil.which("pdftotext") is None,
                       reason="pdftotext not found: install poppler-utils"),
]

#: how far a line may stick out of the text width, in pt (TeX's own \hfuzz is 0.1 pt)
MAX_OVERFULL_PT = 10.0

DOCUMENT = r"""\documentclass{article}
\usepackage{amsmath}
\usepackage{amssymb}
\allowdisplaybreaks
\begin{document}
%s
\end{document}
"""


def compile_pdf(tex: str, tmp_path):
    """pdflatex ``tex`` in ``tmp_path`` without interaction; return (log text, text of each page)."""
    (tmp_path / "doc.tex").write_text(DOCUMENT % tex, encoding="utf-8")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
                         cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
    log = (tmp_path / "doc.log").read_text(encoding="latin-1")
    assert run.returncode == 0, "pdflatex failed:\n" + log[-3000:]
    pages = subprocess.run(["pdftotext", "-layout", "doc.pdf", "-"], cwd=tmp_path, check=True,
                           capture_output=True, text=True).stdout.split("\f")
    if pages and not pages[-1].strip():
        pages = pages[:-1]  # pdftotext ends the last page with a form feed
    return log, pages


def overfull_by_derivation(log: str, labels: list) -> dict:
    """label → the widths (pt) of its lines wider than the text by more than MAX_OVERFULL_PT, read from the log
    (``DERIVATION i`` markers name the derivation that follows)."""
    out, current = {}, None
    for line in log.splitlines():
        marker = re.match(r"DERIVATION (\d+)", line)
        if marker:
            current = labels[int(marker.group(1))]
        wide = re.search(r"Overfull \\hbox \(([\d.]+)pt too wide\)", line)
        if wide and float(wide.group(1)) > MAX_OVERFULL_PT:
            out.setdefault(current, []).append(float(wide.group(1)))
    return out


def blank_pages(pages: list[str]) -> list[int]:
    """Pages with no text but the page number."""
    return [i for i, page in enumerate(pages, 1) if not re.sub(r"\s|\d", "", page)]


def body(shown: dict) -> str:
    """Each derivation as a user pastes it, its steps then its update alone, after a marker naming it."""
    return "\n".join(f"\\typeout{{DERIVATION {i}}}\n\\section*{{Derivation {i}}}\n{v['latex']}\n{v['latex update']}"
                     for i, (_, v) in enumerate(sorted(shown.items())))


def test_the_checks_see_an_overfull_line_by_its_name_and_a_blank_page(tmp_path):
    """The checks can fail: a row wider than the page is reported under its own derivation, a forced empty page
    is found."""
    rows = {"a": {"latex": "$x$", "latex update": "$y$"},
            "b": {"latex": r"\begin{align*}x &= " + "x + " * 200 + r"x\end{align*}", "latex update": "$z$"}}
    log, pages = compile_pdf(body(rows) + r"\newpage \null \newpage end", tmp_path)
    assert set(overfull_by_derivation(log, sorted(rows))) == {"b"}
    assert blank_pages(pages) == [len(pages) - 1]


def test_every_derivation_fits_a_plain_article_page(printed, fresh_prints, tmp_path):
    """The 111 requests, the 34 recipes and the catalogue's examples in one document: no line wider than the text
    by more than 10 pt (each named by its derivation), no blank page."""
    examples = {name: (None, v) for name, (_, v) in fresh_prints.items() if name.startswith("example ")}
    shown = {label: v for label, (_, v) in (dict(printed) | examples).items()}
    log, pages = compile_pdf(body(shown), tmp_path)
    assert overfull_by_derivation(log, sorted(shown)) == {}
    assert len(examples) >= 8 and len(shown) > 140 and len(pages) > 50 and not blank_pages(pages)
