"""The "Duality" section of ``blrkit table``: its rows pass, are verified by independent counterparts,
are rendered after Table 1 under their heading in every format, and fail when the code they check is
mutated (a dropped factor, the wrong variance, a missing term)."""

import json

import numpy as np
import pytest

import blrkit.duality
from blrkit.duality.kpriors import KPrior
from blrkit.duality.loo import LeaveOneOut
from blrkit.duality.sites import LocalParameters
from blrkit.table import SECTION_ROWS, build_table, exit_status, render, summary, verify_row

NAMES = ["duality_identity", "duality_loo", "duality_kprior"]
SIZE = dict(dim=3, n=30, batch=1)


def test_rows_registered_and_pass():
    assert list(SECTION_ROWS) == NAMES
    for name in NAMES:
        row = verify_row(name, **SIZE)
        assert row.status == "pass" and row.verified and row.group == "Duality", (name, row.message)
        assert all(c.independent for c in row.checks)


def test_rendered_after_table_1_in_every_format():
    rows = build_table(["ridge"] + NAMES, implemented_only=True, **SIZE)
    assert [r.group for r in rows] == ["", "Duality", "Duality", "Duality"]
    terminal = render(rows)
    assert terminal.index("Duality") > terminal.index("Ridge") and max(map(len, terminal.splitlines())) <= 100
    assert "| **Duality** |" in render(rows, "markdown")
    assert r"\emph{Duality}" in render(rows, "latex")
    assert {r["group"] for r in json.loads(render(rows, "json"))} == {"", "Duality"}
    text = summary(rows)
    assert "blrkit's extra rows: 1 (1 pass, 0 fail)" in text and "Duality: 3 rows (3 pass, 0 fail)" in text
    assert exit_status(rows) == 0


def _sums_with_dropped_half(self):
    lam1, lam2 = _original_sums(self)
    return lam1, 2 * lam2


_original_sums = LocalParameters.site_sums


@pytest.mark.parametrize("name, target, attr, mutant", [
    ("duality_identity", LocalParameters, "site_sums", _sums_with_dropped_half),
    ("duality_loo", LeaveOneOut, "__init__", None),
    ("duality_kprior", KPrior, "grad",
     lambda self, th: np.asarray(th) @ self.prior_precision),  # the function-space term dropped
])
def test_mutations_fail(monkeypatch, name, target, attr, mutant):
    if name == "duality_loo":
        # the cavity variance replaced by the full posterior's (removal forgotten)
        real = blrkit.duality.leave_one_out

        def wrong(sites, **kw):
            out = real(sites, **kw)
            return LeaveOneOut(sites.eta, sites.variance, out.log_predictive, sites)

        monkeypatch.setattr(blrkit.duality, "leave_one_out", wrong)
    else:
        monkeypatch.setattr(target, attr, mutant)
    assert verify_row(name, **SIZE).status == "fail"


def test_command_line():
    """``blrkit verify`` and ``blrkit table --rows`` take the section rows' names."""
    from cli._run import run_blrkit

    rc, out, err = run_blrkit("verify", "duality_loo", "--dim", "2", "--n", "15", "--batch", "1")
    assert rc == 0, err
    assert "Duality (5)" in out and "nothing to derive" in out and out.rstrip().endswith("pass")
    rc, out, err = run_blrkit("table", "--rows", "duality_identity", "--quiet")
    assert rc == 0 and "Duality" in out and "Sites sum to" in out, err
