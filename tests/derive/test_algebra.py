"""blrkit.derive.algebra: the zero test the derivations' self-checks use, and the cached expansion.

Each identity below is checked against how it is built (partial fractions, the Pythagorean identity), not
against anything ``is_zero`` computes."""

import sympy as sp

from blrkit.derive.algebra import expand_terms, is_zero

x, y = sp.symbols("x y", real=True)


def test_is_zero_proves_rational_identities_over_one_denominator():
    # 1/(x-1) - 1/(x+1) = 2/(x²-1): zero only once both sides are over one denominator
    assert is_zero(1 / (x - 1) - 1 / (x + 1) - 2 / (x**2 - 1))
    # the derivative of log(e^x + e^y) by hand, against SymPy's
    assert is_zero(sp.exp(x) / (sp.exp(x) + sp.exp(y)) - sp.diff(sp.log(sp.exp(x) + sp.exp(y)), x))


def test_is_zero_refuses_what_is_not_zero():
    assert not is_zero(1 / (x - 1) - 1 / (x + 1) - 2 / (x**2 + 1))
    assert not is_zero(x**2 - 2 * x + 1 - (x - 1) * (x + 1))
    assert not is_zero(sp.exp(y) / (sp.exp(x) + sp.exp(y)) - sp.diff(sp.log(sp.exp(x) + sp.exp(y)), x))


def test_is_zero_falls_back_to_simplify_for_identities_beyond_rational_algebra():
    assert is_zero(sp.sin(x) ** 2 + sp.cos(x) ** 2 - 1)
    assert not is_zero(sp.sin(x) ** 2 - sp.cos(x) ** 2 - 1)


def test_is_zero_of_matrix_expressions():
    S, T = sp.MatrixSymbol("S", 2, 2), sp.MatrixSymbol("T", 2, 2)
    assert is_zero(S * (S + T) - S * S - S * T)
    assert not is_zero(S * (S + T) - S * S - T * S)  # S and T do not commute


def test_expand_terms_gives_the_same_expansion_when_asked_again_and_takes_plain_numbers():
    m = sp.Symbol("m", real=True)
    rho = sp.Symbol("rho", positive=True)
    e = (1 - rho) * m * (x + 2) + rho * m * x
    first = expand_terms(e)
    # m and x are arrays, ρ a scalar: collected by the first array symbol, m, as x + 2(1 - ρ)
    assert first == m * (x + 2 - 2 * rho)
    assert expand_terms(e) == first and expand_terms(sp.expand(e)) == first
    assert expand_terms(0) == 0
