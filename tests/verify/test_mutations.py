"""Mutation test of the verification table: a wrong emitted step must fail its row's independent checks.

Two sources of wrong variants. :mod:`blrkit.verify.variants` makes them from each recipe's derivation (a rule
rewrites a SymPy right-hand side by the roles of its symbols: the sign of an oracle term, a dropped (1 − ρ), the
old state for the new, a count doubled, a term dropped, …; or an oracle node of the IR by its kind: draws not
scaled by Σ^{1/2}, an oracle at the mean for its Monte-Carlo average, one quadrature node, …) and prints them
with the same printer as the committed module; a seeded sample per recipe runs here (every one: ``python -m
blrkit.verify.variants``, and ``blrkit certify`` scores them all), and every recipe must get the basic ones (a sign
flipped, a dropped (1 − ρ) where its step decays a state, the old state for the new). The hand table
:data:`blrkit.verify.mutations.MUTATIONS` keeps regular expressions over the emitted text for what no rule
expresses; each of its entries runs here.

Each variant is put where the public driver imports the step, and the row of the table (which runs that driver)
must fail by an *independent* check: a failed freshness check (the same code twice) does not count.

If the emitted text changes (the derive layer prints differently), a pattern that no longer matches
fails :func:`test_each_mutation_matches`: update the pattern in :data:`~blrkit.verify.mutations.MUTATIONS`.
"""

import random
from dataclasses import replace

import pytest
import sympy as sp

from blrkit.derive import RECIPES
from blrkit.derive.derivation import Argument
from blrkit.derive.symbols import RHO
from blrkit.verify import variants as ir
from blrkit.verify import verify_row
from blrkit.verify.mutations import MUTATIONS, cases, mutant
from verify.rows import SMALL as SIZE
from verify.rows import cached_mutant, cached_row

#: the hand entries: what no rule of blrkit.verify.variants makes
CASES = cases()


def _ids(case):
    module, i = case
    return f"{module}: {MUTATIONS[module][3][i][0]}"


def test_the_hand_table_names_emitted_modules():
    """Every recipe gets its wrong variants from its derivation (test_variants_from_the_derivation); the hand table
    is optional (a new row needs no entry) and names only modules that a recipe emits."""
    assert set(MUTATIONS) <= {r.module for r in RECIPES.values()}


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_each_mutation_matches(case):
    _, count, changed = mutant(*case)
    assert count >= 1 and changed, f"the pattern of {_ids(case)!r} no longer matches the emitted text"


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_each_mutation_fails_an_independent_check(case, run_cache):
    ok, rows = cached_mutant(run_cache, *case)
    assert ok, [(r.name, r.message, [(c.counterpart, c.error) for c in r.checks]) for r in rows]
    assert all(r.status == "fail" for r in rows)


def test_the_unmutated_rows_pass(run_cache):
    """The rows the mutations break pass unmutated at the same size (the rows of tests/verify/test_rows.py)."""
    for module, (_, _, rows, _) in MUTATIONS.items():
        for name in rows:
            assert cached_row(run_cache, name, **SIZE).status == "pass", name


# -- variants made from the derivation (blrkit.verify.variants) ------------------------------------------------

#: variants of each recipe tested per run (the full set: ``python -m blrkit.verify.variants``, about 100 s)
PER_RECIPE = 1
#: the variants the full survey finds not rejected by an independent check (findings, reported; not sampled here):
#: recipe -> {variant: why}. GUARD: the row fails, but by the driver's own refusal (a ValueError naming the
#: non-finite or indefinite iterate) before any check runs; SHIFT: the rows pass, and the variant adds the same
#: number to every log-weight v_k, which softmax(v) (the mixture that q is) does not see.
GUARD, SHIFT = "the driver refuses the iterate before any check runs", "a shift of every v_k: softmax(v) unchanged"
NOT_KILLED = {
    "newton": {"sign of H in S_new": GUARD},
    "damped_newton": {n: GUARD for n in (
        "sign of H in S_new",
        "term rho*H dropped in S_new",
        "sign of term rho*H in S_new",
        "sign of term (1 - rho)*S in S_new",
        "term 1 dropped from 1 - rho in S_new",
    )},
    "kalman_update": {
        "-P_pred for P_pred in C": GUARD,
        "-R for R in C": GUARD,
        "sign of term obs_matrix*P_pred*obs_matrix.T in C": GUARD,
        "C for its inverse in K": GUARD,
    },
    "laplace": {n: GUARD for n in (
        "sign of H in S_new",
        "term rho*H dropped in S_new",
        "sign of term rho*H in S_new",
        "sign of term (1 - rho)*S in S_new",
        "term 1 dropped from 1 - rho in S_new",
    )},
    "diagonal_newton": {n: GUARD for n in (
        "sign of h in s_new",
        "sign of term s*(1 - rho) in s_new",
        "term 1 dropped from 1 - rho in s_new",
    )},
    "variational_newton": {n: GUARD for n in (
        "sign of E_H in S_new",
        "sign of term rho*E_H in S_new",
        "sign of term (1 - rho)*S in S_new",
        "term 1 dropped from 1 - rho in S_new",
    )},
    "beta_bernoulli": {n: GUARD for n in (
        "sign of y[i] in alpha_new",
        "y - 1 for y in alpha_new",
        "sign of term Sum(y[i], (i, 1, N)) in alpha_new",
        "N dropped in beta_new",
        "y + 1 for y in beta_new",
        "sign of term N - Sum(y[i], (i, 1, N)) in beta_new",
        "term N dropped from N - Sum(y[i], (i, 1, N)) in beta_new",
    )},
    "gamma_poisson": {n: GUARD for n in (
        "sign of y[i] in alpha_new",
        "sign of term Sum(y[i], (i, 1, N)) in alpha_new",
        "sign of term N in beta_new",
    )},
    "dirichlet_categorical": {n: GUARD for n in (
        "sign of y[i] in alpha_new",
        "y - 1 for y in alpha_new",
        "sign of term Sum(y[i], (i, 1, N)) in alpha_new",
    )},
    "gaussian_mean": {n: GUARD for n in (
        "noise_variance - 1 for noise_variance in S_new",
        "-noise_variance for noise_variance in S_new",
    )},
    "normal_gamma": {n: GUARD for n in (
        "sign of term N in kappa_new",
        "sign of term N/2 in alpha_new",
        "N dropped in beta_new",
        "y - 1 for y in beta_new",
        "y + 1 for y in beta_new",
        "-y for y in beta_new",
        "sign of term (N*kappa_0*m_0**2 + N*Sum(y[i]**2, (i... in beta_new",
    )},
    "multimodal": {n: SHIFT for n in (
        "sign of logdet_S_K in v_new",
        "sign of loss_m_K in v_new",
        "term -logdet_S_K dropped from logdet_S - logdet_S_K + 2*loss_m - 2*... in v_new",
        "term -2*loss_m_K dropped from logdet_S - logdet_S_K + 2*loss_m - 2*... in v_new",
        "factor logdet_S_K dropped from -logdet_S_K in v_new",
        "factor loss_m_K dropped from -2*loss_m_K in v_new",
    )},
    "ncvi": {n: SHIFT for n in (
        "sign of E_logq_K in v_new",
        "sign of E_loss_K in v_new",
        "term -E_logq_K dropped from E_logq - E_logq_K - E_loss_K + E_loss_k in v_new",
        "term -E_loss_K dropped from E_logq - E_logq_K - E_loss_K + E_loss_k in v_new",
        "factor E_logq_K dropped from -E_logq_K in v_new",
        "factor E_loss_K dropped from -E_loss_K in v_new",
    )},
    "vmp": {n: GUARD for n in (
        "sign of term E_tau_2*N in mu_S_new",
        "sign of term N/2 in tau_alpha_new",
        "y + 1 for y in tau_beta_new",
        "-y for y in tau_beta_new",
        "sign of term -(2*E_mu_1*Sum(y[i], (i, 1, N)) - E_m... in tau_beta_new",
        "term -Sum(y[i]**2, (i, 1, N)) dropped from 2*E_mu_1*Sum(y[i], (i, 1, N)) - E_mu_... in tau_beta_new",
    )},
    "vmp_regression": {n: GUARD for n in (
        "2 X for X in Xty",
        "2 y for y in Xty",
        "sign of term E_tau_2*XtX in w_S_new",
        "sign of XtX in w_S_new",
        "term Trace(y.T*y)/2 dropped in C_tau_1",
        "term Trace(XtX*w_m_new*w_m_new.T)/2 dropped in C_tau_1",
        "sign of term Trace(y.T*y)/2 in C_tau_1",
        "sign of term Trace(XtX*w_m_new*w_m_new.T)/2 in C_tau_1",
        "factor XtX dropped from XtX*w_m_new*w_m_new.T in C_tau_1",
        "sign of XtX in C_tau_1",
        "term Trace(y.T*y)/2 halved in C_tau_1",
        "term Trace(XtX*w_m_new*w_m_new.T)/2 halved in C_tau_1",
        "term -Trace(w_m_new.T*Xty) doubled in C_tau_1",
        "sign of term N/2 in tau_alpha_new",
        "sign of term C_tau_1 in tau_beta_new",
    )},
    "svi": {"term -S*noise_variance dropped from S*noise_variance*rho - S*noise_varian... in m_new": GUARD},
    "ogn": {n: GUARD for n in (
        "sign of h_gn_batch in s_new",
        "sign of term s*(1 - rho) in s_new",
        "term 1 dropped from 1 - rho in s_new",
        "s_new for its inverse in m_new",
    )},
    "vogn": {n: GUARD for n in (
        "sign of E_h_gn_batch in s_new",
        "sign of term s*(1 - rho) in s_new",
        "term 1 dropped from 1 - rho in s_new",
        "s_new for its inverse in m_new",
    )},
    "variational_newton_improved": {n: GUARD for n in (
        "term rho*E_H dropped in B",
        "term (1/2)*B*S**(-1)*B dropped in S_new",
        "S for its inverse in S_new",
        "sign of term (1/2)*S in S_new",
        "sign of term (1/2)*B*S**(-1)*B in S_new",
        "B for the whole update in S_new",
        "S_new for its inverse in m_new",
        "no S_new**(-1) in m_new",
    )},
    "vogn_improved": {n: GUARD for n in (
        "s for its inverse in s_new",
        "no 1/s in s_new",
        "sign of term s/2 in s_new",
        "sign of term b**2/(2*s) in s_new",
        "s_new for its inverse in m_new",
    )},
    "rmsprop": {n: GUARD for n in (
        "term v dropped in v_new",
        "term g_mean**2*rho dropped in v_new",
        "sign of term v in v_new",
        "sign of term g_mean**2*rho in v_new",
        "term sqrt(v_new) dropped from eps + sqrt(v_new) in m_new",
        "sign of v_new in m_new",
    )},
    "adam": {n: GUARD for n in (
        "term v dropped in v_new",
        "term g_mean**2*rho dropped in v_new",
        "sign of term v in v_new",
        "sign of term g_mean**2*rho in v_new",
        "term sqrt(v_new)/sqrt(1 - (1 - rho)**t) dropped from eps + sqrt(v_new)/sqrt(1 - (1 - rho)**t) in m_new",
        "term 1 dropped from 1 - (1 - rho)**t in m_new",
        "sign of v_new in m_new",
    )},
    "ivon": {n: GUARD for n in (
        "2 beta1 for beta1 in g_avg_new",
        "beta1 + 1 for beta1 in g_avg_new",
        "term beta1*g_avg doubled in g_avg_new",
        "rho dropped in h_avg_new",
        "sign of term h_avg*(1 - rho) in h_avg_new",
        "term h_avg*(1 - rho) doubled in h_avg_new",
        "h_hat for the whole update in h_avg_new",
        "rho dropped from h_hat*rho in h_avg_new",
        "rho dropped from rho**2*(h_avg - h_hat)**2/(2*(h_avg +... in h_avg_new",
        "2 beta1 for beta1 in m_new",
        "beta1 + 1 for beta1 in m_new",
        "term 1 dropped from 1 - beta1**t in m_new",
        "term m doubled in m_new",
        "theta not scaled by Σ^(1/2)",
        "m_new returned doubled",
        "h_avg_new returned doubled",
        "g_avg_new returned doubled",
    )},
    "ngvi_poisson": {n: GUARD for n in (
        "sign of E_H in S_new",
        "sign of term rho*E_H in S_new",
        "sign of term (1 - rho)*S in S_new",
        "term 1 dropped from 1 - rho in S_new",
        "S_new for its inverse in m_new",
        "no S_new**(-1) in m_new",
        "term m doubled in m_new",
        "m_new returned doubled",
    )},
}


def _small(name):
    return verify_row(name, **SIZE)


def _candidates(recipe):
    """The names of ``recipe``'s rewrites but the findings of :data:`NOT_KILLED`, in a seeded order."""
    chosen = [n for n in ir.names(recipe) if n not in NOT_KILLED.get(recipe, {})]
    random.Random(f"0 {recipe}").shuffle(chosen)
    return chosen


def test_the_rules_rewrite_by_role():
    """Each rule on a hand-written update (the expected rewrites written by hand, not by the rules): the decay
    (1 − ρ) is dropped, ρ is dropped outside it, the new precision becomes the old, an oracle term flips sign."""
    s, h, g, m, s_new = sp.symbols("s h g m s_new", positive=True)
    roles = ir.Roles(arguments={"m": Argument("m", "vector", ""), "s": Argument("s", "vector", "")},
                      targets=frozenset({"s_new"}), old={s_new: s})
    assert [e for _, e in ir.one_minus_rho(RHO * h + (1 - RHO) * s, roles)] == [RHO * h + s]
    assert [e for _, e in ir.rho(RHO * h + (1 - RHO) * s, roles)] == [h + (1 - RHO) * s]
    assert [e for _, e in ir.old_state(m - RHO * g / s_new, roles)] == [m - RHO * g / s]
    assert [e for _, e in ir.sign(m - RHO * g / s_new, roles)] == [m + RHO * g / s_new]  # g, not m, ρ or s_new
    assert [e for _, e in ir.fraction_doubled(s / 2 + h, roles)] == [s + h]


def test_the_new_rules_rewrite_by_role():
    """The rules that replaced hand entries, on hand-written updates (each expected rewrite written by hand): a
    hyperparameter's decay of an old state, Adam's bias correction, a term's sign, a term inside a product, a
    computed factor, a computed term's sign, a term doubled and halved, the update for a term it reads, ρ in one
    term; a rule that fired on the wrong symbol (ρ, a count, an argument) fails here."""
    b, g, a, v, lam0, dmu, x, c = sp.symbols("beta1 g_mean g_avg v lam_0 dmu x c")
    a_new, v_new = sp.symbols("g_avg_new v_new")
    t = sp.Symbol("t", integer=True)
    roles = ir.Roles(arguments={n: Argument(n, "scalar", "") for n in ("beta1", "g_avg", "v", "lam_0", "x")},
                     targets=frozenset({"g_avg_new", "v_new", "c"}), old={a_new: a, v_new: v})
    assert [e for _, e in ir.decay_dropped(b * a + (1 - b) * g, roles)] == [a + (1 - b) * g]
    assert ir.decay_dropped(b * g + x, roles) == []  # β times an oracle term: no old state decays
    assert [e for _, e in ir.bias_correction_dropped(a_new / (1 - b**t) + x, roles)] == [a_new + x]
    assert ir.bias_correction_dropped(a_new / (1 - b**x) + x, roles) == []  # x is no count
    assert {e for _, e in ir.term_sign(x - g, roles)} == {-x - g, x + g}
    assert {e for _, e in ir.inner_term_dropped(RHO * (lam0 - dmu) + x, roles)} == {-RHO * dmu + x, RHO * lam0 + x}
    assert {e for _, e in ir.factor_dropped(x - RHO * g * c, roles)} == {x - RHO * c, x - RHO * g}
    assert [e for _, e in ir.computed_sign(x - RHO * a_new + g, roles)] == [x + RHO * a_new + g]  # not g, x, ρ
    assert {e for _, e in ir.term_scaled(x / 2 + g, roles)} == {x + g, x / 4 + g, x / 2 + 2 * g, x / 2 + g / 2}
    assert [e for _, e in ir.computed_for_update(c**2 / x + x / 2, roles)] == [c]
    assert {e for _, e in ir.rho_in_a_term(g**2 * RHO - RHO * v + v, roles)} == {g**2 - RHO * v + v,
                                                                                g**2 * RHO - v + v}


def test_the_node_rules_rewrite_by_role():
    """Each rule over the IR's oracle nodes on hand-written nodes (the expected rewrites written by hand): the draws
    unscaled, the precision for its Cholesky factor, an averaged oracle at the draws' mean, a draw dropped from an
    oracle's point, no binarisation, one quadrature node; a node of another kind is left alone."""
    from blrkit.derive import ir as nodes

    m, z, e, sd = sp.symbols("m z_mask eps slab_sd")
    chol, draw = nodes.Cholesky("L", "S"), nodes.Sample("eps", "normal", "m")
    theta = nodes.Reparameterise("theta", "m", "eps", "cholesky", "L")
    steps = (chol, draw, theta)
    assert ir.samples_unscaled(theta, steps) == [("theta not scaled by Σ^(1/2)",
                                                  nodes.Reparameterise("theta", "m", "eps", "identity"))]
    assert [n for _, n in ir.scale_for_its_factor(theta, steps)] == [
        nodes.Reparameterise("theta", "m", "eps", "cholesky", "S")]
    call = nodes.OracleCall(("E_H",), "hess", sp.Symbol("theta"), average=True)
    assert [n for _, n in ir.oracle_at_the_mean(call, steps)] == [nodes.OracleCall(("E_H",), "hess", m)]
    assert ir.oracle_at_the_mean(nodes.OracleCall(("g",), "grad", m), steps) == []
    mask = nodes.Sample("z_mask", "bernoulli", "m", draws=None, prob="keep_prob")
    point = sp.Mul(z, sp.Add(m, sp.Mul(sd, e, evaluate=False), evaluate=False), evaluate=False)
    noisy = nodes.OracleCall(("g",), "grad_batch", point)
    assert {str(n.at) for _, n in ir.draw_dropped_at_the_oracle(noisy, (mask, draw))} == {
        str(sp.Add(m, sp.Mul(sd, e))), str(z * m)}
    assert [n for _, n in ir.no_binarisation(nodes.Sign("w", "lam"), ())] == [nodes.Alias("w", "lam")]
    assert [n.n for _, n in ir.one_quadrature_node(nodes.Quadrature(100, "S"), ())] == [1]
    soft = nodes.Responsibilities("r", "lam", "log_norm")
    assert [n for _, n in ir.normaliser_dropped(soft, ())] == [nodes.Responsibilities("r", "lam", "log_norm",
                                                                                       normalised=False)]
    assert ir.normaliser_dropped(nodes.Responsibilities("r", "lam", "log_norm", normalised=False), ()) == []
    diagonal = nodes.Reparameterise("theta", "m", "eps", "diagonal", "s")
    assert [n for _, n in ir.variance_for_sd(diagonal, ())] == [
        (nodes.Let("s_squared", sp.Symbol("s") ** 2), nodes.Reparameterise("theta", "m", "eps", "diagonal",
                                                                           "s_squared"))]
    assert ir.variance_for_sd(theta, steps) == []  # a Cholesky factor: not a diagonal precision
    assert all(rule(chol, steps) == [] for rule in ir.NODE_RULES.values())


def test_a_rewrite_that_changes_nothing_is_not_wrong():
    """``m − ρg`` written as ``m − ρg/2 − ρg/2`` prints other code but is the same step: :func:`difference` says
    "same" (the check of a variant's wrongness fails on an algebraically identical one), and the sign flip is
    "wrong"."""
    d = RECIPES["gradient_descent"].derive()
    (a,) = d.assignments
    m, g = (next(s for s in a.expr.free_symbols if s.name == n) for n in ("m", "g"))
    same = replace(a, expr=sp.MatAdd(m, sp.MatMul(-RHO / 2, g), sp.MatMul(-RHO / 2, g), evaluate=False))
    calls = ir.recorded_calls("gradient_descent", _small, limit=3)
    assert calls
    for expr, verdict in ((same.expr, "same"), (a.expr.xreplace({g: -g}), "wrong")):
        mutated = replace(d, assignments=(replace(a, expr=expr),))
        v = ir.Variant("gradient_descent", "test", "test", mutated, mutated.emit(recipe="gradient_descent"))
        assert v.source != d.emit(recipe="gradient_descent")
        assert ir.difference(v, calls) == verdict


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_variants_from_the_derivation(recipe):
    """The variants the rules make of ``recipe``'s derivation: at least 3 rewrites; a seeded sample of those that
    change the step's output on the inputs the unmutated row's driver passes it is rejected by an independent check
    of the row; each entry of the hand table marked :data:`~blrkit.verify.mutations.REPRODUCED` gives the outputs of its
    variant on those inputs, and not the original's (an entry its variant does not reproduce fails this)."""
    made = ir.names(recipe)
    assert len(made) >= 3, made
    assert set(NOT_KILLED.get(recipe, {})) <= set(made), "a finding of NOT_KILLED is no rewrite now"
    calls = ir.usable(recipe, ir.recorded_calls(recipe, _small))  # the unmutated rows' inputs to the step
    assert calls, f"no driver of {recipe}'s rows called its step"
    tested = []
    for name in _candidates(recipe):
        v = ir.variant(recipe, name)
        if v is None or ir.difference(v, calls) != "wrong":  # the original's code or step, or a printing artefact
            continue
        ok, rows = ir.killed(v, _small)
        assert ok, (v.name, [(r.name, r.message, [(c.counterpart, c.error) for c in r.checks]) for r in rows])
        tested.append(v.name)
        if len(tested) == PER_RECIPE:
            break
    assert len(tested) == PER_RECIPE, tested


def _decays(expr, old) -> bool:
    """Whether ``expr`` (a new state's right-hand side) decays the old state ``old`` by (1 − ρ): it is ``old``
    at ρ = 0 and free of it at ρ = 1 (the convex combination (1 − ρ)x + ρ(…) of the BLR), read by substitution,
    not by the rules."""
    at0, at1 = expr.subs(RHO, 0).doit(), expr.subs(RHO, 1).doit()
    same = at0 == old or _is_zero(at0 - old)
    return bool(same) and not at1.has(old)


def _is_zero(x) -> bool:
    """Whether ``x`` expands to 0 (no ``simplify``: on the rational updates of SVI it takes a minute; a decay
    dropped from a polynomial update expands to 0)."""
    x = sp.expand(x.doit())
    return bool(x.is_ZeroMatrix) if x.is_Matrix else x == 0


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_every_recipe_gets_the_basic_variants(recipe):
    """The rules give every recipe a sign flipped; where the step has states, the old state for a new one (in an
    assignment, or returned); where it decays a state x by (1 − ρ), a rewrite of that assignment that differs from
    the original by exactly ρx (the decay dropped: checked on the expressions, not on the rule's name). Fails on a
    rule table without ``sign``, ``old state``/``old state returned``, or both ``one minus rho`` and ``term
    dropped``."""
    d = RECIPES[recipe].derive()
    made = ir.rewrites(recipe)
    rules = {rule for _, rule, _ in made}
    assert rules & {"sign", "hyperparameter sign"}, rules
    roles = ir.roles(d)
    if roles.old:
        assert rules & {"old state", "old state returned"}, rules
    original = {a.target: a.expr for a in d.assignments}
    decayed = {a.target for a in d.assignments if a.target in roles.old and _decays(a.expr, roles.old[a.target])}
    if decayed:
        assert any(a.target in decayed and a.expr != original[a.target]
                   and _is_zero(a.expr - original[a.target] - RHO * roles.old[a.target])
                   for _, _, m in made for a in m.assignments), (recipe, decayed)
