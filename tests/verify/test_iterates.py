"""The generic row check (blrkit.verify.iterates) on the row composed of existing pieces, natural-gradient VI
for Poisson regression: it passes, and a wrong step fails its independent check (the oracle), not only the
freshness one."""

import functools

import numpy as np
import pytest

import blrkit.algorithms._generated.ngvi_poisson as emitted
from blrkit.verify import verify_row

SIZE = dict(dim=3, n=30, batch=1)
RIGHT = emitted.ngvi_poisson_step


def _wrong(change):
    """The emitted step with its outputs changed (same signature: the driver calls it by keyword)."""
    @functools.wraps(RIGHT)
    def step(**kw):
        return change(kw["m"], kw["S"], kw["rho"], *RIGHT(**kw))
    step.__name__ = change.__name__
    return step


def sign_flipped(m, S, rho, m_new, S_new):
    return 2 * m - m_new, S_new  # m + ρ S⁻¹(αm + g) for m − ρ S⁻¹(αm + g)


def dropped_one_minus_rho(m, S, rho, m_new, S_new):
    return m_new, S_new + rho * S  # S + ρ(H + αI) for (1 − ρ)S + ρ(H + αI)


def old_precision(m, S, rho, m_new, S_new):
    return m - np.linalg.solve(S, S_new @ (m - m_new)), S_new  # m − ρ S_t⁻¹(αm + g): S_t for S_{t+1}


def _independent(row):
    (check,) = [c for c in row.checks if c.independent]
    return check


def test_the_composed_row_passes():
    row = verify_row("ngvi_poisson", **SIZE)
    assert row.status == "pass", row
    assert _independent(row).error < 1e-12


@pytest.mark.parametrize("change", [sign_flipped, dropped_one_minus_rho, old_precision])
def test_a_wrong_step_fails_the_oracle(change, monkeypatch):
    monkeypatch.setattr(emitted, "ngvi_poisson_step", _wrong(change))
    row = verify_row("ngvi_poisson", **SIZE)
    assert row.status == "fail"
    assert not _independent(row).passed, _independent(row)
