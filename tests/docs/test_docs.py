"""The documentation (issue #6): a fresh catalogue, a Sphinx build without warnings, runnable guide.

The catalogue ``docs/catalogue.md`` is generated from ``RECIPES`` by ``python -m blrkit.catalogue``
and compared byte for byte with a fresh rendering, like the emitted modules.  The Sphinx build
is the documented command, ``sphinx-build -W --keep-going -b html docs docs/_build/html``, run
in-process into a folder of the run, once (``docs_build``, shared by the xdist workers); each check of
its pages is a test of its own, and a second build over a copy of it is one more.  It renders the lecture
notebooks (issue #24) from the jupyter-cache that the session's notebook fixture filled
(``executed_notebook``, shared with tests/notebooks): each notebook is executed once per session, and
the build executes none.  These tests run after the notebooks' own, on the same worker (tests/conftest.py).
"""

from __future__ import annotations

import contextlib
import io
import pkgutil
import re
import shutil
from pathlib import Path

import pytest

import blrkit
from blrkit import catalogue
from blrkit.derive import RECIPES

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_catalogue_is_fresh():
    diff = catalogue.stale(DOCS / "catalogue.md")
    assert not diff, "docs/catalogue.md is stale; run `python -m blrkit.catalogue`:\n" + diff


def test_catalogue_has_every_recipe():
    text = (DOCS / "catalogue.md").read_text(encoding="utf-8")
    for r in RECIPES.values():
        assert f"(recipe-{r.name.replace('_', '-')})=" in text
        assert f"../blrkit/algorithms/_generated/{r.module}.py" in text


def _build_argv(out: Path, notebook_cache: Path) -> list[str]:
    """The documented build into ``out``, reading the notebooks from the cache the notebook fixture filled."""
    return ["-W", "--keep-going", "-b", "html", "-w", str(out / "warnings.txt"),
            "-D", f"nb_execution_cache_path={notebook_cache}", "-d", str(out / "doctrees"), str(DOCS), str(out / "html")]


def _sphinx_build(argv: list[str]) -> tuple[int, str]:
    """``sphinx-build argv`` in this process: its exit code and what it printed."""
    from sphinx.cmd.build import build_main

    status = io.StringIO()
    with contextlib.redirect_stdout(status):
        code = build_main(argv)
    return code, status.getvalue()


def _executed_notebooks(executed_notebook) -> list[str]:
    """Every notebook executed once in the run (kept in ``notebook_cache``), and the stems of those executed.

    First those no other worker is executing (from the last: the notebook tests start from the first), then the
    rest, waiting for the worker executing each; a notebook whose optional peer is missing is rendered unexecuted.
    """
    executed, waiting = [], []
    for wait, paths in ((False, NOTEBOOKS[::-1]), (True, waiting)):
        for path in list(paths):
            try:
                if executed_notebook(path, wait=wait) is None:
                    waiting.append(path)
                    continue
            except pytest.skip.Exception:
                continue
            executed.append(path.stem)
    return executed


@pytest.fixture(scope="session")
def docs_build(run_cache, executed_notebook, notebook_cache):
    """The documented Sphinx build, once per run (``run_cache``: one xdist worker builds, the others read):
    ``{"out": folder, "code", "status", "executed": notebooks the build should find in the cache}``. The
    build's folder (``html/``, ``doctrees/``, ``warnings.txt``) is in the run's folder, so a test on another
    worker reads the same pages."""
    for module in ("sphinx", "myst_nb", "sphinx-mathjax-offline"):
        pytest.importorskip(module, reason=f"the docs build needs {module} (in the test extra)")
    out = run_cache.folder / "docs_build"

    def build():
        executed = _executed_notebooks(executed_notebook)
        with warnings_filters():
            code, status = _sphinx_build(_build_argv(out, notebook_cache))
        return {"out": out, "code": code, "status": status, "executed": executed}

    return run_cache.get("docs: the Sphinx build", build)


@contextlib.contextmanager
def warnings_filters():
    """Sphinx 9, myst-parser and myst-nb use APIs that Sphinx 11 removes; not blrkit's warnings to fix."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


@pytest.fixture
def html(docs_build) -> Path:
    """The pages of the run's build; a failed build fails here (test_sphinx_build_has_no_warnings says why)."""
    if docs_build["code"] != 0:
        pytest.fail("the docs build failed: test_sphinx_build_has_no_warnings shows its warnings", pytrace=False)
    return docs_build["out"] / "html"


@pytest.mark.reads_notebooks
def test_sphinx_build_has_no_warnings(docs_build):
    assert docs_build["code"] == 0, ("sphinx-build -W failed:\n"
                                     + (docs_build["out"] / "warnings.txt").read_text(encoding="utf-8"))
    _assert_notebooks_read_from_the_cache(docs_build["status"], docs_build["executed"])


@pytest.mark.reads_notebooks
def test_sphinx_rebuild_reads_and_executes_nothing(docs_build, html, notebook_cache, tmp_path):
    """A second build over the first (in a copy of it: the other tests read the first) reads nothing again,
    hence executes nothing."""
    shutil.copytree(docs_build["out"], tmp_path / "build")
    with warnings_filters():
        code, status = _sphinx_build(_build_argv(tmp_path / "build", notebook_cache))
    assert code == 0
    assert _reads_nothing(status), status[-2000:]
    assert "Executing notebook" not in status


def _reads_nothing(status: str) -> bool:
    """Sphinx's status says that no document was added, changed or removed (a whole build's "40 added, 0 changed,
    0 removed" contains the words "0 added, 0 changed, 0 removed": the number stands alone here)."""
    return re.search(r"(?<!\d)0 added, 0 changed, 0 removed", re.sub(r"\x1b\[[0-9;]*m", "", status)) is not None


@pytest.mark.reads_notebooks
def test_api_reference_documents_every_public_module(html):
    html = "".join(p.read_text(encoding="utf-8") for p in (html / "api").glob("*.html"))
    missing = [m for m in _public_modules() if f'id="module-{m}"' not in html]
    assert not missing, f"modules missing from the API reference: {missing}"


@pytest.mark.reads_notebooks
def test_python_cross_references_resolve(html):
    for page in ("index", "guide", "catalogue", "gallery"):  # every {py:…} role of the pages written here links
        text = (html / f"{page}.html").read_text(encoding="utf-8")
        roles, links = text.count('<code class="xref py'), len(re.findall(r'<a [^>]*><code class="xref py', text))
        assert roles == links, f"{page}: {roles - links} Python cross-reference(s) did not resolve"


@pytest.mark.reads_notebooks
def test_pages_load_nothing_from_the_network(html):
    _assert_no_remote_resources(html)


@pytest.mark.reads_notebooks
def test_catalogue_sections_link_their_api_entries_and_notebooks(html):
    catalogue_html = (html / "catalogue.html").read_text(encoding="utf-8")
    sections = catalogue_html.split('<section id="recipe-')[1:]
    assert len(sections) == len(RECIPES)
    for section in sections:  # emitted step, driver and oracle link to their API entries
        for page in ("generated", "algorithms", "classical"):
            assert re.search(rf'href="api/{page}\.html#blrkit\.', section), (page, section[:80])
        for stem in re.findall(r"notebooks/(\w+)\.ipynb", section):  # and the notebook to its page
            assert f'href="notebooks/{stem}.html"' in section, (stem, section[:80])


@pytest.mark.reads_notebooks
def test_gallery_shows_a_figure_of_each_notebook(html, docs_build):
    _assert_gallery(html, docs_build["executed"])


def _assert_notebooks_read_from_the_cache(status: str, executed: list[str]) -> None:
    """myst-nb says, for each notebook, whether it took the outputs from the cache or executed it."""
    status = re.sub(r"\x1b\[[0-9;]*m", "", status)
    ran = re.findall(r"notebooks/(\w+)\.ipynb: Executing notebook", status)
    assert not ran, f"the docs build executed {ran} again (the fixture's cache was not used)"
    cached = re.findall(r"notebooks/(\w+)\.ipynb: Using cached notebook", status)
    assert sorted(cached) == sorted(executed), (cached, executed)


def _assert_gallery(html_dir: Path, executed: list[str]) -> None:
    """A page per notebook with its figures; a card per notebook in the gallery, with a figure of it."""
    gallery = (html_dir / "gallery.html").read_text(encoding="utf-8")
    cards = dict(re.findall(r'<div class="blrkit-card[^"]*" id="gallery-([\w-]+)">(.*?)</div>', gallery, flags=re.S))
    assert len(cards) == len(NOTEBOOKS), sorted(cards)
    for path in NOTEBOOKS:
        page = (html_dir / "notebooks" / f"{path.stem}.html").read_text(encoding="utf-8")
        card = cards[path.stem.replace("_", "-")]
        assert f'href="notebooks/{path.stem}.html"' in card
        if path.stem not in executed:
            assert "not executed here" in card
            continue
        figures = re.findall(r'<img [^>]*src="([^"]+\.png)"', page)
        assert figures, f"{path.name}: no figure rendered"
        thumbnail = re.search(r'<img [^>]*src="([^"]+)"', card).group(1)
        assert (html_dir / thumbnail).is_file()
        assert any(Path(f).name == Path(thumbnail).name for f in figures), f"{path.name}: the card shows another figure"


def _public_modules() -> list[str]:
    """blrkit and its modules and packages whose names have no leading underscore."""
    names = [blrkit.__name__]
    for info in pkgutil.walk_packages(blrkit.__path__, prefix="blrkit."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return names


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.+?)\n```$", text, flags=re.S | re.M)


def test_guide_installs_with_the_readme_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    setup = readme.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```bash\n(.+?)\n```", setup)
    guide = (DOCS / "guide.md").read_text(encoding="utf-8")
    assert commands and all(f"```bash\n{c}\n```" in guide for c in commands)


def test_guide_examples_run(capsys):
    blocks = _python_blocks((DOCS / "guide.md").read_text(encoding="utf-8"))
    assert len(blocks) >= 4
    namespace: dict = {}
    for block in blocks:  # one namespace: later blocks use earlier names, as a reader would
        exec(compile(block, str(DOCS / "guide.md"), "exec"), namespace)
    assert "Newton's method" in capsys.readouterr().out


def test_notebook_links_name_the_recipes_notebooks():
    linked = set()
    for page in DOCS.glob("*.md"):
        linked |= set(re.findall(r"\]\(\.\./(notebooks/[^)]+\.ipynb)\)", page.read_text(encoding="utf-8")))
    known = {r.notebook for r in RECIPES.values()} | {
        str(p.relative_to(ROOT)) for p in (ROOT / "notebooks").glob("*.ipynb")}
    assert linked <= known, f"links to unknown notebooks: {sorted(linked - known)}"
    guide = (DOCS / "guide.md").read_text(encoding="utf-8")
    unlinked = sorted(n for n in {r.notebook for r in RECIPES.values()} if f"(../{n})" not in guide)
    assert not unlinked, f"the guide does not link these recipes' notebooks: {unlinked}"


_RESOURCE = re.compile(r'<(?:script|link|img|iframe)\b[^>]*?\b(?:src|href)="([^"]*)"')


def _assert_no_remote_resources(html_dir: Path) -> None:
    """Every page loads its scripts, styles and images from the build itself (MathJax included):
    offline, the maths still renders."""
    pages = list(html_dir.rglob("*.html"))
    assert pages
    maths = 0
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for url in _RESOURCE.findall(text):
            assert not re.match(r"^(https?:)?//", url), f"{page.name} loads {url} from the network"
            if "mathjax" in url.lower():
                maths += 1
                assert (page.parent / url.split("?")[0]).is_file(), f"{page.name}: {url} is not in the build"
    assert maths, "no page loads MathJax"
