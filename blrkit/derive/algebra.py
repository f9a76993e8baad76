"""Algebra the derivations share: expansion with collected coefficients, zero tests, matrix gradients.

At the bottom of the derive layer's imports (SymPy only).
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp
from sympy import MatrixExpr

#: names of the scalar symbols of elementwise updates (all others are arrays)
SCALARS = {"rho", "n_data", "n_batch"}


def expand_terms(e):
    """Expand, then collect each matrix term's scalar coefficient and factor it (elementwise
    updates: the coefficient of each array symbol, ρ and the counts N, M being scalars).

    Computed once per expression and process: the derivations ask for the same expansions again
    (a third of the calls deriving every recipe), and SymPy expressions are immutable."""
    return _expand_terms(e) if isinstance(e, sp.Basic) else _expand_terms.__wrapped__(e)


@lru_cache(maxsize=4096)
def _expand_terms(e):
    if not isinstance(e, MatrixExpr):
        e = sp.expand(e)
        arrays = sorted((x for x in e.free_symbols if x.name not in SCALARS), key=lambda x: x.name)
        return sp.collect(e, arrays, func=sp.factor) if arrays else e
    e = sp.expand(e).doit()
    if not isinstance(e, sp.MatAdd):
        return e
    coeffs: dict = {}
    for term in e.args:
        c, mats = term.as_coeff_matrices() if isinstance(term, sp.MatMul) else (sp.S.One, [term])
        coeffs[tuple(mats)] = coeffs.get(tuple(mats), sp.S.Zero) + c
    terms = [sp.MatMul(sp.factor(c), *k) if c != 1 else sp.MatMul(*k) for k, c in coeffs.items() if c != 0]
    return sp.MatAdd(*terms) if len(terms) > 1 else terms[0]


def is_zero(e) -> bool:
    """Is ``e`` identically zero?  A scalar is proved zero by expanding its numerator over one denominator
    (exact, and cheaper than :func:`sympy.simplify`); what that leaves, and a matrix, by ``simplify``."""
    if not isinstance(e, MatrixExpr):
        if sp.expand(sp.together(e).as_numer_denom()[0]) == 0:
            return True
    e = expand_terms(e)
    if isinstance(e, MatrixExpr):
        return e.is_ZeroMatrix or e == sp.ZeroMatrix(*e.shape) or sp.simplify(e) == sp.ZeroMatrix(*e.shape)
    return sp.simplify(e) == 0


def matrix_gradient(expr, X):
    """∂expr/∂X, term by term."""
    parts = [sp.diff(t, X) for t in sp.Add.make_args(sp.expand(expr)) if t.has(X)]
    parts = [p for p in parts if p != 0]
    return expand_terms(sp.MatAdd(*parts).doit()) if parts else sp.ZeroMatrix(*X.shape)


__all__ = ["SCALARS", "expand_terms", "is_zero", "matrix_gradient"]
