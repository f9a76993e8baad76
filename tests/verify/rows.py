"""The small problem on which the tests of tests/verify run every row, and its rows computed once per run.

The default size (seed 0, D = 4, N = 100, batch 2) is the command's: tests/cli/test_table_cmd.py runs the
whole table at it and requires every row to pass by an independent check.
"""

from blrkit.reverse.certificate import derived_verdicts
from blrkit.verify import verify_row

#: A small problem: each row (a mutated one too) runs in well under a second.
SMALL = dict(seed=0, dim=3, n=24, batch=1)


def cached_row(run_cache, name, **size):
    """``verify_row(name, **size)`` of the unchanged code, computed once per run whichever xdist worker asks
    (``run_cache``, tests/run_cache.py).  Never for a mutated or monkeypatched row."""
    return run_cache.get(f"verify_row {name} {sorted(size.items())}", lambda: verify_row(name, **size))


def cached_mutant(run_cache, module, i):
    """``killed(module, i, ...)`` of :mod:`blrkit.verify.mutations` with the rows at :data:`SMALL`, computed once
    per run: the verdict of tests/verify/test_mutations.py and the mutation score of ``blrkit certify`` (whose
    rows run at the same size and seed) read the same value."""
    from blrkit.verify.mutations import killed

    return run_cache.get(f"mutant {module} {i} {sorted(SMALL.items())}",
                         lambda: killed(module, i, lambda name: verify_row(name, **SMALL)))


def cached_derived(run_cache, recipe):
    """``derived_verdicts(recipe, 0)`` of :mod:`blrkit.reverse.certificate` (every variant the rules make of
    ``recipe``'s derivation that changes its step's output, and whether the rows at :data:`SMALL` reject it),
    computed once per run (the function imported when this module is: tests/reverse/test_certificate.py puts this
    one in its place)."""
    return run_cache.get(f"derived {recipe} {sorted(SMALL.items())}", lambda: derived_verdicts(recipe, 0))
