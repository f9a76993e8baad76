r"""RECIPES: the records of the one registry (:data:`blrkit.derive.known.RECORDS`), each able to derive itself.

A recipe is a family, a loss (and prior), and approximations: the BLR's choices that
reach a known algorithm (Khan & Rue 2023, Table 1).  The records are written once, in
:mod:`blrkit.derive.known`; this table of the same records drives the emitted
modules (:mod:`blrkit.derive.emit`), the parametrised tests, ``blrkit table`` and the
documentation's derivation catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from functools import lru_cache

from .derivation import Derivation
from .known import RECORDS, Record


@dataclass(frozen=True)
class Recipe(Record):
    """A :class:`~blrkit.derive.known.Record` that derives itself (its attributes are the record's)."""

    def derive(self) -> Derivation:
        """The derivation (computed once per process and cached)."""
        return _derive(self.name)

    def derive_afresh(self) -> Derivation:
        """The derivation computed now, not read from the cache of :meth:`derive` (the print-order test)."""
        return _build(self)


def _build(recipe: Recipe) -> Derivation:
    from .blr import derive
    from .products import as_candidate

    candidate, loss, prior = as_candidate(recipe.family).bind(*(recipe.problem() if recipe.problem else (None, None)))
    d = derive(candidate, loss, prior, recipe.approximations, rule=recipe.rule, function_name=recipe.function,
               title=recipe.title, anchor=recipe.anchor)
    return recipe.finish(d) if recipe.finish else d


#: name -> :class:`Recipe`: every record of :data:`~blrkit.derive.known.RECORDS`, in its order
RECIPES: dict[str, Recipe] = {name: Recipe(**{f.name: getattr(r, f.name) for f in fields(r)})
                              for name, r in RECORDS.items()}


@lru_cache(maxsize=None)
def _derive(name: str) -> Derivation:
    return _build(RECIPES[name])


__all__ = ["Recipe", "RECIPES", "replace"]
