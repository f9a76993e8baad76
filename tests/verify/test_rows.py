"""blrkit.verify: every row is verified by an independent check; the rules of a row's verdict."""

import pytest

from blrkit import cli
from blrkit.derive import RECIPES
from blrkit.derive.recipes import Recipe
from blrkit.table import render, summary
from blrkit.verify import (
    CHECKS, TABLE_1, Check, Row, build_table, exit_status, extra_recipes, not_yet_rows, verify_row,
)
from verify.rows import SMALL, cached_row


@pytest.mark.parametrize("name", list(RECIPES))
def test_every_row_passes_by_an_independent_check(name, run_cache):
    row = cached_row(run_cache, name, **SMALL)
    assert row.status == "pass", (row.message, row.checks)
    ran = [c for c in row.checks if c.independent and not c.skipped]
    assert ran and all(c.passed for c in ran)


def test_every_recipe_has_a_check_and_is_in_table_1_or_an_extra_row():
    assert set(RECIPES) <= set(CHECKS)
    in_table = {n for *_, names in TABLE_1 for n in names}
    assert set(extra_recipes(RECIPES)) == set(RECIPES) - in_table


def _row(*checks, message=""):
    return Row("fake", "Fake", "1.3", "gaussian", ("delta",), checks=checks, message=message)


def test_freshness_checks_alone_do_not_verify_a_row():
    fresh = Check("derived step (compiled)", 0.0, 1e-12, False)
    assert _row(fresh).status == "fail" and not _row(fresh).verified
    assert _row(fresh, Check("classical.fake", 0.0, 1e-10, True)).status == "pass"
    # an independent counterpart that was skipped verifies nothing either
    assert _row(fresh, Check("lib", None, 1e-10, True, "skipped (not installed)")).status == "fail"
    assert "no independent check ran" in render([_row(fresh)])
    # an independent check that ran and failed is shown with its error, not as one that did not run
    failed = _row(fresh, Check("classical.fake", 1.0, 1e-10, True))
    assert failed.status == "fail" and "no independent check ran" not in render([failed])


def test_independence_is_shown_in_every_format():
    rows = [_row(Check("derived step (compiled)", 0.0, 1e-12, False), Check("classical.fake", 0.0, 1e-10, True))]
    assert "fresh" in render(rows) and "indep" in render(rows)
    assert "(fresh: 0.0e+00)" in render(rows, "markdown") and "(indep: 0.0e+00)" in render(rows, "markdown")
    latex = render(rows, "latex")
    assert r"classical.fake$^\dagger$" in latex and r"(compiled)$^\dagger$" not in latex
    assert '"independent": false' in render(rows, "json") and '"independent": true' in render(rows, "json")


def test_a_derivation_error_is_a_failing_row_with_one_line(monkeypatch, capsys):
    def broken(self):
        raise ValueError("the loss is not differentiable\nsecond line")

    monkeypatch.setattr(Recipe, "derive", broken)
    row = verify_row("ridge")
    assert row.status == "fail" and row.message == "derivation failed: ValueError: the loss is not differentiable"
    assert cli.main(["table", "--rows", "ridge", "--quiet"]) == 1
    out = capsys.readouterr()
    assert "derivation failed" in out.out and "Traceback" not in out.err


def test_a_driver_error_is_a_failing_row(monkeypatch):
    import blrkit.algorithms

    def broken(*args, **kwargs):
        raise ValueError("hess must be symmetric")

    monkeypatch.setattr(blrkit.algorithms, "ridge", broken)
    row = verify_row("ridge", dim=2, n=10, batch=1)
    assert row.status == "fail" and row.message == "ValueError: hess must be symmetric"
    assert exit_status([row]) == 1


def test_summary_counts_table_1_and_extra_rows_apart(run_cache, monkeypatch):
    """``build_table`` at the small size, its rows those the test above computed (the same verify_row calls)."""
    import blrkit.verify

    monkeypatch.setattr(blrkit.verify, "verify_row", lambda name, **size: cached_row(run_cache, name, **size))
    rows = build_table(**SMALL)
    covered = [names for *_, names in TABLE_1 if any(n in RECIPES for n in names)]
    extra = [n for n in RECIPES if all(n not in names for *_, names in TABLE_1)]
    text = summary(rows)
    missing = len(TABLE_1) - len(covered)
    assert text.startswith(f"Table 1: {len(covered)} of {len(TABLE_1)} rows implemented "
                           f"({len(covered)} pass, 0 fail)" + (f", {missing} not yet." if missing else "."))
    assert f"blrkit's extra rows: {len(extra)} ({len(extra)} pass, 0 fail)." in text
    assert len(not_yet_rows(RECIPES)) == len(TABLE_1) - len(covered)


#: the third-party counterparts of the verify modules: in the test extra, not in ``pip install -e .``
THIRD_PARTY = ("sklearn", "filterpy", "pykalman", "bayespy")


class _Absent:
    """A meta-path finder under which importing any of ``names`` (or a submodule) raises ImportError."""

    def __init__(self, names):
        self.names = names

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in self.names:
            raise ImportError(f"{fullname} is switched off by the test")
        return None


def test_every_row_passes_without_the_third_party_libraries(monkeypatch):
    """`pip install -e . && blrkit table` (no test extra): scikit-learn, filterpy, pykalman and BayesPy
    cannot be imported, whichever module asks (every verify module, the classical helpers they call);
    each of their checks is reported skipped, and every row is still verified by blrkit.classical, SciPy
    or Bayes' rule."""
    import sys

    for name in [m for m in sys.modules if m.split(".")[0] in THIRD_PARTY]:
        monkeypatch.delitem(sys.modules, name)  # restored afterwards; a fresh import goes to the finder
    monkeypatch.setattr(sys, "meta_path", [_Absent(THIRD_PARTY)] + sys.meta_path)
    skipped = []
    for name in RECIPES:
        row = verify_row(name, dim=3, n=24, batch=1)
        assert row.status == "pass" and row.verified, (name, row.message)
        skipped += [c.counterpart for c in row.checks if c.skipped]
    # the rows that run a third-party counterpart with the test extra (test_every_row_passes_... above)
    # now report it skipped: scikit-learn (regression, Gaussian, LDA, EM), filterpy, pykalman, BayesPy (VMP)
    for library in ("sklearn", "filterpy", "pykalman", "BayesPy"):
        assert any(library.lower() in c.lower() for c in skipped), (library, skipped)
