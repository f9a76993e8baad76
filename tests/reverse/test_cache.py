"""The recipes' forms that identify searches are read from a generated file: it is fresh, byte for byte."""

import pytest

from blrkit.reverse import cache


def test_generated_forms_are_fresh_and_check_reports_a_stale_file(tmp_path, capsys):
    """Regenerating from the derivations gives the committed file (else: ``python -m blrkit.reverse.cache``); an
    edited copy is reported with its diff (one rendering: the derivations are cached in the process)."""
    fresh = cache.render()
    assert fresh == cache.TARGET.read_text(encoding="utf-8"), \
        "blrkit/reverse/_generated/candidates.py is stale: run python -m blrkit.reverse.cache"
    stale = tmp_path / "candidates.py"
    stale.write_text(fresh.replace("Symbol('rho')", "Symbol('lr')", 1), encoding="utf-8")
    assert cache.main(["--check", "--out", str(stale)]) == 1
    out = capsys.readouterr().out
    assert "-            'm': Add(Mul(Integer(-1), Symbol('g'), Symbol('lr'))" in out and "Symbol('rho')" in out
    with pytest.raises(SystemExit) as e:
        cache.main(["--help"])
    assert e.value.code == 0


def test_a_recipe_whose_emitted_module_changed_is_derived(monkeypatch):
    """The form of a recipe whose committed emitted module no longer hashes as recorded is not read: it is derived."""
    from blrkit.reverse import candidates
    from blrkit.reverse._generated import candidates as generated

    forms = {name: dict(form) for name, form in generated.FORMS.items()}
    forms["gradient_descent"]["emitted"] = "0" * 64
    monkeypatch.setattr(generated, "FORMS", forms)
    candidates.recipe_candidates.cache_clear()
    try:
        built = {c.key: c.built is not None for c in candidates.recipe_candidates()}
    finally:
        candidates.recipe_candidates.cache_clear()
    assert built["gradient_descent"] and not any(v for k, v in built.items() if k != "gradient_descent")
