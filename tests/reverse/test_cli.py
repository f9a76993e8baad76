"""The identify and certify subcommands: exit status and one-line errors."""

import json

from blrkit.cli import main


def test_identify_instance_and_not(capsys):
    assert main(["identify", "m_new = m - lr*g", "--state", "m", "--gradient", "g"]) == 0
    assert "rho = lr" in capsys.readouterr().out
    assert main(["identify", "m_new = m + lr*g*g", "--state", "m", "--gradient", "g"]) == 1
    assert "not an instance" in capsys.readouterr().out


def test_identify_bad_input_is_a_usage_error(capsys):
    assert main(["identify", "m_new = m - lr*grad(g)", "--state", "m"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("blrkit: error: update: 'grad' is not a known function") and "\n" not in err


def test_certify_writes_and_checks(tmp_path, capsys):
    out = tmp_path / "gd.json"
    assert main(["certify", "gradient_descent", "-o", str(out), "--update", "m_new = m - lr*g",
                 "--state", "m", "--gradient", "g"]) == 0
    assert out.exists() and out.with_suffix(".tex").exists()
    cert = json.loads(out.read_text())
    ms = cert["mutation_score"]  # the printed score is the one the certificate records
    assert ms["total"] > 0 and f"reject {ms['killed']} of {ms['total']} wrong variants" in capsys.readouterr().out
    assert main(["certify", "--check", str(out)]) == 0
    cert["identity"]["parameters"]["rho"] = "2*lr"
    out.write_text(json.dumps(cert))
    assert main(["certify", "--check", str(out)]) == 1
    assert "does not hold" in capsys.readouterr().out
    assert main(["certify"]) == 2
