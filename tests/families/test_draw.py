"""A family's declared sampler draws from the family (issue 23: families declare their own sampler).

The emitted score-function steps draw θ ~ q with ``rng.<method>(*args)`` from the family's
:class:`~blrkit.families.Draw`; here the mean of T(θ) over such draws must match μ = ∇A(λ) (the family's own
expectation map, checked against quadrature by the contract test) within :data:`MC_SIGMAS` standard errors.
A wrong argument (a Gamma's rate where NumPy takes a scale, a Gaussian's precision for its standard deviation)
moves the mean by far more.
"""

import dataclasses

import numpy as np
import pytest
import sympy as sp

from blrkit.families import FAMILIES, Draw, Gamma, Trait

from .tolerances import MC_SIGMAS

DRAWN = {key: factory for key, factory in FAMILIES.items() if factory().draw is not None}
N_DRAWS = 20_000


def _mean_error(family, rng) -> np.ndarray:
    """(mean of T over draws − μ) / its standard error, entry by entry, at the family's example point."""
    point = family.example(rng)
    subs = {p.symbols: point[p.name] for p in family.standard}
    args = [float(sp.sympify(a).subs(subs)) for a in family.draw.args]
    theta = np.asarray(getattr(rng, family.draw.method)(*args, size=N_DRAWS), float)
    (th,) = family.theta
    T = np.stack([np.asarray(sp.lambdify(th, t, "numpy")(theta), float) * np.ones_like(theta)
                  for t in family.statistics], axis=-1)
    mu = family.to_expectation(family.to_natural(**point))
    return (T.mean(axis=0) - mu) / (T.std(axis=0) / np.sqrt(N_DRAWS))


def test_the_shipped_samplers_are_the_five_one_component_families():
    assert sorted(DRAWN) == ["beta", "exponential", "gamma", "gaussian", "poisson"]


@pytest.mark.parametrize("key", sorted(DRAWN))
def test_draws_have_the_family_mean(key):
    assert np.all(np.abs(_mean_error(DRAWN[key](), np.random.default_rng(23))) < MC_SIGMAS)


def test_a_wrong_draw_is_caught():
    """Gamma drawn with its rate as NumPy's scale: the check must fail."""
    gamma = Gamma()
    a, b = (p.symbols for p in gamma.standard)
    wrong = dataclasses.replace(gamma, draw=Draw("gamma", (a, b)))
    assert np.any(np.abs(_mean_error(wrong, np.random.default_rng(23))) > MC_SIGMAS)


def test_traits_and_draw_are_validated():
    gamma = Gamma()
    with pytest.raises(TypeError, match="traits must be a set of blrkit.families.Trait"):
        dataclasses.replace(gamma, traits=("gaussian",))
    with pytest.raises(TypeError, match="draw must be a blrkit.families.Draw"):
        dataclasses.replace(gamma, draw="gamma")
    assert FAMILIES["bernoulli"].traits == FAMILIES["bernoulli"]().traits == {Trait.BINARY}
