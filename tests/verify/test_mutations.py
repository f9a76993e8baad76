"""Mutation test of the verification table: a wrong emitted step must fail its row's independent checks.

The wrong variants of each emitted module (a sign flip, a dropped (1 − ρ), the old precision for the
new, …) are :data:`blrkit.verify.mutations.MUTATIONS`; each is applied *in memory* to the module's
source, put where the public driver imports it, and the row of the table (which runs that driver) must
fail by an *independent* check: a failed freshness check (the same code twice) does not count.

If the emitted text changes (the derive layer prints differently), a pattern that no longer matches
fails :func:`test_each_mutation_matches`: update the pattern in :data:`~blrkit.verify.mutations.MUTATIONS`.
"""

import pytest

from blrkit.verify.mutations import MUTATIONS, cases, mutant
from verify.rows import SMALL as SIZE
from verify.rows import cached_mutant, cached_row

CASES = cases()


def _ids(case):
    module, i = case
    return f"{module}: {MUTATIONS[module][3][i][0]}"


def test_every_emitted_module_has_mutations():
    from blrkit.derive import RECIPES

    assert {r.module for r in RECIPES.values()} == set(MUTATIONS)


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
