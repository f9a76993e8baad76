"""Every derivation reads like the paper (issue #26): what it prints is true of it, and its plain text is text.

The views of the support matrix's derivations come from the run's cache of its rows (``Row.printed``, filled by
``blrkit.derive.support.run``): the 111 requests are derived once per run, by whichever test asks first. The
recipes' and examples' views come from the print-order test's first derivation of them (``fresh_prints``,
tests/derive/conftest.py): nothing here derives them again.
"""

import re

import numpy as np
import pytest

from blrkit.derive import derive
from blrkit.derive.support import Request, arguments, family_object



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
            if lhs == "E_qₜ[ℓ(θ)]":  # the closed-form part first, then the part left to Monte Carlo
                assert rhs.endswith("E_qₜ[f(θ)]"), (label, line)
        assert re.search(r"^\s+f\(θ\) = ", text, re.M), label
        # the estimator, K its sample size, with its control variate bₖ stated where it is used
        assert re.search(r"≈ F\(λₜ\)⁻¹ 1/K Σₖ₌₁ᴷ \(f\(θₖ\) - bₖ\)", text), label
        assert "the control variate bₖ, the mean of f over the other K - 1 draws" in text, label
        assert "f_mc" not in text, label


# -- 2. plain text is free of LaTeX ------------------------------------------------------------------------------

#: command names that print as the word itself (operators), or are English words prose may use
WORDS = {"log", "exp", "sin", "cos", "tan", "sinh", "cosh", "tanh", "det", "min", "max", "ln", "arg", "tr", "in", "to",
         "sum", "left", "right", "top", "mid", "text", "dot", "bar", "hat", "sim", "le", "ge", "ne", "big", "Big", "star",
         "circ", "colon", "quad", "partial", "Delta", "not", "int", "vec", "cdot", "approx"}
#: the leaks the issue quotes, as they printed
QUOTED = ("logPhi", "varphi", "sqrtsₜ", "sqrtrate", "prodᵢ", "langleη", "Lₜ^-ᵀ", "S_K,t", "E_q_K")
#: a script of several symbols left unbracketed (S_K,t, E_q_K), a superscript minus (L^-ᵀ), or a fraction in a
#: superscript ((2σᵢ²)^1/2 reads as ((2σᵢ²)¹)/2)
SCRIPT = re.compile(r"[_^][^\s()\[\]]*[_^,]\S|[_^]-|\^\d+/\d")


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
                 "rateₜ₊₁ = sqrtrate", "E_q[f(ηᵢ)] ≈ π^(-1/2) Σₖ wₖ f(η̄ᵢ + (2σᵢ²)^1/2 zₖ)"):
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


def test_a_power_prints_as_a_power(printed):
    """e^(c log x) of a positive x prints as x^c, powers of one base collected: the Poisson rate printed
    rateₜ e^(-ρ ∇_μ₁ E_qₜ[ℓ(θ)]) e^(-ρ log(rateₜ)) e^(ρ log(rate₀))."""
    text = printed["poisson | theta + exp(-theta) | no approximation"][1]["text update"]
    assert "rateₜ₊₁ = rateₜ^(1 - ρ) rate₀^ρ e^(-ρ ∇_μ₁ E_qₜ[ℓ(θ)])" in text
    for label, (_, v) in printed.items():
        assert not re.search(r"e\^\(-?ρ log\((rate|β|α|κ|ν)", v["text"]), label


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
        # the rows that advance a parameter (a map back from λₜ₊₁, printed after a natural-parameter update, has
        # its ρ in the λₜ₊₁ it reads)
        new = [line for line in lines if "ₜ₊₁ =" in line and "ₜ₊₁" not in line.partition(" = ")[2]]
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


def test_the_em_update_alone_holds_its_e_step_and_statistics(printed):
    """Printed alone, EM's update read πₖ,ₜ₊₁ = Nₖ/N, mₖ,ₜ₊₁ = sₖ/Nₖ, … with Nₖ, sₖ, Cₖ (and rᵢₖ, λᵢₖ) never
    defined: now the E-step and the statistics come first, each defined in a row above its first use."""
    rows = [line.strip().partition(" = ") for line in printed["recipe em"][1]["text update"].splitlines()[2:]]
    lhs = [left for left, _, _ in rows]
    assert lhs[:6] == ["λᵢₖ", "Zᵢ", "rᵢₖ", "Nₖ", "sₖ", "Cₖ"] and lhs[6] == "πₖ,ₜ₊₁", lhs
    assert rows[3][2] == "Σᵢ₌₁ᴺ rᵢₖ" and rows[5][2] == "Σᵢ₌₁ᴺ rᵢₖ xᵢ xᵢᵀ"
    for i, (_, _, rhs) in enumerate(rows):
        used = set(re.findall(r"λᵢₖ|Zᵢ|rᵢₖ|Nₖ|sₖ|Cₖ", rhs))
        assert used <= set(lhs[:i]), (lhs[i], used - set(lhs[:i]))


# -- 6. line length, and what the long rows became -------------------------------------------------------------

#: the longest row of an update a plain article holds, in characters of LaTeX (issue #26's readability standard)
LONGEST_ROW = 300


def test_no_row_of_an_update_is_longer_than_300_characters_of_latex(printed):
    """Every recipe and every request of the support matrix: each row of the update's ``align*`` (the equations
    broken between terms) holds at most 300 characters of LaTeX. Before, 10 updates did not (315 to 3,873): the
    non-conjugate natural gradients (now named: the expectations, their λ-derivatives, F(λ_t) and F⁻¹ by entries)
    and the conjugate updates whose map back is not affine (now in natural parameters first, then mapped back)."""
    long = {label: max(len(row) for row in v["latex update"].split("\\\\\n")) for label, (_, v) in printed.items()}
    assert not {label: n for label, n in long.items() if n > LONGEST_ROW}
    assert len(long) >= 130


def _named_objects_in_order(printed_update: str) -> list:
    """The left-hand sides of the update's rows (its text, one equation a line)."""
    return [line.strip().partition(" = ")[0] for line in printed_update.splitlines()[2:]]


def test_each_named_object_is_defined_before_its_use(printed):
    """F₁₂, det F, [F⁻¹]₁₁, ∂_λ₁ E_qₜ[θ²], E_qₜ[θ²], ᾱₜ, λ₁,ₜ₊₁: no right-hand side uses a name a later row defines."""
    names = re.compile(r"\[F⁻¹\][₀-₉]+|F[₀-₉]{2}|det F|∂_λ[₀-₉] E_qₜ\[[^]]*\]|E_qₜ\[(?!ℓ)[^]]*\]|ᾱₜ|λ[₀-₉],ₜ₊₁")
    named = 0
    for label, (_, v) in printed.items():
        lines = [line.strip().partition(" = ") for line in v["text update"].splitlines()[2:]]
        for i, (lhs, _, rhs) in enumerate(lines):
            later = {l for l, _, _ in lines[i:]} - {l for l, _, _ in lines[:i]}
            used = set(names.findall(rhs))
            assert not used & later, (label, lhs, used & later)
            named += bool(names.fullmatch(lhs))
    assert named >= 100


#: one request of each printed structure: F and F⁻¹ by entries with ρ (K = 2, and K = 3 with ᾱ), natural parameters
#: first (softmax, and a minibatch sum over data), and the inverse Gaussian's two square roots printed as one
STRUCTURES = (Request("beta", "theta**2 - log(theta)", "default", ("rho=1/2",)),
              Request("dirichlet", "sqrt(theta_1)", "default", ()),
              Request("categorical", "theta_1 - 2*theta_2", "default", ()),
              Request("bernoulli", "(theta - y)**2", "default", ("stochastic",)),
              Request("inverse-gaussian", "y*theta + 1/theta", "default", ()))


def printed_step(d):
    """The update as printed (``d.update``), evaluated row by row with SymPy's numbers: each named object
    (E_qₜ[θ²], F₁₂, [F⁻¹]₁₁, λ₁,ₜ₊₁, …) takes the value of its own row, and the outputs are returned in the order of
    the emitted step's. Shares nothing with the emitted code but the equations."""
    import sympy as sp

    from blrkit.derive.conjugate import M_BATCH, N_DATA, N_OBS

    def step(**kw):
        y = np.asarray(kw.get("y", np.zeros(0)), dtype=float)
        known = {N_OBS.name: len(y), M_BATCH.name: len(y), N_DATA.name: kw.get("n_data", len(y))}  # by name
        for name, value in kw.items():
            if np.ndim(value) == 0:
                known[name] = float(value)
            elif name != "y":  # a vector parameter: its components alpha_1, …; a vector prior alpha_1_0, …
                base, prior = (name[:-2], "_0") if name.endswith("_0") else (name, "")
                known |= {f"{base}_{k + 1}{prior}": float(v) for k, v in enumerate(value)}

        def number(e):
            e = e.replace(lambda x: isinstance(x, sp.Sum), lambda x: sp.Add(*[
                x.function.xreplace({x.limits[0][0]: i}).replace(
                    lambda z: isinstance(z, sp.Indexed), lambda z: sp.Float(y[int(z.indices[0]) - 1]))
                for i in range(1, len(y) + 1)]))
            return sp.N(e.xreplace({s: sp.Float(known[s.name]) for s in e.free_symbols if s.name in known}), 30)

        for eq in d.update:
            value = number(eq.rhs)
            assert not value.free_symbols, (eq.lhs, value.free_symbols)  # every name is defined above its use
            known[eq.lhs.name] = float(value)
        out = []
        for o in d.outputs:  # a vector output alpha_new gathers alpha_1_new, alpha_2_new, …
            parts = sorted(n for n in known if n.startswith(o.name[:-4] + "_") and n.endswith("_new"))
            out.append(known[o.name] if o.name in known else np.array([known[n] for n in parts]))
        return tuple(out) if len(out) > 1 else out[0]

    return step


@pytest.mark.parametrize("request_", STRUCTURES, ids=[r.label for r in STRUCTURES])
def test_the_printed_update_with_its_named_objects_substituted_is_the_emitted_step(request_):
    """The printed update, each named object replaced by its own row's value, equals the emitted step (the one the
    support matrix certifies against a numeric BLR step) at random states, priors, ρ and data, to 1e-9."""
    from blrkit.derive.support import family_object

    d = derive(*arguments(request_), rule=request_.rule)
    emitted, shown = d.compile(), printed_step(d)
    family = family_object(request_.family)
    rng = np.random.default_rng(26)
    names = {a.name for a in d.arguments}
    for _ in range(3):
        state, prior = family.example(rng), family.example(rng)
        kw = {n: v for n, v in state.items() if n in names} | {f"{n}_0": v for n, v in prior.items() if f"{n}_0" in names}
        kw |= {"rho": float(rng.uniform(0.2, 0.9))} if "rho" in names else {}
        kw |= {"y": rng.integers(0, 2, 4).astype(float)} if "y" in names else {}
        kw |= {"n_data": 10} if "n_data" in names else {}
        want, got = emitted(**kw), shown(**kw)
        want, got = (want, got) if isinstance(want, tuple) else ((want,), (got,))
        for w, g in zip(want, got, strict=True):
            assert np.allclose(np.asarray(g, float), np.asarray(w, float), rtol=1e-9, atol=0), (request_.label, w, g)


