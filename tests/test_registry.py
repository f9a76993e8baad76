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


# -- one record per row: everything that lists rows reads it ------------------------------------

def test_every_table_1_record_names_a_row_of_the_paper():
    """A mistyped ``table_1`` would make a row of Table 1 an extra row (and that paper row "not yet")."""
    from blrkit.derive.known import RECORDS
    from blrkit.verify.registry import PAPER_TABLE_1

    titles = {title for title, *_ in PAPER_TABLE_1}
    assert {r.table_1 for r in RECORDS.values() if r.table_1} <= titles
    # every row of the paper is implemented by some record (17 of 17 before this registry; none lost)
    assert titles == {r.table_1 for r in RECORDS.values() if r.table_1}


def test_every_record_names_its_check_and_exported_driver():
    import blrkit.algorithms
    from blrkit.derive.known import RECORDS
    from blrkit.verify import CHECKS
    from blrkit.verify.registry import resolve

    for name, r in RECORDS.items():
        assert CHECKS[name] is resolve(r.check), name
        module, _, driver = r.algorithm.partition(":")
        if module == "blrkit.algorithms":
            assert driver in blrkit.algorithms.__all__, f"{name}: {driver} is not exported"
        if r.check == "blrkit.verify.iterates:iterates":  # the generic check needs the record's problem
            assert callable(r.check_problem) and r.tolerance, name


def _named_by_request(r) -> bool:
    """Whether ``derive(<the record's request>)`` names the derivation through known_algorithm: not the
    mixture, mean-field and latent-variable paths (they take the recipe's title), not a record that adds a
    step after the derivation (Laplace: damped Newton's request run to its fixed point), not the improved
    rule (blr.py names it "Improved BLR (<the plain rule's title>)"), and not a record whose loss is one of
    many of its kind (a GLM): blr.py passes known_algorithm the kind of loss, not the loss (see the next test)."""
    from blrkit.derive.known import _ONE_LOSS, COMPOSITE, _record_kind

    return (r.family not in ("gaussian-mixture", "mean-field", *COMPOSITE) and r.finish is None
            and r.rule == "blr" and _record_kind(r.name) in _ONE_LOSS)


def test_every_records_request_is_named_by_the_record():
    """Each record's request (family, kind of loss, approximations, ρ) is named by that record: no two records
    share a request, and the records come before the general rules (before them, SVI, the Bernoulli BLR,
    BayesBiNN and STE were named by none, and a user's request for them got no title)."""
    from blrkit.derive.known import RECORDS, known_algorithm, loss_kind

    named = [r for r in RECORDS.values() if _named_by_request(r)]
    assert len(named) >= 20
    for r in named:
        loss, prior = r.problem() if r.problem else (None, None)
        assert known_algorithm(r.family, loss_kind(r.family, loss, prior), r.approximations, r.step) == (
            r.title, r.anchor), r.name


@pytest.mark.parametrize("name", ["sgd", "gamma_poisson", "bernoulli_exact", "ngvi_poisson", "dropout_noise"])
def test_a_records_derivation_gets_the_records_title(name):
    """Asked for without a title, as a user asks, a record's request derives under the record's title: one
    record per kind of loss (oracle, default likelihood), one named by the records alone (Bernoulli BLR), a GLM
    record (its loss passed on to the naming: it was "Variational Newton") and a mixture record (the mixture
    candidate named none: it was "Dropout"); every record would cost 5 s of CPU."""
    from blrkit.derive import derive
    from blrkit.derive.known import RECORDS

    r = RECORDS[name]
    loss, prior = r.problem() if r.problem else (None, None)
    d = derive(r.family, loss, prior, r.approximations, rule=r.rule)
    assert (d.title, d.anchor) == (r.title, r.anchor)


def test_a_glm_record_is_named_by_its_loss():
    """A GLM record names a request only when the request's loss is the record's: NC-VMP is the logistic
    GLM's; the Poisson GLM with the same approximations is no record (the general rule names it)."""
    from blrkit.derive import glm_loss
    from blrkit.derive.known import known_record

    request = ("multivariate-gaussian", "glm", ("gauss-hermite", "rho=1"), 1)
    assert known_record(*request, loss=glm_loss("logistic"), prior="isotropic").name == "ncvmp"
    assert known_record(*request, loss=glm_loss("poisson"), prior="isotropic") is None
    assert known_record(*request) is None  # which GLM: not said


def test_laplace_shares_damped_newtons_request():
    """Two records with one request: the first, without a step added after the derivation, names it."""
    from blrkit.derive.known import known_algorithm

    assert known_algorithm("multivariate-gaussian", "oracle", ("delta",)) == ("Damped BLR-Newton", "newton")
