"""The support matrix (blrkit.derive.support): every request derives, emits, runs and is certified, or is
refused with a one-line reason; the documentation page is what the grid gives now.

Each request is run once per test run (``run_cache``, shared by the xdist workers): the parametrised test
checks its row, and the page test renders all rows, whichever worker ran them, and compares them with
``docs/support_matrix.md`` byte for byte.
"""

import pytest

from blrkit.derive.known import DERIVABLE
from blrkit.derive.support import PAGE, REQUESTS, page, run, user_families


def cache_key(request):
    return f"support-matrix {request!r}"


def test_the_grid_covers_every_family_and_two_user_families():
    assert len(REQUESTS) >= 80
    families = {r.family for r in REQUESTS}
    assert set(DERIVABLE) | set(user_families()) <= families
    assert any(not f.has_constant_base_measure for f in user_families().values())
    # the composite candidates derive their own model; the mixture takes an oracle loss only
    for family in families - {"categorical+gaussian", "dirichlet+categorical", "gaussian-mixture"}:
        losses = {r.loss for r in REQUESTS if r.family == family}
        assert len(losses) >= 3, family
    rhos = {a for r in REQUESTS for a in r.approximations if a.startswith("rho=")}
    assert {"rho=1", "rho=1/2"} <= rhos and any(not any(a.startswith("rho=") for a in r.approximations)
                                                for r in REQUESTS)


@pytest.mark.parametrize("request_", REQUESTS, ids=[r.label for r in REQUESTS])
def test_request_is_certified_or_refused_clearly(request_, run_cache):
    r = run_cache.get(cache_key(request_), lambda: run(request_))
    assert r.status in ("certified", "counterpart", "refused"), r.detail
    assert r.detail and "\n" not in r.detail and "Traceback" not in r.detail
    if r.status == "certified":
        assert r.certificate.passed and r.certificate.error <= r.certificate.tolerance


def test_page_is_fresh(run_cache):
    rows = run_cache.get_all({cache_key(r): (lambda r=r: run(r)) for r in REQUESTS})
    text = page(list(rows.values()))
    assert PAGE.read_text(encoding="utf-8") == text, "regenerate: python -m blrkit.derive.support"


def test_a_request_for_a_shipped_family_builds_no_user_family():
    # the inverse Gaussian checks its normalisation by quadrature: a shipped family's request must not pay for it
    from blrkit.derive.support import Request, USER_FAMILY_KEYS, arguments, user_family

    calls = user_family.cache_info()
    arguments(Request("normal-gamma", None, "default", ("stochastic",)))
    assert user_family.cache_info() == calls
    assert set(USER_FAMILY_KEYS) == {"von-mises", "inverse-gaussian"}
    with pytest.raises(ValueError, match="key"):
        user_family("normal-gamma")


def test_help_writes_nothing(monkeypatch, capsys):
    """``python -m blrkit.derive.support --help`` prints the usage and neither runs the matrix nor rewrites the page
    (it used to do both: any argument but ``--check`` regenerated the page)."""
    import pytest

    from blrkit.derive import support

    def refuse(*_):
        raise AssertionError("--help ran the support matrix")

    monkeypatch.setattr(support, "rows", refuse)
    before = PAGE.read_bytes()
    with pytest.raises(SystemExit) as exit_:
        support.main(["--help"])
    assert exit_.value.code == 0 and "--check" in capsys.readouterr().out
    assert PAGE.read_bytes() == before
