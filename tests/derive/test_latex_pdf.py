"""Every recipe's step-by-step LaTeX, pasted into a plain ``article``, compiles with pdflatex and
fits the page: no ``Overfull \\hbox`` wider than 10 pt and no blank page.

Needs a TeX engine (Debian: ``apt-get install texlive-latex-base texlive-latex-recommended``;
``.ci/run`` installs it) and ``pdftotext`` (poppler-utils) to read the pages back.
"""

import re
import shutil
import subprocess

import pytest

from blrkit.derive import RECIPES
from blrkit.derive.examples import EXAMPLES

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
\begin{document}
%s
\end{document}
"""


def compile_pdf(tex: str, tmp_path):
    """pdflatex ``tex`` in ``tmp_path`` without interaction; return (log text, text of each page)."""
    (tmp_path / "doc.tex").write_text(DOCUMENT % tex, encoding="utf-8")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
                         cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    log = (tmp_path / "doc.log").read_text(encoding="latin-1")
    assert run.returncode == 0, "pdflatex failed:\n" + log[-3000:]
    pages = subprocess.run(["pdftotext", "-layout", "doc.pdf", "-"], cwd=tmp_path, check=True,
                           capture_output=True, text=True).stdout.split("\f")
    if pages and not pages[-1].strip():
        pages = pages[:-1]  # pdftotext ends the last page with a form feed
    return log, pages


def overfull_pt(log: str) -> list[float]:
    return [float(x) for x in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)", log)]


def blank_pages(pages: list[str]) -> list[int]:
    """Pages with no text but the page number."""
    return [i for i, page in enumerate(pages, 1) if not re.sub(r"\s|\d", "", page)]


def test_compile_pdf_sees_an_overfull_line_and_a_blank_page(tmp_path):
    """The checks can fail: a line wider than the page and a forced empty page are both caught."""
    log, pages = compile_pdf(r"\[" + r"x + " * 200 + r"x\] \newpage \null \newpage y", tmp_path)
    assert max(overfull_pt(log)) > MAX_OVERFULL_PT
    assert blank_pages(pages) == [2]


DERIVATIONS = {**{name: r.derive for name, r in RECIPES.items()},
               **{f"example-{name}": make for name, make in EXAMPLES.items()}}


@pytest.mark.parametrize("name", list(DERIVATIONS))
def test_derivation_fits_an_article(name, tmp_path):
    """The full derivation, then the update alone, as a user pastes them: every recipe and every
    example of the engine (GLMs, losses in θ, non-conjugate and user families, the improved BLR)."""
    d = DERIVATIONS[name]()
    log, pages = compile_pdf(d.latex() + "\n" + d.latex(steps=False), tmp_path)
    too_wide = [pt for pt in overfull_pt(log) if pt > MAX_OVERFULL_PT]
    assert not too_wide, f"{name}: lines wider than the text by {too_wide} pt"
    assert pages and not blank_pages(pages), f"{name}: blank pages {blank_pages(pages)} of {len(pages)}"
