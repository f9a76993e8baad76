"""Certificates: every Table 1 row's is produced and re-checked; an edited one is reported as not holding."""

import copy
import json

import pytest

from blrkit.reverse.certificate import certificate, check, latex, write
from blrkit.verify import table_1_recipes

ROWS = sorted(table_1_recipes())


@pytest.fixture(scope="module")
def certificates():
    """One certificate per Table 1 row, made once for the module."""
    return {name: certificate(name) for name in ROWS}


def test_every_table_1_row_is_certified_and_holds(certificates):
    for name, cert in certificates.items():
        assert cert["holds"], (name, [c for c in cert["checks"] if c["passed"] is False])
        assert any(c["independent"] and c["passed"] for c in cert["checks"]), name
        assert len(cert["code"]["sha256"]) == 64


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
