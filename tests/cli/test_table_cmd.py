"""``blrkit table``: every recipe is a live row; formats parse; exit status 0/1/2; progress on stderr."""

import json

import pytest
from cli._run import assert_usage_error, run_blrkit

from blrkit import cli, table
from blrkit.derive import RECIPES

FIELDS = {"name", "title", "section", "family", "approximations", "implemented", "table_1", "counterparts",
          "verified", "max_error", "derive_seconds", "check_seconds", "status", "message", "group"}


@pytest.fixture(scope="module")
def full_json():
    """The whole table once, as JSON (the slowest call of these tests)."""
    return run_blrkit("table", "--format", "json")


def test_json_has_every_recipe_and_the_whole_map(full_json):
    rc, out, err = full_json
    rows = json.loads(out)
    assert all(set(r) == FIELDS for r in rows)
    by_name = {r["name"]: r for r in rows}
    assert set(RECIPES) <= set(by_name)
    for name in RECIPES:
        r = by_name[name]
        assert r["implemented"] and r["counterparts"] and r["derive_seconds"] >= 0
        assert {"counterpart", "error", "unit", "tolerance", "independent", "status", "note"} == set(r["counterparts"][0])
    not_yet = [r for r in rows if not r["implemented"]]
    assert not_yet == []  # every row of Table 1 is implemented
    # at the default size every row passes, so the exit status (the verdict of the implemented rows) is 0
    assert [r["name"] for r in rows if r["status"] != "pass"] == [] and rc == 0, err
    assert "rows checked in" in err and f"[1/{len(RECIPES)}]" in err


def test_every_row_is_a_real_check(full_json):
    """Every row, the Duality section's included, passes at the default size by at least one independent
    counterpart, every check that ran within its tolerance."""
    rows = json.loads(full_json[1])
    assert {r["name"] for r in rows if r["group"] == "Duality"} == set(table.SECTION_ROWS)
    for r in rows:
        assert r["status"] == "pass", (r["name"], r["message"])
        ran = [c for c in r["counterparts"] if c["status"] != "skipped"]
        assert any(c["independent"] for c in ran) and r["verified"], r["name"]
        assert all(c["error"] <= c["tolerance"] for c in ran), r["name"]


def test_terminal_is_aligned_within_100_columns():
    rc, out, err = run_blrkit("table", "--rows", "gaussian_mean,sgd,dirichlet_categorical")
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["Algorithm", "Sec."]
    assert max(len(line) for line in lines) <= 100
    assert "Conjugate Bayes" in out and "classical.conjugate" in out and "pass" in out
    # words are wrapped whole (after a space, hyphen or dash), and the columns are explained
    assert "categorical)" in out and "categor\n" not in out
    text = " ".join(out.split())
    assert "Derive: the seconds SymPy took" in text and "fresh = a freshness check" in text
    assert "not yet" not in out  # --rows implies the implemented rows only


def test_markdown_latex_and_implemented():
    rc, out, _ = run_blrkit("table", "--rows", "gaussian_mean", "--format", "markdown", "--quiet")
    assert rc == 0
    lines = out.splitlines()
    assert lines[0].startswith("| Algorithm |") and set(lines[1]) <= set("|-")
    rc, out, err = run_blrkit("table", "--rows", "sgd", "--format", "latex", "--quiet")
    assert rc == 0 and err == ""
    body = "\n".join(line for line in out.splitlines() if not line.startswith("%"))
    # a whole pdflatex document (issue #25; tests/cli/test_table_formats.py compiles it)
    assert body.lstrip().startswith(r"\documentclass") and out.rstrip().endswith(r"\end{document}")
    assert r"\usepackage{booktabs,longtable,array}" in out  # the rules and page breaks need them
    assert r"$^\dagger$" in out  # the independent counterparts are marked
    assert r"\texttt{gaussian-fixed-covariance}" in out and "Stochastic gradient descent" in out


@pytest.mark.parametrize("args", [("--rows", "nope"), ("--rows", ","), ("--format", "html"), ("--seed", "x")])
def test_bad_arguments_exit_2(args):
    rc, out, err = run_blrkit("table", *args)
    assert rc == 2 and "Traceback" not in err and "error" in err
    if args[0] == "--rows":
        assert_usage_error(rc, out, err)


def _fake_row(error):
    return table.Row("fake", "Fake algorithm", "1.3", "gaussian", ("delta",),
                     checks=(table.Check("classical.fake", error, 1e-10, True),), derive_seconds=0.1)


def test_failing_row_exits_1_and_is_marked(monkeypatch, capsys):
    rows = [_fake_row(0.0), _fake_row(1e-3)]
    assert table.exit_status(rows) == 1 and table.exit_status(rows[:1]) == 0
    assert "FAIL" in table.render(rows) and '"status": "fail"' in table.render(rows, "json")
    monkeypatch.setattr(table, "build_table", lambda *a, **k: rows)
    assert cli.main(["table", "--quiet"]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_not_yet_rows_do_not_fail():
    rows = [_fake_row(0.0)] + table.not_yet_rows({})
    assert table.exit_status(rows) == 0
    assert "not yet" in table.render(rows)


def test_missing_library_is_skipped_not_failed(monkeypatch):
    from blrkit.verify import regression

    monkeypatch.setattr(regression, "optional", lambda module: None)
    row = table.verify_row("ridge", dim=3, n=20, batch=1)
    skipped = [c for c in row.checks if c.skipped]
    assert [c.counterpart for c in skipped] == ["sklearn Ridge"]
    assert skipped[0].note == "skipped (not installed)" and row.status == "pass"
    assert "skipped (not installed)" in table.render([row])  # as the help promises


def test_recipe_without_a_check_fails(monkeypatch):
    monkeypatch.delitem(table.CHECKS, "ridge")
    row = table.verify_row("ridge")
    assert row.status == "fail" and "no check registered" in row.message


def test_every_recipe_has_a_check():
    assert set(RECIPES) <= set(table.CHECKS)
