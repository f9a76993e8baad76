"""LaTeX: every equation of every derivation renders with matplotlib's mathtext; the other views hold it."""

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.mathtext  # noqa: E402
import pytest  # noqa: E402

from blrkit.derive import RECIPES  # noqa: E402

EQUATIONS = [pytest.param(s, id=f"{name}-{i}")
             for name, r in RECIPES.items() for i, s in enumerate(r.derive().equations_latex())]


@pytest.mark.parametrize("tex", EQUATIONS)
def test_equation_renders(tex):
    matplotlib.mathtext.math_to_image(f"${tex}$", io.BytesIO(), format="png")


@pytest.mark.parametrize("name", list(RECIPES))
def test_views(name):
    d = RECIPES[name].derive()
    assert d.latex().startswith("\\begin{align*}") and d.latex().endswith("\\end{align*}")
    assert "\\begin{align*}" in d.latex(steps=False)
    assert d._repr_latex_().startswith("$$") and d._repr_latex_().endswith("$$")
    assert d.markdown().count("$$") == 2 * len(d.steps)
    assert d.title in d.text()
