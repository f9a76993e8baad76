"""``blrkit families``: every family listed with its parameters and passing live identity checks."""

from cli._run import run_blrkit

from blrkit.cli import main
from blrkit.families import FAMILIES


def test_families_command_lists_and_checks_every_family():
    # in this process (cli/_run.py): `python -m blrkit.cli` in a process of its own is test_help_and_entry's
    rc, text, err = run_blrkit("families")
    assert rc == 0, err
    for key, factory in FAMILIES.items():
        q = factory()
        assert f"{q.name}  [{key}]" in text
    assert text.count("mu = grad A: pass") == len(FAMILIES)
    assert text.count("round trip: pass") == len(FAMILIES)
    assert "FAIL" not in text and text.rstrip().endswith("all checks passed")
    assert "lambda_1 = S*m; lambda_2 = -S/2" in text
    assert max(len(line) for line in text.splitlines()) <= 100


def test_families_command_selected_keys_and_unknown_key(capsys):
    assert main(["families", "beta"]) == 0
    assert "Beta  [beta]" in capsys.readouterr().out
    assert main(["families", "no-such-family"]) == 2
    assert "unknown family key" in capsys.readouterr().err
