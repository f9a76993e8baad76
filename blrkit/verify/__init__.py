r"""Live verification of every algorithm blrkit derives: the checks behind ``blrkit table``.

Khan & Rue (2023), Table 1, lists the algorithms the Bayesian learning rule reaches: pick a
candidate posterior family q, approximate the natural gradient, and a known algorithm appears.
This package turns that map into running checks. For each recipe of
:data:`blrkit.derive.RECIPES` one *row check* (named by the recipe's record, ``record.check``;
written in the module of its group, or the generic :mod:`~blrkit.verify.iterates` that compares a
driver's iterates with the record's oracle on the record's problem: :mod:`~blrkit.verify.gaussian`,
:mod:`~blrkit.verify.adaptive`, :mod:`~blrkit.verify.regression`, :mod:`~blrkit.verify.kalman`,
:mod:`~blrkit.verify.conjugate`, :mod:`~blrkit.verify.mixture`, :mod:`~blrkit.verify.inference`,
:mod:`~blrkit.verify.binary`)
builds a seeded problem, runs the public driver a user calls and compares every output with
counterparts that share no code with it (*independent*: :mod:`blrkit.classical`, SciPy,
scikit-learn, filterpy, pykalman, Bayes' rule) and with the step compiled from the derivation
(*freshness*: the same code). A row passes only if at least one independent check ran and
every check that ran is within its tolerance. Rendering is :mod:`blrkit.table`.

Adding a row that composes existing pieces touches one record (:mod:`blrkit.derive.known`) and one
oracle in :mod:`blrkit.classical`: the generic check and driver run it; a row that needs more names its
own check (a function of a module of this package) in its record.

>>> row = verify_row("ridge", seed=0, dim=3, n=20, batch=1)
>>> row.status, [(c.counterpart, c.independent) for c in row.checks][:2]
('pass', [('derived step (compiled)', False), ('classical.ridge_svd (m, cov)', True)])
"""

from __future__ import annotations

import importlib
import pkgutil
import time
import warnings
from typing import Callable

import numpy as np

from blrkit.verify.registry import (
    CHECKS, CLOSED_FORM, ITERATIVE, NOT_INSTALLED, SAME_CODE, SECTION_ROWS, SEQUENCE, Check, Problem,
    Row, compare, extra_recipes, memory_bytes, not_yet_rows, optional, record_group, register,
    register_section_row, relative_error, TABLE_1_GROUPS, section, table_1_group, table_1_recipes,
)

__all__ = [
    "CHECKS", "CLOSED_FORM", "ITERATIVE", "NOT_INSTALLED", "SAME_CODE", "SECTION_ROWS", "SEQUENCE", "TABLE_1", "TABLE_1_GROUPS",
    "Check", "Problem", "Row", "build_table", "compare", "exit_status", "extra_recipes", "memory_bytes", "not_yet_rows",
    "optional", "record_group", "register", "register_section_row",
    "relative_error", "table_1_group", "table_1_recipes", "verify_row",
]


def __getattr__(name: str):
    """``TABLE_1``: read from the records when first used (:func:`blrkit.verify.registry.table_1`)."""
    if name == "TABLE_1":
        from blrkit.verify.registry import table_1

        return table_1()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# every module of this package but the registry holds checks; the section rows register themselves on
# import (a new check module is found without being named here)
for _module in pkgutil.iter_modules(__path__):
    if _module.name != "registry":
        importlib.import_module(f"{__name__}.{_module.name}")


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}".rstrip(": ")


def _run_check(check, problem: Problem, *args):
    """``(checks, message)``: a crashing check is a failing row, reported, not raised."""
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # library chatter (scipy's trust-region) stays off the terminal
            return tuple(check(problem, *args)), ""
    except Exception as e:  # noqa: BLE001 -- a crashing check is a failing row, reported, not raised
        return (), _one_line(e)


def verify_section_row(name: str, *, seed: int = 0, dim: int = 4, n: int = 100, batch: int = 2) -> Row:
    """Run the check of the section row ``name`` (:data:`SECTION_ROWS`: nothing to derive) and return its
    :class:`Row`, whose ``group`` names the section."""
    r = SECTION_ROWS[name]
    t0 = time.perf_counter()
    checks, message = _run_check(r.check, Problem(seed, dim, n, batch))
    return Row(name=name, title=r.title, section=r.section, family=r.family, approximations=r.approximations,
               checks=checks, check_seconds=time.perf_counter() - t0, message=message, group=r.group,
               notebook=r.notebook)


def verify_row(name: str, *, seed: int = 0, dim: int = 4, n: int = 100, batch: int = 2) -> Row:
    """Derive recipe ``name``, run its check on a seeded problem and return the :class:`Row`.

    A derivation error, or an exception inside the check (a driver's error included), becomes a
    failing row whose ``message`` is the exception's one-line summary: the table goes on. A name of
    :data:`SECTION_ROWS` runs that row (:func:`verify_section_row`).
    """
    from blrkit.derive import RECIPES

    if name in SECTION_ROWS and name not in RECIPES:
        return verify_section_row(name, seed=seed, dim=dim, n=n, batch=batch)
    recipe = RECIPES[name]
    base = dict(name=name, title=recipe.title, section=section(recipe.anchor), family=recipe.family,
                approximations=tuple(recipe.approximations), notebook=recipe.notebook)
    t0 = time.perf_counter()
    try:
        recipe.derive()
    except Exception as e:  # noqa: BLE001 -- a derivation error is a failing row, reported, not raised
        return Row(**base, derive_seconds=time.perf_counter() - t0, message=f"derivation failed: {_one_line(e)}")
    base["derive_seconds"] = time.perf_counter() - t0
    check = CHECKS.get(name)
    if check is None:
        return Row(**base, message=f"no check registered for recipe {name!r} in blrkit.verify.CHECKS")
    t0 = time.perf_counter()
    checks, message = _run_check(check, Problem(seed, dim, n, batch), recipe)
    return Row(**base, checks=checks, check_seconds=time.perf_counter() - t0, message=message)


def build_table(names=None, *, seed: int = 0, implemented_only: bool = False,
                progress: Callable[[int, int, str], None] | None = None, **size) -> list[Row]:
    """Run every selected recipe's row (``names``: default all of RECIPES and of SECTION_ROWS) plus the
    "not yet" rows; the section rows (Duality, …) come last.

    ``progress(i, total, name)`` is called before each row runs (counted apart for the recipes and
    for the section rows).
    """
    from blrkit.derive import RECIPES

    names = list(RECIPES) + list(SECTION_ROWS) if names is None else list(names)
    sections = [n for n in names if n in SECTION_ROWS and n not in RECIPES]
    recipes = [n for n in names if n not in sections]
    rows = []
    for i, name in enumerate(recipes):
        if progress:
            progress(i, len(recipes), name)
        rows.append(verify_row(name, seed=seed, **size))
    if not implemented_only:
        rows += not_yet_rows(RECIPES)
    for i, name in enumerate(sections):
        if progress:
            progress(i, len(sections), name)
        rows.append(verify_section_row(name, seed=seed, **size))
    return rows


def exit_status(rows) -> int:
    """0 when every implemented row passes, 1 when any fails ("not yet" rows do not count).

    >>> exit_status([Row("x", "X", "1.3", "q", (), checks=(Check("c", 0.1, 1e-3, True),))])
    1
    """
    return 1 if any(r.status == "fail" for r in rows) else 0
