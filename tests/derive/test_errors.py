"""Choices that make no sense are refused with a ValueError that says why; approximations compose."""

import pytest
import sympy as sp
from sympy import MatrixSymbol

from blrkit.derive import APPROXIMATIONS, RECIPES, ExpressionLoss, OracleLoss, derive
from blrkit.derive.conjugate import Likelihood, Y, I
from blrkit.derive.losses import D


def test_fixed_covariance_needs_a_gaussian():
    with pytest.raises(ValueError, match="applies to: .*gaussian"):
        derive("bernoulli", approximations=["fixed-covariance"])


def test_oracle_loss_on_a_conjugate_family():
    with pytest.raises(ValueError, match="needs a Gaussian candidate"):
        derive("beta", OracleLoss(), approximations=["rho=1"])


def test_non_quadratic_expression_loss_with_a_gaussian():
    theta = MatrixSymbol("theta", D, 1)
    loss = ExpressionLoss("quartic", (theta.T * theta) * (theta.T * theta), theta)
    with pytest.raises(ValueError, match="not quadratic"):
        derive("multivariate-gaussian", loss)


def test_unknown_approximation_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown approximation") as err:
        derive("multivariate-gaussian", approximations=["laplace-magic"])
    assert all(k in str(err.value) for k in APPROXIMATIONS)


def test_expectation_without_closed_form_or_sampler():
    """E_q[sin(x) Σ yᵢ] under a Normal–Gamma is neither linear in T(θ) nor exp(cᵀT), and blrkit has no
    sampler for it: refused, naming the term."""
    from blrkit.families import FAMILIES

    ng = FAMILIES["normal-gamma"]()
    x = ng.theta[0]
    lik = Likelihood("sin-type", Y[I] * sp.sin(x))
    with pytest.raises(ValueError, match=r"E_q\[sin\(x\).*has no closed form.*no sampler"):
        derive(ng, lik, approximations=["rho=1"])


@pytest.mark.parametrize("name", list(RECIPES))
def test_approximations_compose_in_order(name):
    recipe = RECIPES[name]
    d = recipe.derive()
    assert tuple(a.key for a in d.approximations) == recipe.approximations
    for a in d.approximations:
        assert a.name and a.key in APPROXIMATIONS and a.statement
        assert a.citation.startswith("Khan & Rue 2023, Sec.")


def test_order_is_kept_when_reversed():
    forward = derive("gaussian-fixed-covariance", approximations=["delta", "stochastic"])
    backward = derive("gaussian-fixed-covariance", approximations=["stochastic", "delta"])
    assert [a.key for a in forward.approximations] == ["delta", "stochastic"]
    assert [a.key for a in backward.approximations] == ["stochastic", "delta"]
    assert sp.simplify(forward.update[-1].rhs - backward.update[-1].rhs) == sp.ZeroMatrix(D, 1) or \
        sp.expand(forward.update[-1].rhs - backward.update[-1].rhs).doit() == sp.ZeroMatrix(D, 1)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(function_name="1abc"), ValueError, "Python identifier"),
    (dict(function_name=3), TypeError, "function_name must be a str"),
    (dict(title=3), TypeError, "title must be a str"),
    (dict(anchor="nope"), ValueError, "one of blrkit.paper.ANCHORS"),
    (dict(approximations=1), TypeError, "approximations must be"),
    (dict(approximations=b"delta"), TypeError, "approximations must be"),
    (dict(prior=1), TypeError, "prior of a Gaussian candidate"),
    (dict(prior=[]), TypeError, "prior of a Gaussian candidate"),
])
def test_derive_names_the_argument_it_cannot_use(kwargs, error, match):
    """Found by tests/derive/test_derive_api_fuzz.py: each used to end in a SyntaxError at compile(), a raw
    TypeError/KeyError/AttributeError from inside the engine, or an iteration error."""
    args = dict(family="multivariate-gaussian", approximations=["delta"])
    args.update(kwargs)
    with pytest.raises(error, match=match):
        derive(args.pop("family"), None, args.pop("prior", None), args.pop("approximations"), **args)


def test_no_approximations_may_be_given_as_none():
    assert derive("multivariate-gaussian", None, None, None).update == \
        derive("multivariate-gaussian", None, None, ()).update
