"""Write the emitted step modules: ``python -m blrkit.derive.emit [--check]``.

Each recipe of :data:`~blrkit.derive.recipes.RECIPES` is emitted into its module
``blrkit/algorithms/_generated/<module>.py``; recipes that name one module (the same step reached twice:
Laplace's method and the damped BLR-Newton step) share it, and their emitted code must be the same.  With ``--check`` nothing is written: the
command prints a unified diff of every module that regenerating would change and exits 1.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

from .recipes import RECIPES

GENERATED = Path(__file__).resolve().parent.parent / "algorithms" / "_generated"


def render() -> dict[str, str]:
    """Module file name -> source, for every module of the recipes, in a fixed order."""
    groups: dict[str, list] = {}
    for r in RECIPES.values():
        groups.setdefault(r.module, []).append(r)
    out = {}
    for module, recipes in groups.items():
        first, *others = recipes
        text = first.derive().emit(recipe=", ".join(r.name for r in recipes))
        for r in others:
            if step_code(r.derive().emit(recipe=r.name)) != step_code(text):
                raise ValueError(f"recipes {first.name!r} and {r.name!r} name one module {module!r} but emit "
                                 "different steps: give them a module each")
        out[f"{module}.py"] = text
    return out


def step_code(text: str) -> str:
    """The executable lines of an emitted module's step: its signature and its lines from the inputs on,
    comments aside (so a title, an anchor or a docstring does not count)."""
    signature = next(line for line in text.splitlines() if line.startswith("def "))
    body = text[text.index("    # -- inputs"):]
    return "\n".join([signature] + [line for line in body.splitlines() if not line.lstrip().startswith("#")])


def diffs(files: dict[Path, str], label=lambda p: p.name) -> list[str]:
    """Unified diffs from each file on disk to its fresh ``files[path]`` text (only those that differ)."""
    out = []
    for path, text in files.items():
        old = path.read_text(encoding="utf-8") if path.exists() else ""
        if old != text:
            name = label(path)
            out.append("".join(difflib.unified_diff(
                old.splitlines(True), text.splitlines(True), f"a/{name}", f"b/{name}")))
    return out


def write_files(files: dict[Path, str]) -> list[Path]:
    """Write each fresh text to its path; return the paths."""
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(files)


def check_or_write(files_for, default: Path, *, prog: str, description: str, argv=None) -> int:
    """The command line of a generator: write ``files_for(out)``, or with ``--check`` print the diffs
    and exit 1 if any; ``files_for`` maps the ``--out`` target to {path: fresh text}."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--check", action="store_true", help="write nothing; print diffs and exit 1 if stale")
    parser.add_argument("--out", type=Path, default=default, help=f"target (default: {default.name})")
    args = parser.parse_args(argv)
    files = files_for(args.out)
    if args.check:
        found = diffs(files)
        sys.stdout.write("".join(found))
        return 1 if found else 0
    for path in write_files(files):
        print(path)
    return 0


def _modules(directory: Path) -> dict[Path, str]:
    return {directory / name: text for name, text in render().items()}


def stale(directory: Path = GENERATED) -> list[str]:
    """Unified diffs of the modules in ``directory`` that differ from a fresh rendering."""
    return diffs(_modules(directory))


def write(directory: Path = GENERATED) -> list[Path]:
    """Write every module into ``directory``; return the paths written."""
    return write_files(_modules(directory))


def main(argv=None) -> int:
    return check_or_write(_modules, GENERATED, prog="python -m blrkit.derive.emit",
                          description=__doc__.splitlines()[0], argv=argv)


if __name__ == "__main__":
    sys.exit(main())
