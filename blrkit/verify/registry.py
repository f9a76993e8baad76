r"""The registry of the verification table: checks, rows, tolerances and Table 1 itself.

A *row check* is a function ``check(problem, recipe) -> list[Check]`` that the record of a recipe
(:data:`blrkit.derive.known.RECORDS`) names in its ``check`` field; it builds a seeded problem, runs
the public driver that a user calls (``blrkit.algorithms.*``) and compares its every output
with counterparts. A counterpart is *independent* when it shares no code with the emitted step:
a hand-written oracle in :mod:`blrkit.classical`, SciPy, a quadrature, Bayes' rule, a
third-party library. Comparing the step compiled from the derivation with the committed
``_generated`` module (or the driver that runs it) is a *freshness* check: the same code twice.
A row is verified only by its independent checks (:attr:`Row.status`).

Errors are relative to the problem's scale, ``max|a - b| / max|b|`` over every compared array
(:func:`relative_error`); each tolerance below states its reason.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from functools import lru_cache

from blrkit.paper import cite

__all__ = [
    "CHECKS", "CLOSED_FORM", "ITERATIVE", "MEMORY", "NOT_INSTALLED", "PAPER_TABLE_1", "SAME_CODE", "SECTION_ROWS",
    "SEQUENCE", "TABLE_1", "TABLE_1_GROUPS", "Check", "Problem", "Row", "SectionRow", "compare",
    "driver_raised", "extra_recipes", "memory_bytes", "not_yet_rows", "optional", "record_group", "register",
    "register_section_row", "relative_error", "resolve", "section", "table_1", "table_1_group", "table_1_recipes",
]

# -- tolerances: every one used by the row checks, with its reason ------------------------------

#: The same arithmetic run twice (the step compiled from the derivation vs the committed
#: generated module or the driver that loops it): last bits only.
SAME_CODE = 1e-12

#: A one-step closed form against an independent computation (normal equations vs SVD least
#: squares or a Cholesky solve; a division vs an LU solve): rounding times the condition
#: number (≲ 1e3 on these problems) times machine epsilon, ~1e-13; 1e-10 leaves room.
CLOSED_FORM = 1e-10

#: A sequence of closed-form steps (a Kalman filter over T steps, a few Newton steps, a damped
#: iteration of 30 steps) against another formula for each step (pseudo-inverse, explicit
#: inverse, joint-Gaussian conditioning of the whole sequence): the closed-form error,
#: accumulated over the steps.
SEQUENCE = 1e-8

#: Against an iterative solver stopped at its own tolerance (scipy trust-exact at gtol 1e-10,
#: scikit-learn at tol 1e-12): the optimum is known to ~1e-9 relative; 1e-6 is issue #5's bound.
ITERATIVE = 1e-6

#: The note of a counterpart whose third-party library is not installed.
NOT_INSTALLED = "skipped (not installed)"


# -- results -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Check:
    """One counterpart's verdict: its ``error`` (None when skipped) against ``tolerance``.

    ``independent`` is True when the counterpart shares no code with the emitted step (an
    oracle that verifies it), False for a freshness check (the same code run twice). ``unit`` is
    the error's unit, shown beside it in every format: ``"rel."`` (:func:`relative_error`, the
    default) or ``"s.e."`` (standard errors of a Monte-Carlo estimate).
    """

    counterpart: str
    error: float | None
    tolerance: float
    independent: bool
    note: str = ""
    unit: str = "rel."

    @property
    def skipped(self) -> bool:
        return self.error is None

    @property
    def passed(self) -> bool:
        """Skipped counterparts pass; a NaN error fails."""
        return self.skipped or (math.isfinite(self.error) and self.error <= self.tolerance)

    @property
    def kind(self) -> str:
        """``"independent"`` or ``"freshness"``."""
        return "independent" if self.independent else "freshness"

    def to_dict(self) -> dict:
        return {"counterpart": self.counterpart, "error": self.error, "tolerance": self.tolerance,
                "independent": self.independent, "unit": self.unit,
                "status": "skipped" if self.skipped else ("pass" if self.passed else "fail"),
                "note": self.note}


@dataclass(frozen=True)
class Row:
    """One line of the table: an implemented recipe with its checks, or a Table 1 row not yet done."""

    name: str
    title: str
    section: str
    family: str
    approximations: tuple[str, ...]
    implemented: bool = True
    checks: tuple[Check, ...] = ()
    derive_seconds: float | None = None
    check_seconds: float | None = None
    message: str = ""
    group: str = ""
    notebook: str = ""  # the lecture notebook that shows the row (recipe.notebook), relative to the repository

    @property
    def independent_ran(self) -> bool:
        """At least one independent check ran (passed or not)."""
        return any(c.independent and not c.skipped for c in self.checks)

    @property
    def verified(self) -> bool:
        """At least one independent check ran and passed."""
        return any(c.independent and not c.skipped and c.passed for c in self.checks)

    @property
    def status(self) -> str:
        """``"pass"``, ``"fail"`` or ``"not yet"``.

        A row passes when it raised nothing, every check that ran is within its tolerance and
        at least one *independent* check ran (freshness checks alone verify nothing).
        """
        if not self.implemented:
            return "not yet"
        ok = bool(self.checks) and not self.message and all(c.passed for c in self.checks) and self.verified
        return "pass" if ok else "fail"

    @property
    def max_error(self) -> float | None:
        """The largest error over the counterparts that ran (None if none ran)."""
        errors = [c.error for c in self.checks if not c.skipped]
        if not errors:
            return None
        return float("nan") if any(math.isnan(e) for e in errors) else max(errors)

    def to_dict(self) -> dict:
        return {"name": self.name, "title": self.title, "section": self.section, "family": self.family,
                "approximations": list(self.approximations), "implemented": self.implemented,
                "table_1": self.name in table_1_recipes(), "counterparts": [c.to_dict() for c in self.checks],
                "verified": self.verified, "max_error": self.max_error, "derive_seconds": self.derive_seconds,
                "check_seconds": self.check_seconds, "status": self.status, "message": self.message,
                "group": self.group}


@dataclass(frozen=True)
class Problem:
    """The size of a seeded check problem: parameters ``dim``, data ``n``, ``batch`` independent copies."""

    seed: int = 0
    dim: int = 4
    n: int = 100
    batch: int = 2

    def rng(self) -> np.random.Generator:
        return np.random.default_rng(self.seed)


def relative_error(actual, desired) -> float:
    """``max|actual - desired| / max|desired|``: the error relative to the problem's scale.

    Arrays of different shapes, or a non-finite entry in either, give NaN (a failed check).

    >>> relative_error([1.0, 2.0 + 1e-9], [1.0, 2.0])
    5e-10
    """
    a, d = np.asarray(actual, dtype=float), np.asarray(desired, dtype=float)
    if a.shape != d.shape or not (np.isfinite(a).all() and np.isfinite(d).all()):
        return float("nan")
    scale = max(float(np.max(np.abs(d), initial=0.0)), 1e-300)
    return float(np.max(np.abs(a - d), initial=0.0) / scale)


def compare(name: str, tolerance: float, independent: bool, *pairs) -> Check:
    """A :class:`Check` whose error is the worst over ``(actual, desired)`` pairs."""
    errors = [relative_error(a, d) for a, d in pairs]
    return Check(name, float("nan") if any(math.isnan(e) for e in errors) else max(errors), tolerance, independent)


def optional(module: str):
    """Import a third-party counterpart if installed (None otherwise)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def driver_raised(name: str, tolerance: float, error: Exception) -> list[Check]:
    """The verdict of a row whose driver raised where its independent counterpart ran: that check fails
    (NaN error), saying why."""
    return [Check(name, float("nan"), tolerance, True, f"the driver raised: {error}")]


def skipped(name: str, tolerance: float) -> Check:
    """The check of a third-party counterpart that is not installed."""
    return Check(name, None, tolerance, True, NOT_INSTALLED)


# -- the row checks: one per recipe, named by its record ----------------------------------------

class _RecordChecks(dict):
    """recipe name -> row check, as each record of :data:`blrkit.derive.known.RECORDS` names it
    (``record.check``): filled when first read, not when :mod:`blrkit.verify` is imported (the records import
    SymPy; building the command line's parser must not). Otherwise a plain dict (tests may patch it)."""

    def fill(self) -> None:
        """Read the records (once): each recipe's check and the memory estimate :func:`register` gave it."""
        if self.__dict__.get("filled"):
            return
        self.__dict__["filled"] = True
        from blrkit.derive.known import RECORDS

        for name, r in RECORDS.items():
            check = resolve(r.check)
            dict.setdefault(self, name, check)
            MEMORY.setdefault(name, getattr(check, "elements", _default_elements))


def _filled_first(method):
    def call(self, *args, **kwargs):
        self.fill()
        return method(self, *args, **kwargs)
    call.__name__, call.__doc__ = method.__name__, method.__doc__
    return call


for _method in ("__getitem__", "__contains__", "__iter__", "__len__", "__delitem__", "__setitem__", "__repr__",
                "__eq__", "get", "keys", "values", "items", "pop", "setdefault", "update", "copy"):
    setattr(_RecordChecks, _method, _filled_first(getattr(dict, _method)))

#: recipe name -> check(problem, recipe) -> list of Check: the check each record names
CHECKS: dict[str, Callable] = _RecordChecks()

#: row name -> elements(problem): about how many float64 values its check holds at its peak
MEMORY: dict[str, Callable[[Problem], float]] = {}


def _default_elements(p: Problem) -> float:
    # a few copies of a (batch, n, dim) data array and of (batch, dim, dim) matrices
    return 8.0 * p.batch * p.n * p.dim + 100.0 * p.batch * p.dim ** 2


def register(*, elements: Callable[[Problem], float] = _default_elements):
    """Decorator of a row check: its estimate of the number of float64 values its problem needs
    (``elements(problem)``; used to refuse sizes that do not fit). Which recipe a check verifies is said
    by the recipe's record (``record.check = "module:function"``), not here."""
    def add(fn):
        fn.elements = elements
        return fn
    return add


def resolve(ref: str):
    """The object a ``"module:function"`` reference of a record names.

    >>> resolve("blrkit.verify.registry:relative_error") is relative_error
    True
    """
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


# -- rows of the sections after Table 1 (not recipes of the engine) -----------------------------

@dataclass(frozen=True)
class SectionRow:
    """A row of a section after Table 1 (``group``, e.g. "Duality"): a result the BLR gives beyond its
    algorithms, with a check ``check(problem) -> list[Check]`` and no recipe (nothing is derived)."""

    name: str
    group: str
    title: str
    section: str
    family: str
    approximations: tuple[str, ...]
    check: Callable
    notebook: str = ""


#: row name -> SectionRow, in the order the rows are shown
SECTION_ROWS: dict[str, SectionRow] = {}


def register_section_row(name: str, *, group: str, title: str, anchor: str, family: str,
                         approximations: tuple[str, ...] = (), label: str | None = None,
                         elements: Callable[[Problem], float] = _default_elements, notebook: str = ""):
    """Decorator: register ``check(problem) -> list[Check]`` as the row ``name`` of section ``group``
    (shown after Table 1 and the extra rows); ``anchor`` is a key of :mod:`blrkit.paper`, whose section
    number fills the "Sec." column unless ``label`` (≤ 4 characters) is given for another paper;
    ``notebook`` is the lecture notebook that shows the result."""
    def add(fn):
        SECTION_ROWS[name] = SectionRow(name, group, title, label or section(anchor), family, tuple(approximations),
                                        fn, notebook)
        MEMORY[name] = elements
        return fn
    return add


def memory_bytes(name: str, problem: Problem) -> float:
    """About how many bytes the check of recipe ``name`` needs on ``problem`` (an upper estimate).

    >>> memory_bytes("no such row", Problem(dim=2, n=10, batch=1)) == 8 * (8 * 10 * 2 + 100 * 4)
    True
    """
    CHECKS.fill()
    return 8.0 * MEMORY.get(name, _default_elements)(problem)


# -- Table 1: the whole map ----------------------------------------------------------------------

#: The rows of Khan & Rue (2023), Table 1, as the paper gives them: (algorithm, candidate family,
#: approximations, paper anchor).
PAPER_TABLE_1: tuple[tuple[str, str, str, str], ...] = (
    ("Gradient descent", "Gaussian (fixed cov.)", "delta method", "gradient-descent"),
    ("Newton's method", "Gaussian", "delta method", "newton"),
    ("Multimodal optimisation", "mixture of Gaussians", "delta method", "multimodal"),
    ("SGD", "Gaussian (fixed cov.)", "delta method, stochastic approx.", "sgd"),
    ("RMSprop/Adam", "Gaussian (diagonal cov.)", "delta method, stochastic approx., Hessian approx., "
     "square-root scaling, slow-moving scale vectors", "rmsprop"),
    ("Dropout", "mixture of Gaussians", "delta method, stochastic approx., responsibility approx.", "dropout"),
    ("STE", "Bernoulli", "delta method, stochastic approx.", "ste"),
    ("Online Gauss-Newton (OGN)", "Gaussian (diagonal cov.)", "Gauss-Newton Hessian approx., no square root", "ogn"),
    ("Variational OGN", "Gaussian (diagonal cov.)", "OGN without the delta method", "ogn"),
    ("BayesBiNN", "Bernoulli", "STE without the delta method", "bayesbinn"),
    ("Conjugate Bayes", "exponential family", "rho = 1", "conjugate"),
    ("Laplace's method", "Gaussian", "delta method", "laplace"),
    ("Expectation-Maximisation", "exp. family + Gaussian", "delta method for the parameters", "em"),
    ("Stochastic VI (SVI)", "exp. family (mean-field)", "stochastic approx., local rho = 1", "svi"),
    ("VMP", "exp. family (mean-field)", "rho = 1 for all nodes", "vmp"),
    ("Non-conjugate VMP", "exp. family (mean-field)", "rho = 1 for all nodes", "vmp"),
    ("Non-conjugate VI", "mixture of exp. families", "none", "ncvi"),
)

@lru_cache(maxsize=None)
def table_1() -> tuple[tuple[str, str, str, str, tuple[str, ...]], ...]:
    """The rows of Table 1 with the recipes that implement them: (algorithm, candidate family, approximations,
    paper anchor, recipe names), the names read from the records (``record.table_1``, in the records' order).
    A row none of whose recipes is registered is shown as "not yet"; a recipe in none of these rows is one
    of blrkit's extra rows. Also the module attribute ``TABLE_1``, computed when first read (the records
    import SymPy; building the command line's parser must not)."""
    from blrkit.derive.known import RECORDS

    return tuple((title, family, approx, anchor, tuple(name for name, r in RECORDS.items() if r.table_1 == title))
                 for title, family, approx, anchor in PAPER_TABLE_1)


def __getattr__(name: str):
    if name == "TABLE_1":
        return table_1()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: The three blocks of Table 1 as the paper heads them, each with its number of :data:`TABLE_1` rows
#: (in order): optimisation, deep learning, approximate Bayesian inference.
TABLE_1_GROUPS: tuple[tuple[str, int], ...] = (
    ("Optimisation", 3), ("Deep learning", 7), ("Approximate Bayesian inference", 7))


def table_1_group(anchor: str) -> str:
    """The block of Table 1 a recipe with paper anchor ``anchor`` belongs to: that of the Table 1 row
    with the same anchor, else by the paper's section (1-3 optimisation, 4 deep learning, 5 inference).

    >>> table_1_group("laplace"), table_1_group("ivon"), table_1_group("ridge")
    ('Approximate Bayesian inference', 'Deep learning', 'Approximate Bayesian inference')
    """
    start = 0
    for group, count in TABLE_1_GROUPS:
        if any(a == anchor for _, _, _, a in PAPER_TABLE_1[start:start + count]):
            return group
        start += count
    chapter = section(anchor).split(".")[0]
    return {"4": TABLE_1_GROUPS[1][0], "5": TABLE_1_GROUPS[2][0]}.get(chapter, TABLE_1_GROUPS[0][0])


def record_group(record) -> str:
    """The block of Table 1 a record's row is shown in: that of its Table 1 row (``record.table_1``), else
    :func:`table_1_group` of its anchor (blrkit's extra rows)."""
    for (title, *_), group in zip(PAPER_TABLE_1, (g for g, count in TABLE_1_GROUPS for _ in range(count))):
        if record.table_1 and title == record.table_1:
            return group
    return table_1_group(record.anchor)


def table_1_recipes() -> set[str]:
    """Every recipe name that implements (part of) a row of Table 1."""
    return {name for *_, names in table_1() for name in names}


def extra_recipes(recipes) -> list[str]:
    """The recipes that are rows blrkit adds to Table 1 (ridge, Kalman, …).

    >>> extra_recipes(["newton", "ridge"])
    ['ridge']
    """
    inside = table_1_recipes()
    return [r for r in recipes if r not in inside]


def section(anchor: str) -> str:
    """The section of Khan & Rue (2023) that a paper anchor cites: ``"1.3"`` (another paper's when it
    cites none: ``"3"`` of Lin, Schmidt & Khan 2020).

    >>> section("ivon"), section("kalman")
    ('4.2', '5.1')
    """
    import re

    text = cite(anchor)
    ours = re.search(r"Khan & Rue 2023, Sec\. ([\d.]+)", text)
    return ours.group(1) if ours else re.findall(r"Sec\. ([\d.]+)", text)[-1]


def not_yet_rows(recipes) -> list[Row]:
    """The Table 1 rows that no registered recipe implements yet."""
    return [Row(name=recipe_names[0], title=title, section=section(anchor), family=family,
                approximations=(approx,), implemented=False)
            for title, family, approx, anchor, recipe_names in table_1()
            if not any(r in recipes for r in recipe_names)]
