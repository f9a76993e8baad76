"""The ``blrkit`` command: one function per subcommand, wired up by :func:`_build_parser`.

``blrkit families`` lists every registered exponential family with its natural
and expectation parameters and runs its identity checks live (μ = ∇A against
sums, quadrature or Monte Carlo; the standard ↔ natural ↔ expectation round
trip; Khan & Rue 2023, Sec. 1.2).  The exit status is 0 when every check passes.
"""

from __future__ import annotations

import argparse
import sys
import textwrap

__all__ = ["main"]

_WIDTH = 100


def _wrap(label: str, text: str) -> str:
    return textwrap.fill(text, width=_WIDTH, initial_indent=f"  {label:<13}", subsequent_indent=" " * 15,
                         break_long_words=False, break_on_hyphens=False)


def families(args: argparse.Namespace) -> int:
    """Print every family, its parameters and its live identity checks; 0 when all pass."""
    import numpy as np

    from blrkit.families import FAMILIES
    from blrkit.families.checks import check_family

    rng = np.random.default_rng(args.seed)
    ok = True
    keys = args.keys or list(FAMILIES)
    unknown = [k for k in keys if k not in FAMILIES]
    if unknown:
        print(f"unknown family key(s): {', '.join(unknown)}; known: {', '.join(FAMILIES)}", file=sys.stderr)
        return 2
    for key in keys:
        q = FAMILIES[key]()
        print(f"{q.name}  [{q.key}]")
        print(_wrap("standard:", ", ".join(f"{p.name} ({p.constraint})" for p in q.standard)))
        print(_wrap("natural:", "; ".join(f"{l} = {e}" for l, e in zip(q.natural, q.standard_to_natural))))
        mu = q.closed_forms.get("expectation_standard")
        if mu is None:
            mu = q.mean_map
        print(_wrap("expectation:", "; ".join(f"{m} = {e}" for m, e in zip(q.expectation, mu))))
        for c in check_family(q, rng):
            ok &= c.passed
            print(_wrap("check:", f"{c.name}: {'pass' if c.passed else 'FAIL'} (error {c.error:.2e}; {c.detail})"))
        print()
    print("all checks passed" if ok else "SOME CHECKS FAILED")
    return 0 if ok else 1


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="blrkit", description="Algorithms from the Bayesian learning rule "
                                     "(Khan & Rue 2023).")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("families", help="list the exponential families and check their identities live")
    p.add_argument("keys", nargs="*", help="family keys (default: all)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random parameter points (default 0)")
    p.set_defaults(func=families)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``blrkit`` console script."""
    args = _build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
