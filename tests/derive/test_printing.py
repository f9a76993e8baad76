"""LaTeX: every equation of every derivation renders with matplotlib's mathtext; the other views hold it."""


import matplotlib

matplotlib.use("Agg")
import matplotlib.mathtext  # noqa: E402
import pytest  # noqa: E402

from blrkit.derive import RECIPES  # noqa: E402

#: every distinct equation of every recipe, named by its first place (719 equations, 383 distinct: a row shared by
#: recipes, such as the BLR's λ-update, renders once)
EQUATIONS = [pytest.param(s, id=label) for s, label in reversed(
    {s: f"{name}-{i}" for name, r in reversed(RECIPES.items())
     for i, s in reversed(list(enumerate(r.derive().equations_latex())))}.items())]


#: matplotlib's mathtext parser with its vector back end: it parses and lays out the equation as the PNG
#: renderer does (an unknown command or unbalanced brace is the same ValueError), without rasterising it,
#: which took 4.6 times as long.
MATHTEXT = matplotlib.mathtext.MathTextParser("path")


@pytest.mark.parametrize("tex", EQUATIONS)
def test_equation_renders(tex):
    MATHTEXT.parse(f"${tex}$")


@pytest.mark.parametrize("name", list(RECIPES))
def test_views(name):
    d = RECIPES[name].derive()
    assert d.latex().startswith("\\begin{align*}") and d.latex().endswith("\\end{align*}")
    assert "\\begin{align*}" in d.latex(steps=False)
    assert d._repr_latex_().startswith("$$") and d._repr_latex_().endswith("$$")
    assert d.markdown().count("$$") == 2 * len(d.steps)
    assert d.title in d.text()


# -- paper order -----------------------------------------------------------------------------
import re  # noqa: E402

import sympy as sp  # noqa: E402

from blrkit.derive import Equation  # noqa: E402
from blrkit.derive.emit import GENERATED  # noqa: E402
from blrkit.derive.printing import latex, latex_terms, unicode_text  # noqa: E402


def rows(name, steps=True):
    """Every ``lhs &= rhs`` row of a recipe's LaTeX, continuation rows joined back."""
    d = RECIPES[name].derive()
    body = d.latex(steps=steps).removeprefix("\\begin{align*}\n").removesuffix("\n\\end{align*}")
    body = re.sub(r"\\intertext\{.*\}\n", "", body)
    body = re.sub(r" \\\\\n&\\quad ", " ", body)
    return [r.strip().removesuffix(r"\displaybreak[0]").strip() for r in body.split("\\\\\n")]


@pytest.mark.parametrize("name, row", [
    ("kalman_update", r"v &= y - d - H \bar{m}"),
    ("kalman_update", r"m_{t+1} &= \bar{m} + K v"),
    ("kalman_update", r"P_{t+1} &= \left(I - K H\right) \bar{P} \left(I - K H\right)^\top + K R K^\top"),
    ("kalman_update", r"S_{t+1} &= \bar{P}^{-1} + H^\top R^{-1} H"),
    ("damped_newton", r"S_{t+1} &= (1 - \rho) S_t + \rho \nabla^2\ell(m_t)"),
    ("damped_newton", r"m_{t+1} &= m_t - \rho S_{t+1}^{-1} \nabla\ell(m_t)"),
    ("damped_newton", r"\lambda_{2,t+1} &= - \frac{1 - \rho}{2} S_t - \frac{\rho}{2} \mathbb{E}_{q_t}[\nabla^2\ell(\theta)]"),
    ("gradient_descent", r"m_{t+1} &= m_t - \rho \nabla\ell(m_t)"),
    ("diagonal_newton", r"s_{t+1} &= (1 - \rho) s_t + \rho \mathrm{diag}\,\nabla^2\ell(m_t)"),
    ("gamma_poisson", r"\lambda_{1,t} &= \alpha_t - 1"),
    ("gamma_poisson", r"\lambda_{1,t+1} &= (1 - \rho) \lambda_{1,t} + \rho \left(\lambda_{0,1} - "
                      r"\nabla_{\mu_1}\mathbb{E}_{q_t}[\ell(\theta)]\right)"),
    ("gamma_poisson", r"\beta_{t+1} &= \beta_{0} + N"),
    ("normal_gamma", r"\lambda_{3,t} &= - \beta_t - \frac{1}{2} \kappa_t m_t^{2}"),
    ("dirichlet_categorical", r"\lambda_{0,1} &= \alpha_{1,0} - 1"),
])
def test_paper_order(name, row):
    assert row in rows(name)


@pytest.mark.parametrize("name", list(RECIPES))
def test_one_notation_and_positive_terms_first(name):
    d = RECIPES[name].derive()
    tex = d.latex()
    assert "^{T}" not in tex and r"\mathbb{I}" not in tex, "one transpose notation: ^\\top; identity: I"
    assert "+ -" not in tex and "+ (-" not in tex
    for step in d.steps:
        for eq in step.equations:
            terms = latex_terms(eq.rhs, states=d.states)
            if any(not t.startswith("-") for t in terms):
                assert not terms[0].startswith("-"), f"{name}: {terms}"
    for state in d.states:  # every state the update advances prints with a time subscript
        symbol = latex(sp.Symbol(state))
        bare = re.compile(re.escape(symbol) + r"(?![_\w])")
        if not symbol.endswith("_t") and "," not in symbol:
            assert not bare.search(latex(sp.Symbol(state), states=d.states))


def test_time_subscripts_only_for_states():
    """α is a state of the Gamma family (α_t) but a prior precision in ridge regression (α)."""
    assert r"\alpha_t" in RECIPES["gamma_poisson"].derive().latex()
    ridge = RECIPES["ridge"].derive().latex()
    assert r"\alpha I" in ridge and r"\alpha_t" not in ridge


def test_numeric_rho_prints_as_a_number():
    """A substituted ρ = 1/4 prints as the number: \\frac{3}{4}, \\frac{1}{4} in LaTeX (no \\tfrac);
    3/4, 1/4 in text (no ¼); a Float ρ as 0.25."""
    d = RECIPES["damped_newton"].derive()
    rho = next(s for s in d.update[0].rhs.free_symbols if s.name == "rho")
    quarter = [Equation(eq.lhs, eq.rhs.subs(rho, sp.Rational(1, 4))) for eq in d.update]
    assert quarter[0].latex() == r"S_{t+1} &= \frac{3}{4} S_t + \frac{1}{4} \nabla^2\ell(m_t)"
    assert quarter[1].latex() == r"m_{t+1} &= m_t - \frac{1}{4} S_{t+1}^{-1} \nabla\ell(m_t)"
    assert quarter[0].text() == "Sₜ₊₁ = 3/4 Sₜ + 1/4 ∇²ℓ(mₜ)"
    assert Equation(rho, sp.Rational(1, 4)).text() == "ρ = 1/4"
    diagonal = RECIPES["diagonal_newton"].derive().update[0]
    rho = next(s for s in diagonal.rhs.free_symbols if s.name == "rho")
    half = Equation(diagonal.lhs, diagonal.rhs.subs(rho, sp.Float(0.25)))
    assert half.latex() == r"s_{t+1} &= 0.75 s_t + 0.25 \mathrm{diag}\,\nabla^2\ell(m_t)"
    assert r"\rho" not in half.latex()


# -- plain text ---------------------------------------------------------------------------------
LATEX_LEFTOVERS = re.compile(r"\\|[{}$]|\b(tfrac|frac|hat|bar|mathcal|mathbb|mathrm|left|right|top|sum_\w*)\b|\^\{")


@pytest.mark.parametrize("name", list(RECIPES))
def test_text_has_no_latex(name):
    text = RECIPES[name].derive().text()
    assert not LATEX_LEFTOVERS.search(text), LATEX_LEFTOVERS.search(text)
    assert "sum_i=1^N" not in text


@pytest.mark.parametrize("name", list(RECIPES))
def test_no_duplicated_headings(name):
    d = RECIPES[name].derive()
    for line in d.text().splitlines():
        head, sep, rest = line.partition(": ")
        assert not (sep and head.split(". ", 1)[-1] == rest), line
    assert "*ρ = 1*: $\\rho = 1$" not in d.markdown()
    assert r"\textbf{8.~$\rho$ = 1}: $\rho = 1$" not in d.latex()


def test_text_reads_as_unicode():
    text = RECIPES["damped_newton"].derive().text()
    assert "λ₁,ₜ₊₁ = (1 - ρ) λ₁,ₜ - ρ ∇_μ₁ E_qₜ[ℓ(θ)]" in text
    assert "mₜ₊₁ = mₜ - ρ Sₜ₊₁⁻¹ ∇ℓ(mₜ)" in text
    assert "Σᵢ₌₁ᴺ" in RECIPES["ogn"].derive().text()
    assert "βₜ₊₁ = β₀ + N" in RECIPES["gamma_poisson"].derive().text()
    assert unicode_text(r"$\tfrac{N}{M}\hat{g}_{\mathcal{B}}$") == "N/M ĝ_B"


# -- layout -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(RECIPES))
def test_layout(name):
    """Justifications on their own line, page breaks between steps, delimiters closed on each row;
    the Jupyter and Markdown views keep to what MathJax knows."""
    d = RECIPES[name].derive()
    tex = d.latex()
    assert tex.count(r"\intertext{") == len(d.steps)
    assert tex.count(r"\displaybreak[0]") == len(d.steps) - 1
    assert "&&" not in tex
    for row in tex.split("\\\\\n"):
        assert row.count(r"\left") == row.count(r"\right"), row
        assert row.count(r"\Bigl") == 0 or row.count(r"\Bigl") == row.count(r"\Bigr") or r"\Bigr" not in row
    for view in (d._repr_latex_(), d.markdown()):
        assert r"\intertext" not in view and r"\displaybreak" not in view


def test_long_fraction_breaks_inside_bigl():
    tex = RECIPES["normal_gamma"].derive().latex(steps=False)
    beta = tex[tex.index(r"\beta_{t+1}"):]
    assert r"\Bigl(" in beta and r"\Bigr)" in beta and beta.count("&\\quad") >= 1


# -- emitted code -------------------------------------------------------------------------------
@pytest.mark.parametrize("module, line", [
    ("kalman_update", "v = y - d - (H @ m_pred[..., None])[..., 0]"),
    ("kalman_update", "C = H @ P_pred @ H.mT + R"),
    ("kalman_update", "m_new = m_pred + (K @ v[..., None])[..., 0]"),
    ("kalman_update", "P_new = (xp.eye(m_pred.shape[-1], dtype=dtype, device=device(m_pred)) - K @ H) @ P_pred @ "
                      "(xp.eye(m_pred.shape[-1], dtype=dtype, device=device(m_pred)) - K @ H).mT "
                      "+ K @ R @ K.mT"),
    ("damped_newton", "S_new = (1 - rho)[..., None, None] * S + rho[..., None, None] * H"),
    ("damped_newton", "m_new = m - rho[..., None] * xp.linalg.solve(S_new, g[..., None])[..., 0]"),
    ("gamma_poisson", "beta_new = beta_0 + N"),
    ("normal_gamma", "alpha_new = alpha_0 + (1/2)*N"),
])
def test_emitted_code_reads_like_hand_written(module, line):
    assert f"    {line}\n" in (GENERATED / f"{module}.py").read_text()


@pytest.mark.parametrize("name", list(RECIPES))
def test_emitted_code_has_no_negated_terms(name):
    code = [ln for ln in (GENERATED / f"{RECIPES[name].module}.py").read_text().splitlines()
            if not ln.lstrip().startswith("#")]
    body = "\n".join(code)
    assert "+ (-" not in body and "(-(" not in body and "+ -" not in body
