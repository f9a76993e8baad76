"""Printing is a pure function of the derivation: the LaTeX, text and emitted code of a derivation do
not depend on what the process derived before it (issue #23, item 4).

Before, mean-field derivations filled module-level dictionaries of LaTeX names with ``setdefault``: the
first model to name ``E_tau_1`` fixed its meaning for every later one.
"""

import random

import sympy as sp

from blrkit.derive.conjugate import I, N_OBS, Y
from blrkit.derive.meanfield import Block, derive_mean_field

from .conftest import bytes_printed, makers, seeded_order

mu, tau = sp.symbols("mu tau")
#: y_i ~ N(μ, τ⁻¹): with q(τ) Gamma, T(τ) = (log τ, τ), so the first expectation is E[log τ]
NORMAL_GAMMA = sp.Sum(tau * (Y[I] - mu) ** 2 / 2 - sp.log(tau) / 2, (I, 1, N_OBS))
#: the same without log τ, for q(τ) exponential: T(τ) = τ, so the first expectation is E[τ]
NORMAL_EXPONENTIAL = sp.Sum(tau * (Y[I] - mu) ** 2 / 2, (I, 1, N_OBS))


def _exponential_model():
    return derive_mean_field([Block("mu", "gaussian"), Block("tau", "exponential")], NORMAL_EXPONENTIAL)


def test_a_mean_field_model_prints_its_own_expectations_whatever_came_before():
    """The issue's case: after the Normal–Gamma model, the exponential model printed E[log τ] where its update
    uses E[τ] (the symbol E_tau_1 is τ's first statistic in both, log τ in one and τ in the other)."""
    derive_mean_field([Block("mu", "gaussian"), Block("tau", "gamma")], NORMAL_GAMMA)
    after = _exponential_model()
    precision = next(eq for eq in after.update if eq.lhs.name == "mu_S_new")
    assert precision.rhs.has(sp.Symbol("E_tau_1", real=True))
    assert "log" not in after.text() and r"\log" not in after.latex()
    # S_{μ,t+1} = S_{μ,0} + N E[τ]: the statistic of an exponential q(τ) is τ itself
    assert r"S_{\mu,t+1} &= S_{\mu,0} + N \mathbb{E}[\tau]" in after.latex(steps=False)
    derive_mean_field([Block("mu", "gaussian"), Block("tau", "gamma")], NORMAL_GAMMA)
    again = _exponential_model()
    assert (after.latex(), after.text(), after.emit()) == (again.latex(), again.text(), again.emit())


def test_every_recipe_and_example_prints_the_same_bytes_in_any_order(fresh_prints):
    """Every recipe and catalogue example derived afresh in a seeded random order (``fresh_prints``, shared with
    the readability test) and in its reverse (so that every pair comes in both orders: whatever one leaves
    behind, the other sees it once and once not), the second lot printed in a third order; the bytes of LaTeX,
    text, Markdown and code agree. Derived twice rather than in more orders: a cold derivation of the lot takes
    ~15 s (the families' caches, pure functions of the family, are shared)."""
    make, order = makers(), seeded_order()
    assert sorted(fresh_prints) == sorted(order)
    derived = {name: make[name]() for name in reversed(order)}
    printing = list(order)
    random.Random(4).shuffle(printing)
    second = {name: bytes_printed(derived[name]) for name in printing}
    differ = [name for name in order if fresh_prints[name][0] != second[name]]
    assert not differ, f"printed differently in another order: {differ}"
