"""The import graph of blrkit has no cycle (issue #23, item 7).

Edges are read from the source (an AST walk), and an import inside a function counts as much as one at
the top of a module: hiding a circle in a function does not break it. Checked over the whole package,
together with the rule that no private name is imported from another module unless that module is made
for sharing (``SHARING``, or its name says so: ``_shared``, ``*_blocks``), and that the drivers never
import the Dask adapter (it sits above them).
"""

import ast
from functools import lru_cache
from pathlib import Path

import blrkit

ROOT = Path(blrkit.__file__).parent
#: Modules made for sharing inside their package (their private names are read by the drivers).
SHARING = {f"blrkit.algorithms.{m}" for m in ("_checks", "_common", "_namespace", "_runner", "results",
                                              "kalman.model")}


def _module(path: Path) -> str:
    parts = ["blrkit", *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _exists(module: str) -> bool:
    path = ROOT.joinpath(*module.split(".")[1:])
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


@lru_cache(maxsize=None)
def _imports(path: Path) -> tuple:
    """``(target module, imported name or None)`` for every import in ``path``, at any depth; each file parsed
    once per process (the three checks over the package read the same walk: 3 parses of every module were
    most of this file's time)."""
    return tuple(_walk_imports(path))


def _walk_imports(path: Path):
    here = _module(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                yield (sub, None) if _exists(sub) else (target, alias.name)


def _graph():
    files = sorted(ROOT.rglob("*.py"))
    inside = {_module(p) for p in files}
    edges = {m: set() for m in inside}
    for p in files:
        for target, _ in _imports(p):
            if target in inside and target != _module(p):
                edges[_module(p)].add(target)
    return edges


def _cycles(edges) -> list:
    """The strongly connected components with more than one module (Tarjan's algorithm, iterative)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on:
                    low[v] = min(low[v], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def test_the_cycle_finder_finds_a_cycle():
    """A wrong variant of what is checked fails: a → b → c → a is one cycle, d → a is none."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle():
    assert _cycles(_graph()) == []


def test_no_private_name_imported_across_modules():
    found = []
    for p in sorted(ROOT.rglob("*.py")):
        for target, name in _imports(p):
            shared = (target.rpartition(".")[2].startswith("_shared") or target.endswith("_blocks")
                      or target in SHARING)
            if (name and name.startswith("_") and not name.startswith("__") and target.startswith("blrkit.")
                    and target != _module(p) and not shared):
                found.append(f"{_module(p)} imports {name} from {target}")
    assert found == []


def test_the_walk_sees_function_local_imports():
    """_dask's lazy ``import dask`` (inside a function) is an edge of the walk."""
    assert ("dask", None) in set(_imports(ROOT / "algorithms" / "_dask.py"))


def test_drivers_never_import_the_dask_adapter():
    importers = sorted(m for m, targets in _graph().items() if "blrkit.algorithms._dask" in targets)
    assert importers == ["blrkit.algorithms"]
