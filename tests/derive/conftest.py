"""The derive tests' shared derivations: every recipe and catalogue example derived afresh once per run.

``fresh_prints`` derives them in a seeded order, each from empty caches of its own (``Recipe.derive_afresh``), and
keeps what each prints: the print-order test compares it with a second derivation in the reverse order, and the
readability test reads the recipes' views from it instead of deriving them a third time. The value is kept in the
run's cache (``run_cache``), so under xdist one worker derives and the other reads.
"""

import random

import pytest

from blrkit.derive.examples import EXAMPLES
from blrkit.derive.recipes import RECIPES
from blrkit.derive.support import REQUESTS, run, views

#: the seed of the first order (the print-order test derives again in its reverse)
ORDER_SEED = 23


def makers() -> dict:
    """label → a function deriving it afresh: every recipe and every catalogue example."""
    out = {f"recipe {n}": r.derive_afresh for n, r in RECIPES.items()}
    return out | {f"example {n}": f for n, f in EXAMPLES.items()}


def seeded_order() -> list:
    order = sorted(makers())
    random.Random(ORDER_SEED).shuffle(order)
    return order


def bytes_printed(d, shown: dict | None = None) -> tuple:
    """The bytes a derivation prints: LaTeX, text, Markdown and code (or the error its emission raises); its text
    and Markdown read from ``shown`` (its :func:`~blrkit.derive.support.views`) when given."""
    try:
        code = d.emit()
    except Exception as e:  # a derivation that cannot be emitted must say so the same way in every order
        code = f"{type(e).__name__}: {e}"
    text, markdown = (shown["text"], shown["markdown"]) if shown else (d.text(), d.markdown())
    return d.latex(), text, markdown, code


def _derive_in_seeded_order() -> dict:
    make = makers()
    out = {}
    for name in seeded_order():
        d = make[name]()
        shown = views(d)
        out[name] = (bytes_printed(d, shown), shown)
    return out


@pytest.fixture(scope="session")
def fresh_prints(run_cache) -> dict:
    """label → (what it prints, :func:`blrkit.derive.support.views`) for every recipe and catalogue example,
    derived afresh in the seeded order."""
    return run_cache.get("derive: recipes and examples afresh in the seeded order", _derive_in_seeded_order)


@pytest.fixture(scope="session")
def printed(run_cache, fresh_prints) -> dict:
    """label -> (request or None, views (:func:`blrkit.derive.support.views`)) of every derivation of the support
    matrix and every recipe: the rows the support-matrix test runs (the run's cache: derived once per run), and the
    recipes ``fresh_prints`` derived."""
    from .test_support_matrix import cache_key

    rows = run_cache.get_all({cache_key(r): (lambda r=r: run(r)) for r in REQUESTS})
    out = {r.request.label: (r.request, r.printed) for r in rows.values() if r.printed}
    return out | {f"recipe {n}": (None, fresh_prints[f"recipe {n}"][1]) for n in RECIPES}
