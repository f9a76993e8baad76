"""Certificates: every Table 1 row's is produced and re-checked; an edited one is reported as not holding."""

import copy
import json

import pytest

import blrkit.reverse.certificate as certificate_module
from blrkit.reverse.certificate import SIZE, certificate, check, latex, write
from blrkit.verify import CHECKS, Check, table_1_recipes
from blrkit.verify import variants as ir
from blrkit.verify.mutations import MUTATIONS, cases
from verify.rows import SMALL, cached_derived, cached_mutant
from verify.test_mutations import NOT_KILLED

ROWS = sorted(table_1_recipes())
_REJECTED, _DERIVED = certificate_module.mutant_rejected, certificate_module.derived_verdicts
#: the rows whose certificates here score every variant made from the derivation (about 2 s of CPU for the three);
#: the derived score of every row is the survey of ``python -m blrkit.verify.variants`` (about 100 s, NCVMP's
#: 40 s), so the others' certificates here score their hand entries only
SCORED = ("gradient_descent", "newton", "rmsprop")


@pytest.fixture(scope="module", autouse=True)
def shared_mutants(run_cache):
    """The certificates' mutant verdicts read from the run's cache: the same ``killed`` calls at the same size and
    seed as tests/verify/test_mutations.py (which asserts each hand entry is rejected), computed once per run;
    the derived variants of the rows of :data:`SCORED` (computed once per run), none of the others'."""
    assert {**SIZE, "seed": 0} == SMALL
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(certificate_module, "mutant_rejected",
                   lambda module, i, seed: cached_mutant(run_cache, module, i)[0] if seed == 0
                   else _REJECTED(module, i, seed))
        mp.setattr(certificate_module, "derived_verdicts",
                   lambda recipe, seed: (cached_derived(run_cache, recipe) if recipe in SCORED else ())
                   if seed == 0 else _DERIVED(recipe, seed))
        yield


@pytest.fixture(scope="module")
def certificates():
    """One certificate per Table 1 row, made once for the module."""
    return {name: certificate(name) for name in ROWS}


def test_every_table_1_row_is_certified_and_holds(certificates):
    for name, cert in certificates.items():
        assert cert["holds"], (name, [c for c in cert["checks"] if c["passed"] is False])
        assert any(c["independent"] and c["passed"] for c in cert["checks"]), name
        assert len(cert["code"]["sha256"]) == 64


def test_every_table_1_certificate_has_its_mutation_score(certificates):
    """Each Table 1 row's score lists its hand entries (counted independently: the table of mutations), each
    rejected (tests/verify/test_mutations.py requires it of the live checks); the rows of :data:`SCORED` list the
    variants made from their derivation, each a rewrite the rules make, labelled with its rule, and every one
    rejected but the findings of NOT_KILLED (tests/verify/test_mutations.py)."""
    for name, cert in certificates.items():
        score = cert["mutation_score"]
        hand = [v for v in score["variants"] if v["source"] == "hand"]
        assert [v["name"] for v in hand] == [MUTATIONS[m][3][i][0] for m, i in cases(name)], name
        assert all(v["verdict"] == "rejected" for v in hand), (name, hand)
        derived = [v for v in score["variants"] if v["source"] != "hand"]
        assert score["total"] == len(hand) + len(derived), name
        assert score["killed"] == sum(v["verdict"] == "rejected" for v in score["variants"]), name
        if name not in SCORED:
            continue
        made = {n: rule for n, rule, _ in ir.rewrites(name)}
        assert len(derived) >= 5, (name, derived)
        assert all(v["source"] == f"derived: {made[v['name']]}" for v in derived), (name, derived)
        assert {v["name"] for v in derived if v["verdict"] != "rejected"} == set(NOT_KILLED.get(name, {})), name
        assert set(score["survivors"]) == set(NOT_KILLED.get(name, {})), name


def test_checks_that_check_nothing_score_zero(monkeypatch):
    """A row whose live check is a no-op (an 'independent' counterpart that always passes) holds, but rejects no
    wrong variant, derived or hand-written: its score is 0 of the total, and every variant is named a survivor."""
    monkeypatch.setattr(certificate_module, "mutant_rejected", _REJECTED)  # computed now, not the run's cache
    monkeypatch.setattr(certificate_module, "derived_verdicts", _DERIVED)
    monkeypatch.setitem(CHECKS, "gradient_descent", lambda problem, recipe: [Check("nothing", 0.0, 1e-10, True)])
    score = certificate_module.mutation_score("gradient_descent", 0)
    assert score["total"] >= 5 and score["killed"] == 0
    assert len(score["survivors"]) == score["total"]
    assert {v["source"] for v in score["variants"]} >= {"derived: sign", "derived: rho"}


def test_a_wrong_committed_step_does_not_hold(certificates):
    """With a wrong step committed (the variant 'sign of g in m_new' installed where the driver imports it), the
    row's certificate does not hold, and the certificate written for the right step no longer holds on re-check:
    its checks fail there."""
    good = certificates["gradient_descent"]
    wrong = ir.variant("gradient_descent", "sign of g in m_new")
    with ir.installed(wrong):
        cert = certificate("gradient_descent")
        verdict = check(json.loads(json.dumps(good)))
    assert not cert["holds"]
    assert any(c["passed"] is False and c["independent"] for c in cert["checks"])
    assert not verdict.holds and any("fails here" in p for p in verdict.problems), verdict.problems


def test_an_edited_mutation_score_does_not_hold(certificates):
    cert = copy.deepcopy(certificates["rmsprop"])
    cert["mutation_score"]["killed"] -= 1
    cert["mutation_score"]["survivors"].append(cert["mutation_score"]["rejected"].pop())
    from blrkit.reverse.certificate import _digest

    cert["digest"] = _digest({k: v for k, v in cert.items() if k != "digest"})  # a careful forger re-digests
    verdict = check(cert)
    assert not verdict.holds and any("mutation score" in p for p in verdict.problems), verdict.problems


def test_every_table_1_certificate_rechecks(certificates):
    for name, cert in certificates.items():
        verdict = check(json.loads(json.dumps(cert)))  # as read back from its file
        assert verdict.holds, (name, verdict.problems)


def test_an_edited_number_does_not_hold(certificates):
    cert = copy.deepcopy(certificates["newton"])
    ran = next(c for c in cert["checks"] if isinstance(c["error"], float))
    ran["error"] = ran["error"] + 0.5 * ran["tolerance"]  # still below the tolerance: only the edit is wrong
    verdict = check(cert)
    assert not verdict.holds
    assert any("digest" in p for p in verdict.problems)
    assert any("not reproduced" in p for p in verdict.problems)


def test_an_edited_hash_does_not_hold(certificates):
    cert = copy.deepcopy(certificates["rmsprop"])
    cert["code"]["sha256"] = "0" * 64
    from blrkit.reverse.certificate import _digest

    cert["digest"] = _digest({k: v for k, v in cert.items() if k != "digest"})  # a careful forger re-digests
    verdict = check(cert)
    assert not verdict.holds and any("SHA-256" in p for p in verdict.problems), verdict.problems


def test_identified_update_certificate_and_files(tmp_path):
    cert = certificate("rmsprop", update="v_new = b2*v + (1 - b2)*g**2; m_new = m - lr*g/(sqrt(v_new) + eps)",
                       roles={"state": ["m", "v"], "gradient": ["g"], "hyperparameters": ["lr", "b2", "eps"]})
    assert cert["holds"] and cert["identity"]["parameters"]["rho"] == "1 - b2"
    assert cert["identity"]["residuals"] == {"m": "0", "v": "0"}
    assert cert["identity"]["numeric"]["passed"]
    files = write(cert, tmp_path / "rmsprop.json")
    assert files[0].exists() and files[1].suffix == ".tex"
    tex = files[1].read_text()
    assert tex.startswith(r"\documentclass") and "1 - b2" in tex and tex.rstrip().endswith(r"\end{document}")
    assert check(files[0]).holds


def test_bad_recipe_and_file(tmp_path):
    with pytest.raises(ValueError, match="recipe: 'adamw' is not a recipe"):
        certificate("adamw")
    bad = tmp_path / "x.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="cannot read a certificate"):
        check(bad)
    assert not check({"format": "something else"}).holds
    assert latex(certificate("gradient_descent")).count(r"\begin{document}") == 1
