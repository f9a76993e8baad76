"""The command line every benchmark shares: ``--help`` prints the benchmark's docstring as its usage and exits 0
(before anything is measured); options a benchmark takes are added to the parser it returns."""

from __future__ import annotations

import argparse


def parser(doc: str) -> argparse.ArgumentParser:
    """An argument parser whose ``--help`` shows ``doc`` (the benchmark's module docstring) as written."""
    return argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
