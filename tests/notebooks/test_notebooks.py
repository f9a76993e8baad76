r"""Execute every lecture notebook top to bottom and check what a class would see (issue #25).

The notebooks import blrkit and compare each BLR result with its classical counterpart in a visible
check table (:func:`blrkit.table.check_table`, which raises on a failure), so running them tests the
library as much as the notebooks. Parametrised over ``notebooks/*.ipynb``: a new notebook is tested
the moment it is added. Each notebook executes once per session (``executed_notebook``, conftest.py);
every check below reads that one execution.

Conventions the checks enforce
------------------------------
*Warnings.* No cell may print a warning: any ``…Warning`` on a cell's standard error fails.

*Figures.* The kernel draws through ``module://blrkit.lecture_backend`` (``KERNEL_ENV``), which
inspects every figure when it is shown or saved and prints a ``LectureFigureWarning:`` line for a
text below :data:`blrkit.plotting.MIN_FONT_SIZE` points, an axes drawing data without an x or y label,
or labelled artists without a legend. Any such line fails the notebook.

*Numbers in the text.* A number the Markdown states is written as inline code ```name = value```
(or ``≈``; one space either side, which sets it apart from a keyword argument such as ```C=1e6```),
e.g. ```nll_ivon = 0.078```. The notebook must print that name's computed value on a
line of its own, ``name = value`` (:func:`blrkit.table.claim` does); the typed value must equal the
printed one to the digits typed (within half a unit of its last digit). A typed claim whose name is
never printed fails too: the text may not state a result the notebook does not compute.

*Lecture structure.* The first cell states the prerequisites ("Prerequisites") and the run time
("Run time"); a heading "Key takeaways" closes the story; 2-4 exercises (headings "Exercise 1",
"Exercise 2", …), each with a solution cell tagged ``solution`` (collapsed in Jupyter) that prints a
check table whose every line passes; at least one check table outside the solutions.
"""

from __future__ import annotations

import math
import re

import pytest

nbformat = pytest.importorskip("nbformat")

from blrkit.table import CHECK_HEADER  # noqa: E402

from .conftest import NOTEBOOKS, NOTEBOOKS_DIR  # noqa: E402

#: scheduled first, together (tests/conftest.py): the first test of a notebook executes it (tens of seconds), the
#: others read that execution, on the same xdist worker
pytestmark = pytest.mark.reads_notebooks

_IDS = [p.stem for p in NOTEBOOKS]
_WARNING = re.compile(r"\b\w*Warning\b")
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
#: inline code in Markdown stating a number: `name = 0.078` or `name ≈ 0.078`
_TYPED = re.compile(r"`([A-Za-z_]\w*) (?:=|≈) (" + _NUMBER + r")`")
#: a printed claim: a line `name = 0.078` (blrkit.table.claim)
_PRINTED = re.compile(r"^([A-Za-z_]\w*) = (" + _NUMBER + r")\s*$", re.M)


def _stream(cell, name):
    return "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name") == name)


def _stdout(cell):
    text = _stream(cell, "stdout")
    for o in cell.get("outputs", []):  # an expression's value shown by the cell (claim(...) returns it)
        if o.get("output_type") in ("execute_result", "display_data"):
            text += "\n" + o.get("data", {}).get("text/plain", "")
    return text


def _code(nb):
    return [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]


def _solution(cell) -> bool:
    return "solution" in cell.get("metadata", {}).get("tags", [])


def typed_claims(nb) -> list[tuple[str, str]]:
    """``(name, typed value)`` for every number the Markdown states as ```name = value```."""
    return [m.groups() for c in nb.cells if c.cell_type == "markdown" for m in _TYPED.finditer(c.source)]


def printed_claims(nb) -> dict[str, list[str]]:
    """name -> every value the executed notebook printed as a line ``name = value``."""
    out: dict[str, list[str]] = {}
    for _, c in _code(nb):
        for name, value in _PRINTED.findall(_stdout(c)):
            out.setdefault(name, []).append(value)
    return out


def agrees(typed: str, printed: str) -> bool:
    """``printed`` rounds to ``typed`` at the digits typed (half a unit of its last digit).

    >>> agrees("0.078", "0.0781"), agrees("0.101", "0.0781"), agrees("3e-05", "2.96e-05")
    (True, False, True)
    """
    mantissa = typed.lower().split("e")[0].lstrip("+-")
    exponent = int(typed.lower().split("e")[1]) if "e" in typed.lower() else 0
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    unit = 10.0 ** (exponent - decimals)
    return math.isclose(float(typed), float(printed), rel_tol=0, abs_tol=0.5 * unit * (1 + 1e-9))


def test_there_are_notebooks():
    assert NOTEBOOKS, f"no notebooks found in {NOTEBOOKS_DIR}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_IDS)
def test_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in _code(nb) if c.get("outputs") or c.get("execution_count") is not None]
    assert not dirty, (f"{path.name}: cells {dirty} carry outputs or execution counts; clear them "
                       "(e.g. jupyter nbconvert --clear-output --inplace)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_IDS)
def test_runs_without_warnings(path, executed_notebook):
    nb = executed_notebook(path)
    assert any(c.get("outputs") for _, c in _code(nb)) or not nb.cells
    noisy = [f"cell {i}: {line.strip()}" for i, c in _code(nb) for line in _stream(c, "stderr").splitlines()
             if _WARNING.search(line) and "LectureFigureWarning" not in line]
    assert not noisy, f"{path.name} prints warnings:\n" + "\n".join(noisy)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_IDS)
def test_figures_fit_a_projector(path, executed_notebook):
    nb = executed_notebook(path)
    sources = "\n".join(c.source for _, c in _code(nb))
    if "matplotlib" in sources:
        assert "lecture_style()" in sources, f"{path.name} draws without blrkit.plotting.lecture_style()"
    bad = [f"cell {i}: {line.strip()}" for i, c in _code(nb) for line in _stream(c, "stderr").splitlines()
           if "LectureFigureWarning" in line]
    assert not bad, f"{path.name}: figures a projector cannot show:\n" + "\n".join(bad)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_IDS)
def test_numbers_in_the_text_are_the_computed_ones(path, executed_notebook):
    nb = executed_notebook(path)
    printed = printed_claims(nb)
    wrong = []
    for name, typed in typed_claims(nb):
        if name not in printed:
            wrong.append(f"`{name} = {typed}` is typed in the text but {name} is never printed")
        elif not any(agrees(typed, value) for value in printed[name]):
            wrong.append(f"`{name} = {typed}` is typed in the text but computed as {', '.join(printed[name])}")
    assert not wrong, f"{path.name}:\n" + "\n".join(wrong)


def _check_lines(text: str) -> list[str] | None:
    """The verdict lines of the check table(s) in ``text`` (None if none was printed)."""
    if CHECK_HEADER not in text:
        return None
    lines, inside = [], False
    for line in text.splitlines():
        if line.startswith(CHECK_HEADER):
            inside = True
        elif inside and line.strip():
            lines.append(line)
        else:
            inside = False
    return lines


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_IDS)
def test_lecture_structure(path, executed_notebook):
    nb = executed_notebook(path)
    first = nb.cells[0].source if nb.cells else ""
    assert "Prerequisites" in first and "Run time" in first, f"{path.name}: the first cell states prerequisites and run time"
    markdown = [c.source for c in nb.cells if c.cell_type == "markdown"]
    assert any(re.search(r"^#+ .*Key takeaways", s, re.M) for s in markdown), f"{path.name}: no 'Key takeaways'"
    exercises = sum(len(re.findall(r"^#+ .*Exercise \d", s, re.M)) for s in markdown)
    solutions = [(i, c) for i, c in _code(nb) if _solution(c)]
    assert 2 <= exercises <= 4, f"{path.name}: {exercises} exercises (2-4 wanted)"
    assert len(solutions) == exercises, f"{path.name}: {exercises} exercises but {len(solutions)} solution cells"
    for i, c in solutions:
        lines = _check_lines(_stdout(c))
        assert lines, f"{path.name}: the solution in cell {i} prints no check table ({CHECK_HEADER} …)"
        assert all(line.rstrip().endswith("pass") for line in lines), f"{path.name} cell {i}:\n" + "\n".join(lines)
    shown = [i for i, c in _code(nb) if not _solution(c) and _check_lines(_stdout(c))]
    assert shown, f"{path.name}: no visible check table (blrkit.table.check_table) outside the solutions"
