"""Every recipe is complete: emitted module, driver, classical oracle, anchor, notebook, table check.

And every public name of every layer has a docstring (style: one registry drives everything).
"""

import importlib
from pathlib import Path

import pytest

from blrkit.derive import RECIPES
from blrkit.paper import ANCHORS

ROOT = Path(__file__).resolve().parents[1]


def _resolve(ref: str):
    module, name = ref.split(":")
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_recipe_is_complete(name):
    r = RECIPES[name]
    assert r.anchor in ANCHORS
    generated = importlib.import_module(f"blrkit.algorithms._generated.{r.module}")
    assert callable(getattr(generated, r.function))
    assert callable(_resolve(r.classical)), r.classical
    assert callable(_resolve(r.algorithm)), r.algorithm
    notebook = ROOT / r.notebook
    assert notebook.exists(), f"{name}: notebook {r.notebook} is missing"


def test_every_recipe_has_a_table_check():
    from blrkit.verify import CHECKS

    assert set(RECIPES) <= set(CHECKS)


@pytest.mark.parametrize("layer", ["blrkit.families", "blrkit.derive", "blrkit.algorithms", "blrkit.models"])
def test_public_names_have_docstrings(layer):
    module = importlib.import_module(layer)
    assert module.__doc__
    missing = [n for n in module.__all__
               if callable(getattr(module, n)) and not (getattr(module, n).__doc__ or "").strip()]
    assert not missing, f"{layer}: no docstring for {missing}"
