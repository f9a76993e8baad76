"""The import graph of ``blrkit.algorithms``, read from the source (every ``import`` statement, function-local
ones included): no circle, and no private name imported from another module unless that module is made
for sharing. The graph is built by an AST walk, independent of what Python happens to import first."""

from __future__ import annotations

import ast
from pathlib import Path

import blrkit.algorithms

ROOT = Path(blrkit.algorithms.__file__).parent
PACKAGE = "blrkit.algorithms"
#: Modules made for sharing inside the package (their names are imported by the drivers).
SHARING = {f"{PACKAGE}.{m}" for m in ("_checks", "_common", "_namespace", "_runner", "results", "kalman.model")}


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join((PACKAGE,) + parts)] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path):
    """``(target module, imported name or None)`` for every import in the module ``name``, relative ones resolved."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                # ``from package import module`` is an edge to the module, not to the package
                yield (sub, None) if sub in MODULES else (base, alias.name)


def graph() -> dict[str, set[str]]:
    edges = {}
    for name, path in MODULES.items():
        edges[name] = {target for target, _ in _imports(name, path) if target in MODULES and target != name}
    return edges


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
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

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_the_walk_sees_function_local_imports_and_finds_a_circle():
    """The checker itself: a circle closed by a function-local import is found."""
    edges = {"a": {"b"}, "b": set()}
    assert circles(edges) == []
    edges["b"].add("a")
    assert circles(edges) == [["a", "b"]]
    # the walk reads imports inside functions: _dask's lazy ``import dask`` is seen
    assert ("dask", None) in set(_imports(f"{PACKAGE}._dask", MODULES[f"{PACKAGE}._dask"]))


def test_no_import_circles_in_algorithms():
    assert circles(graph()) == []


def test_drivers_never_import_the_dask_adapter():
    importers = sorted(m for m, targets in graph().items() if f"{PACKAGE}._dask" in targets)
    assert importers == [PACKAGE]


def test_no_private_name_imported_across_modules_except_from_a_sharing_module():
    offences = [(name, target, imported)
                for name, path in MODULES.items()
                for target, imported in _imports(name, path)
                if imported and imported.startswith("_") and not imported.startswith("__")
                and target.startswith(PACKAGE) and target != name and target not in SHARING]
    assert offences == []
