"""Bad input on the diagnostics (issue #27): every object, count, scalar, switch and state is checked where it enters
and named; a family or loss the diagnostics cannot integrate is refused saying which and why."""

import matplotlib
import numpy as np
import pytest

from blrkit.derive import RECIPES
from blrkit.diagnostics import approximation_costs, exact_posterior, gaussian_vi, glm_problem, natural_gradients

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def poisson():
    return glm_problem(np.ones((3, 1)), [0.0, 1.0, 0.0], likelihood="poisson", alpha=1.0, X_test=np.ones((1, 1)))


@pytest.fixture(scope="module")
def costs(poisson):
    return approximation_costs(poisson, ["laplace"], n_steps=20)


def test_objects_are_named(poisson, costs):
    """Before: AttributeError ('float' object has no attribute 'dim', 'precision', 'evaluate', 'plot')."""
    post = costs.posterior
    calls = {"problem": [lambda: natural_gradients(2.0, "newton", [0.0]), lambda: approximation_costs(2.0, ["laplace"]),
                         lambda: exact_posterior(2.0), lambda: gaussian_vi(2.0), lambda: post.kl_from(2.0, [0.0], None)],
             "guess": [lambda: exact_posterior(poisson, guess=2.0)],
             "ax": [lambda: costs.plot(ax=2.0)]}
    for name, fns in calls.items():
        for call in fns:
            with pytest.raises(TypeError, match=f"^{name} must be a"):
                call()


@pytest.mark.parametrize("call, name", [
    (lambda p: exact_posterior(p, n_nodes=np.inf), "n_nodes"),             # before: OverflowError from SciPy
    (lambda p: exact_posterior(p, n_nodes=10**6), "n_nodes"),              # before: a 10⁶-point rule, built
    (lambda p: gaussian_vi(p, order=np.inf), "order"),                     # before: OverflowError from SciPy
    (lambda p: gaussian_vi(p, rho=1e308), "rho"),                          # before: OverflowError from NumPy
    (lambda p: gaussian_vi(p, max_steps=np.nan), "max_steps"),             # before: Python's range() TypeError
    (lambda p: gaussian_vi(p, tol=np.ones(2)), "tol"),                     # before: NumPy's truth-value error
    (lambda p: approximation_costs(p, ["laplace"], n_steps=-1), "n_steps"),  # before: UnboundLocalError
    (lambda p: natural_gradients(p, "newton", [0.0], n_samples=np.nan), "n_samples"),  # before: NumPy's error
    (lambda p: natural_gradients(p, "newton", [0.0], rng=-1.0), "rng"),    # before: NumPy's SeedSequence error
    (lambda p: exact_posterior(p, width=None), "width"),                   # before: NumPy's operand error
], ids=["n_nodes=inf", "n_nodes=1e6", "order=inf", "rho=1e308", "max_steps=nan", "tol=array", "n_steps=-1",
        "n_samples=nan", "rng=-1.0", "width=None"])
def test_counts_scalars_and_seeds_are_named(poisson, call, name):
    with pytest.raises((ValueError, TypeError), match=f"^{name} must be"):
        call(poisson)


def test_states_and_values_are_named(poisson, costs):
    """Before: IndexError (a scalar mean), a NaN KL divergence returned, NumPy's unpacking error (θ of one axis)."""
    post = costs.posterior
    with pytest.raises(ValueError, match=r"^m0 must have shape \(1,\)"):
        gaussian_vi(poisson, m0=0.0)
    with pytest.raises(ValueError, match=r"^m must have shape \(1,\)"):
        post.kl_from(poisson, 0.0, None)
    with pytest.raises(ValueError, match="^m must be finite"):
        post.kl_to([np.nan], None)
    with pytest.raises(ValueError, match="^values must"):
        post.expect(0.0)
    with pytest.raises(ValueError, match=r"^theta must have shape \(n, 1\)"):
        poisson.evaluate("grad", np.zeros(3))


def test_switches_and_choices_are_named(poisson, costs):
    """Before: NumPy's 'truth value of an array is ambiguous', an AttributeError (what), a KeyError (title)."""
    with pytest.raises(TypeError, match="^diagonal must be True or False"):
        gaussian_vi(poisson, diagonal=np.ones(2))
    with pytest.raises(TypeError, match="^include_vi must be True or False"):
        approximation_costs(poisson, ["laplace"], include_vi=np.ones(2))
    with pytest.raises(ValueError, match="^what must be one of"):
        poisson.evaluate("0.1", np.zeros((1, 1)))
    with pytest.raises(TypeError, match=r"^title must be a row's title"):
        costs.row(2.0)
    with pytest.raises(ValueError, match="^title must name a row, got 'nope'"):
        costs.row("nope")


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_a_recipe_is_integrated_or_refused_saying_which_and_why(poisson, recipe):
    """Every recipe on a Poisson GLM: its natural gradient, or a ValueError naming the step and the reason: a candidate
    family the diagnostics do not read, data the problem does not give, or data the step refuses. Before: NCVMP (a
    logistic step on ±1 labels) said only 'y must hold only the labels -1, +1', naming neither the step nor the
    problem; the univariate Gaussian was refused as not a 'Gaussian candidate'."""
    try:
        natural_gradients(poisson, recipe, [0.1])
    except ValueError as e:
        message = str(e)
        assert RECIPES[recipe].title in message, message
        reasons = ("the diagnostics integrate only the candidate families", "which the problem", "failed:")
        assert any(r in message for r in reasons), message
        assert "Gaussian candidates only" not in message
