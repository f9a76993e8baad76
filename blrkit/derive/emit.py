"""Write the emitted step modules: ``python -m blrkit.derive.emit [--check]``.

Each recipe of :data:`~blrkit.derive.recipes.RECIPES` becomes one module
``blrkit/algorithms/_generated/<recipe>.py``.  With ``--check`` nothing is written: the
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
    """Module file name -> source, for every recipe, in a fixed order."""
    return {f"{r.name}.py": r.derive().emit(recipe=r.name) for r in RECIPES.values()}


def stale(directory: Path = GENERATED) -> list[str]:
    """Unified diffs of the modules in ``directory`` that differ from a fresh rendering."""
    diffs = []
    for name, text in render().items():
        path = directory / name
        old = path.read_text() if path.exists() else ""
        if old != text:
            diffs.append("".join(difflib.unified_diff(
                old.splitlines(True), text.splitlines(True), f"a/{name}", f"b/{name}")))
    return diffs


def write(directory: Path = GENERATED) -> list[Path]:
    """Write every module into ``directory``; return the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for name, text in render().items():
        path = directory / name
        path.write_text(text)
        out.append(path)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m blrkit.derive.emit", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; print diffs and exit 1 if stale")
    parser.add_argument("--out", type=Path, default=GENERATED, help="target folder (default: the package's)")
    args = parser.parse_args(argv)
    if args.check:
        diffs = stale(args.out)
        sys.stdout.write("".join(diffs))
        return 1 if diffs else 0
    for path in write(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
