"""Every derivation reads like the paper (issue #26): what it prints is true of it, and its plain text is text.

The views of the support matrix's derivations come from the run's cache of its rows (``Row.printed``, filled by
``blrkit.derive.support.run``): the 111 requests are derived once per run, by whichever test asks first.
"""

import re

import numpy as np
import pytest

from blrkit.derive import RECIPES, derive
from blrkit.derive.support import REQUESTS, Request, arguments, family_object, run, views

from .test_support_matrix import cache_key


@pytest.fixture(scope="module")
def printed(run_cache) -> dict:
    """label -> the views (blrkit.derive.support.views) of every derivation of the support matrix and every recipe."""
    rows = run_cache.get_all({cache_key(r): (lambda r=r: run(r)) for r in REQUESTS})
    out = {r.request.label: (r.request, r.printed) for r in rows.values() if r.printed}
    recipes = run_cache.get_all({f"readability views {n}": (lambda n=n: views(RECIPES[n].derive())) for n in RECIPES})
    out |= {f"recipe {n}": (None, v) for n, v in zip(RECIPES, recipes.values())}
    return out


# -- 1. every printed statement is true ------------------------------------------------------------------------

#: the state a step advances, by family: a step that takes none of it forgets its start
GAUSSIAN_STATE = {"m", "S", "s"}  # a Kalman step's m̄, P̄ are its prior, not its start


def _state(request) -> set:
    if request is None or request.family in {"gaussian-fixed-covariance", "multivariate-gaussian", "diagonal-gaussian"}:
        return GAUSSIAN_STATE
    try:
        return {p.name for p in family_object(request.family).standard}
    except KeyError:  # a composite candidate (EM, LDA): its own model
        return GAUSSIAN_STATE


EXACT_POSTERIOR = re.compile(r"drops out: the exact posterior|has dropped out: one step gives the exact posterior")


def test_the_exact_posterior_is_claimed_only_by_a_step_that_forgets_its_start(printed):
    """"λ_t drops out" is true only if the emitted step (run and certified against a numeric BLR step) needs no
    state: before, every ρ = 1 step of a non-conjugate loss claimed it (∇_μE_q[ℓ] depends on λ_t)."""
    claims = {label: set(v["arguments"]) & _state(q) for label, (q, v) in printed.items()
              if EXACT_POSTERIOR.search(v["text"])}
    assert len(claims) >= 8  # the conjugate ρ = 1 rows and ridge regression, at least
    wrong = {label: state for label, state in claims.items() if state}
    assert not wrong, f"claim the exact posterior but take their start as input: {wrong}"


def test_a_non_conjugate_unit_step_depends_on_its_start():
    """The issue's request: Beta, ℓ = -log θ + θ², ρ = 1. The emitted step from two starts gives two posteriors (so
    λ_t does not drop out), and the derivation does not say it does."""
    d = derive(*arguments(Request("beta", "-log(theta) + theta**2", "default", ("rho=1",))))
    assert not EXACT_POSTERIOR.search(d.text())
    step = d.compile()
    names = [a.name for a in d.arguments]
    common = {"alpha_0": 2.0, "beta_0": 3.0}
    one = step(**{n: common.get(n, 1.5) for n in names})
    two = step(**{n: common.get(n, 4.0) for n in names})
    assert not np.allclose(np.asarray(one, dtype=float), np.asarray(two, dtype=float))


def test_an_expectation_left_to_monte_carlo_is_an_estimator_with_its_sample_size(printed):
    """Before, the expected loss printed as ``= 0`` or ``= μ₁,ₜ`` when part of it went to Monte Carlo, and the part
    itself as ``f_mc ≈ …``: a definition written as an approximation."""
    sampled = {label: v["text"] for label, (q, v) in printed.items()
               if "n_samples" in v["arguments"] and "\n4. Expected loss:" in v["text"]}
    assert len(sampled) >= 4
    for label, text in sampled.items():
        for line in text.splitlines():
            lhs, _, rhs = line.strip().partition(" = ")
            if lhs == "E_qₜ[ℓ(θ)]":
                assert "E_qₜ[f(θ)]" in rhs, (label, line)
        assert re.search(r"^\s+f\(θ\) = ", text, re.M), label
        assert re.search(r"≈ F\(λₜ\)⁻¹ 1/K Σₖ₌₁ᴷ f\(θₖ\)", text), label  # the estimator, K its sample size
        assert "f_mc" not in text, label


# -- 2. plain text is free of LaTeX ------------------------------------------------------------------------------

#: command names that print as the word itself (operators), or are English words prose may use
WORDS = {"log", "exp", "sin", "cos", "tan", "sinh", "cosh", "tanh", "det", "min", "max", "ln", "arg", "tr", "in", "to",
         "sum", "left", "right", "top", "mid", "text", "dot", "bar", "hat", "sim", "le", "ge", "ne", "big", "Big", "star",
         "circ", "colon", "quad", "partial", "Delta", "not", "int", "vec", "cdot", "approx"}
#: the leaks the issue quotes, as they printed
QUOTED = ("logPhi", "varphi", "sqrtsₜ", "sqrtrate", "prodᵢ", "langleη", "Lₜ^-ᵀ", "S_K,t", "E_q_K")
#: a script of several symbols left unbracketed (S_K,t, E_q_K) or a superscript minus (L^-ᵀ)
SCRIPT = re.compile(r"[_^][^\s()\[\]]*[_^,]\S|[_^]-")


def leaks(text: str, commands: set) -> list:
    """What of LaTeX is left in ``text``: backslashes, braces, unbracketed compound scripts, command names as words
    (``varphi``) or glued to what follows (``sqrts``, ``logPhi``, ``logdet``)."""
    found = ["\\"] * ("\\" in text) + re.findall(r"[_^A-Za-z]\{|\}\{", text)  # a TeX group; a set {-1, +1} is text
    found += [q for q in QUOTED if q in text] + SCRIPT.findall(text)
    names = commands - WORDS
    operators = commands | {"log", "exp", "sqrt", "det"}
    for run_ in re.findall(r"[A-Za-z]+", text):
        if run_ in names:
            found.append(run_)
        rest = [run_[len(op):] for op in operators if run_.startswith(op) and len(run_) > len(op) >= 3]
        glued = [r for r in rest if len(r) == 1 or r in operators or r[0].isupper()]
        if glued and run_ not in WORDS:
            found.append(run_)
    return found


def test_plain_text_has_no_latex(printed):
    """Over the support matrix and every recipe: the text with its steps and the update alone."""
    bad = {}
    for label, (_, v) in printed.items():
        commands = set(re.findall(r"\\([A-Za-z]+)", v["markdown"] + v["latex update"]))
        found = leaks(v["text"] + "\n" + v["text update"], commands)
        if found:
            bad[label] = sorted(set(found))
    assert not bad, bad


def test_the_leak_check_finds_what_the_issue_quotes():
    """The check itself, on the lines the issue quotes (each as main printed it)."""
    for line in ("f(η, y) = -logPhi(η y)", "θₖ = mₜ + εₖ/sqrtsₜ", "q(z, θ) = prodᵢ Cat(zᵢ| rᵢ)",
                 "E_q_K[log q] ≈ c + 1/2 logdet S_K,t", "θₖ = mₜ + Lₜ^-ᵀ εₖ", "f'(η, y) = -y (varphi(η y))",
                 "rateₜ₊₁ = sqrtrate"):
        assert leaks(line, {"Phi", "varphi", "sqrt", "prod", "log", "det"}), line
    assert not leaks("E_qₖ[log q] ≈ vₖ,ₜ + c + 1/2 log det Sₖ,ₜ; q = ∏_b q_b, each block", {"log", "det", "prod"})


def test_markdown_prose_has_no_latex_outside_maths(printed):
    """Markdown keeps its LaTeX inside ``$…$``; outside, the prose is text."""
    bad = {}
    for label, (_, v) in printed.items():
        prose = re.sub(r"\$\$.*?\$\$|\$[^$]*\$", "", v["markdown"], flags=re.S)
        found = re.findall(r".{0,30}(?:\\[A-Za-z]|[{}]).{0,30}", prose)  # \& is Markdown's escape of &
        if found:
            bad[label] = found[:3]
    assert not bad, bad


# -- 3. names ----------------------------------------------------------------------------------------------------

def test_logistic_second_derivative_has_no_label(printed):
    """Labels y ∈ {0, 1}, f = log(1 + e^η) − yη: f''(η, y) is σ(−η)σ(η), with no y (the ±1 loss printed
    y² σ(−ηy) σ(ηy)), equal to the textbook p(1 − p); every printed logistic derivation shows it without y."""

    import sympy as sp

    from blrkit.derive.functions import expit
    from blrkit.derive.losses import glm_loss
    from blrkit.derive.symbols import ETA, Y_OBS

    loss = glm_loss("logistic")
    assert Y_OBS not in loss.f2.free_symbols
    f2 = sp.lambdify(ETA, loss.f2.replace(expit, lambda u: 1 / (1 + sp.exp(-u))), "numpy")
    eta = np.array([-2.3, 0.4, 3.1])
    p = 1 / (1 + np.exp(-eta))  # the textbook Bernoulli variance p(1 − p)
    assert np.allclose(f2(eta), p * (1 - p))
    texts = [v["text"] for label, (_, v) in printed.items() if "glm:logistic" in label and "f''(η, y) =" in v["text"]]
    shown = [line.split("f''(η, y) =", 1)[1] for t in texts for line in t.splitlines() if "f''(η, y) =" in line]
    assert shown and not any("y" in rhs for rhs in shown), shown


def test_kalman_states_its_measurement_model_before_its_symbols(printed):
    """H, R and d appear first in the line that says what they are (before, the derivation never said)."""
    lines = printed["recipe kalman_update"][1]["text"].splitlines()
    first = next(i for i, line in enumerate(lines) if re.search(r"\bH\b|\bR\b", line))
    assert "measurement model y = Hθ + d + ε" in lines[first] and "N(0, R)" in lines[first]


def test_a_diagonal_gaussian_derivation_writes_its_precision_s(printed):
    """VOGN and IVON advance the vector s; their justifications wrote S_t, the full matrix of other derivations."""
    for name in ("vogn", "ivon"):
        text = printed[f"recipe {name}"][1]["text"]
        assert "λₜ = (sₜ ⊙ mₜ, -1/2 sₜ)" in text and "s = -2λ₂ and m = λ₁ / s" in text, name
        assert "(Sₜ mₜ, -1/2 Sₜ)" not in text and "S = -2λ₂" not in text, name


def test_alpha_keeps_one_meaning(printed):
    """Where α is the prior precision (p₀ = N(0, α⁻¹I)), the decoupled step size is another letter: IVON printed
    α for the prior, then for the learning rate of the mean step (ρ → α)."""
    both = [label for label, (_, v) in printed.items() if "N(0, α⁻¹ I)" in v["text"] and "ρ → α" in v["text"]]
    assert not both
    assert "ρ → η" in printed["recipe ivon"][1]["text"] and "ρ → α" in printed["recipe adam"][1]["text"]


# -- 4. a numeric ρ keeps the textbook form ------------------------------------------------------------------------

def test_a_numeric_step_size_is_stated_once_and_the_update_keeps_rho(printed):
    """``rho=1/2``: the update reads ρ = 1/2, then S_{t+1} = (1 - ρ)S_t + ρ(…) (it was ½S_t + ½∇²ℓ(m_t) + ½αI)."""
    numeric = {label: (q, v) for label, (q, v) in printed.items() if q is not None
               and any(a.startswith("rho=") and a != "rho=1" for a in q.approximations)}
    assert len(numeric) >= 10
    for label, (q, v) in numeric.items():
        value = next(a for a in q.approximations if a.startswith("rho="))[4:]
        lines = [line.strip() for line in v["text update"].splitlines()[2:]]
        assert lines.count(f"ρ = {value}") == 1, (label, lines)
        new = [line for line in lines if "ₜ₊₁ =" in line]
        assert new and all("ρ" in line.partition(" = ")[2] for line in new), (label, new)
        if q.family in ("multivariate-gaussian", "diagonal-gaussian"):  # the precision, linear in λ₂
            assert any(re.match(r"[Ss]ₜ₊₁ = \(1 - ρ\) [Ss]ₜ \+ ρ", line) for line in new), (label, new)


# -- 5. sums before their summand, one sum for a sum ----------------------------------------------------------------

def test_sums_precede_their_summand_and_a_sum_is_one_sum(printed):
    """EM printed ``ℓ̄ᵢₖ Σₖ`` and ``Qₖ(θ) Σₖ``; mean field ``Σᵢ₌₁ᴺ - 1/2 E[log τ] + Σᵢ₌₁ᴺ 1/2 E[τ] μ² + …``."""
    for label, (_, v) in printed.items():
        for line in v["text"].splitlines():
            assert not re.search(r"\S Σₖ$", line), (label, line)  # a summand, then its sum sign
            assert line.count("Σᵢ₌₁ᴺ -") == 0, (label, line)
    em = printed["recipe em"][1]["text"]
    assert "ℓ̄ᵢ(θ, z) = Σₖ ℓ̄ᵢₖ" in em and "Q(θ) = Σₖ Qₖ(θ)" in em and "log(2 π)" in em
    vmp = printed["recipe vmp"][1]["text"]
    assert [line.count("Σᵢ₌₁ᴺ") for line in vmp.splitlines() if line.strip().startswith("E_(q_(∖")] == [1, 1]


# -- 6. line length ------------------------------------------------------------------------------------------------

#: the update rows still longer than 300 characters of LaTeX (measured 2026-12-07): non-conjugate expectations whose
#: natural gradients are not yet named or collected (issue #26's readability standard); none may be added
LONG_UPDATES = frozenset({
    "beta | theta**2 - log(theta) | rho=1/2", "gamma | exp(-theta) + 1/theta | no approximation",
    "dirichlet | sqrt(theta_1) | no approximation", "normal-gamma | default loss | stochastic",
    "von-mises | 3*sin(theta) - cos(theta + 2) | rho=1/2", "von-mises | 2*cos(theta - 1) | no approximation",
    "bernoulli | (theta - y)**2 | stochastic", "categorical | theta_1 - 2*theta_2 | no approximation",
    "bernoulli | 3*theta - 1 | no approximation", "normal-gamma | default loss | no approximation"})


def test_no_row_of_an_update_is_longer_than_300_characters_of_latex(printed):
    """Every recipe and every request of the support matrix but those listed: each row of the update's ``align*``
    (the equations broken between terms) holds at most 300 characters of LaTeX."""
    long = {label for label, (_, v) in printed.items()
            if max(len(row) for row in v["latex update"].split("\\\\\n")) > 300}
    assert long <= LONG_UPDATES, sorted(long - LONG_UPDATES)
    assert len(printed) - len(LONG_UPDATES) >= 120
