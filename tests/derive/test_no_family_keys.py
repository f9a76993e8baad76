"""Nothing in the derive layer dispatches on a family's key (issue 23, item 1).

An AST scan of ``blrkit/derive/**/*.py``: a comparison or lookup on ``.key``/``.family`` (a family's key, or a
derivation's record of it), a family name as a string literal in a comparison (``== "diagonal-gaussian"``,
``in ("beta", …)``) or as a dict literal's key, and a class attribute holding family names (a table such as
``families = ("diagonal-gaussian",)``).  Looking a user's key up once in a registry (``FAMILIES[key]``, the user
families of the support matrix, ``APPROXIMATIONS``) is the edge, and allowed; so is a list of requests.
On ca0749e the scan finds 25 sites outside the two modules below (candidates 3, printing's sampler table 2,
score 1, support 3, 16 approximation modules' ``families`` tables); now none (known.py 15:
unchanged; certify.py's 3 went: it reads the request's candidate by its type).
"""

from __future__ import annotations

import ast
import pathlib

import blrkit.derive
from blrkit.derive.products import LatentGaussian, MeanField, TopicModel
from blrkit.derive.support import USER_FAMILY_KEYS
from blrkit.families import FAMILIES

DERIVE = pathlib.Path(blrkit.derive.__file__).parent
#: family keys that are also names of other things (Greek parameters, NumPy distributions, GLM likelihoods): a
#: literal of these alone is not taken for a family's key, only a comparison with ``.key``/``.family`` is
AMBIGUOUS = {"beta", "gamma", "bernoulli", "exponential", "poisson"}
NAMES = (set(FAMILIES) | set(USER_FAMILY_KEYS) | {c.key for c in (MeanField, LatentGaussian, TopicModel)})
DISTINCT = NAMES - AMBIGUOUS
#: registries a user's key (a str) is looked up in once, at the edge
EDGE = {"FAMILIES", "USER_FAMILY_KEYS", "_USER_BUILDERS", "APPROXIMATIONS"}
#: modules that still match requests by key, and why (not the engine's dispatch: named in the report)
KNOWN = {
    "known.py": "names the algorithm a request reproduces by matching its recipe record, which holds a family key",
}


def _family_literal(node, names) -> bool:
    if isinstance(node, ast.Constant):
        return node.value in names
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return any(_family_literal(e, names) for e in node.elts)
    return False


def _key(node) -> bool:
    return isinstance(node, ast.Attribute) and node.attr in ("key", "family")


def _edge(node) -> bool:
    return isinstance(node, ast.Name) and node.id in EDGE


def sites(source: str) -> list[tuple[int, str]]:
    """``(line, code)`` of every dispatch on a family's key in ``source``."""
    out = []
    tree = ast.parse(source)
    registries = {id(a.value) for a in ast.walk(tree) if isinstance(a, ast.Assign)
                  and any(isinstance(t, ast.Name) and t.id in EDGE for t in a.targets)}
    tables = {id(a.value) for c in ast.walk(tree) if isinstance(c, ast.ClassDef) for a in c.body
              if isinstance(a, ast.Assign)}
    for node in ast.walk(tree):
        hit = False
        if isinstance(node, ast.Compare):
            ops = [node.left, *node.comparators]
            hit = any(_family_literal(o, DISTINCT) for o in ops) or (
                any(_key(o) for o in ops) and not any(_edge(o) for o in ops))
        elif isinstance(node, ast.Dict):
            hit = id(node) not in registries and any(k is not None and _family_literal(k, DISTINCT) for k in node.keys)
        elif isinstance(node, ast.Subscript):
            hit = _key(node.slice) and not _edge(node.value)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
            hit = bool(node.args) and _key(node.args[0]) and not _edge(node.func.value)
        elif isinstance(node, (ast.Tuple, ast.List, ast.Set)) and id(node) in tables:
            strings = [e for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
            hit = len(strings) == len(node.elts) >= 1 and any(e.value in DISTINCT for e in strings)
        if hit:
            out.append((node.lineno, ast.unparse(node)[:90]))
    return out


def test_nothing_in_the_derive_layer_dispatches_on_a_family_key():
    found = {str(p.relative_to(DERIVE)): s for p in sorted(DERIVE.rglob("*.py"))
             if "_generated" not in p.parts and p.name not in KNOWN and (s := sites(p.read_text()))}
    assert not found, "dispatch on a family's key:\n" + "\n".join(
        f"  {f}:{line}: {code}" for f, s in found.items() for line, code in s)


def test_the_scan_finds_each_kind_of_key_dispatch():
    """Each pattern the old code had is found (a scan that finds nothing proves nothing)."""
    old = {
        "if self.key not in a.families: pass": 1,                     # candidates.Candidate.check
        "class A:\n    families = ('diagonal-gaussian',)": 1,       # an approximation's table
        "T = {'gaussian': 'm + z', 'poisson': 'rng.poisson(rate)'}": 1,  # printing.FAMILY_SAMPLERS
        "x = SAMPLERS[n.family]": 1,                                  # its lookup
        "ok = family.key in SAMPLERS": 1,                             # score.py
        "g = request.family == 'gaussian-mixture'": 1,                # support.py
        "make = _OF_FAMILY.get(family.key)": 1,                       # candidates._OF_FAMILY
        "q = FAMILIES[b.family]; ok = b.family in FAMILIES": 0,       # the edge: allowed
        "x = APPROXIMATIONS[a.key]": 0,
        "p = {'beta': 1, 'gamma': 2}": 0,                             # Greek letters, not family keys
        "for f in ('diagonal-gaussian', 'beta'): pass": 0,            # a list of requests
        "_USER_BUILDERS = {'von-mises': vm}": 0,                      # the registry of user families
    }
    assert {src: len(sites(src)) for src in old} == old


def test_the_modules_left_matching_by_key_are_the_named_ones():
    """The allowance is for this module only, each with its reason; each still has such sites (else the
    allowance should go)."""
    counts = {name: len(sites((DERIVE / name).read_text())) for name in KNOWN}
    assert all(counts.values()), counts
