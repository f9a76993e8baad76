"""Typed roles for approximations (issue #23, item 2).

An approximation declares the roles it requires and produces; a chain is checked from those declarations; a
new approximation is one new module (here: classes defined in this file) that registers itself.
"""

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest
import sympy as sp

import blrkit.derive.approximations as approximations_package
from blrkit.derive import derive
from blrkit.derive.approximations import (APPROXIMATIONS, Approximation, TextbookRewrite, as_approximation, ordered,
                                          register)
from blrkit.derive.errors import DerivationError
from blrkit.derive.roles import Role, Terms


@dataclass(frozen=True)
class _HessianAtMean(Approximation):
    """A new approximation, written as a user would in a module of their own: the delta method for the
    Hessian only, E_q[∇²ℓ] ≈ ∇²ℓ(m), leaving the expected gradient to Monte Carlo."""

    name = "delta method for the Hessian"
    key = "test-hessian-at-mean"
    anchor = "delta-method"
    statement = r"\mathbb{E}_q[\nabla^2\ell] \approx \nabla^2\ell(m)"
    families = ("multivariate-gaussian",)

    def substitutions(self, terms):
        return {terms[Role.EXPECTED_HESSIAN]: terms[Role.HESSIAN]}


@dataclass(frozen=True)
class _NeedsMinibatch(Approximation):
    name = "needs a minibatch"
    key = "test-needs-minibatch"
    requires = frozenset({Role.MINIBATCH_GRADIENT})

    def substitutions(self, terms):
        return {}


@dataclass(frozen=True)
class _Undeclared(TextbookRewrite):
    """Writes a role it does not declare: the derivation must refuse it."""

    name = "undeclared epsilon"
    key = "test-undeclared"
    families = ("diagonal-gaussian",)

    def rewrite(self, update, terms):
        terms[Role.EPSILON] = sp.Symbol("eps", positive=True)
        m_new = terms[Role.NEW_MEAN]
        return {lhs: (rhs + terms[Role.EPSILON] if lhs == m_new else rhs) for lhs, rhs in update.items()}


@pytest.fixture
def registered():
    """Register the approximations of this file for one test, as their module would on import."""
    mine = (_HessianAtMean(), _NeedsMinibatch(), _Undeclared())
    try:
        yield tuple(register(a) for a in mine)
    finally:
        for a in mine:
            APPROXIMATIONS.pop(a.key, None)


def test_a_new_approximation_is_one_definition_and_derives(registered):
    """The new key is known to the CLI's parser and to derive(); the update is the BLR with E_q[∇²ℓ] at m:
    S' = (1-ρ)S + ρ∇²ℓ(m) (written out here), the mean step keeping E_q[∇ℓ] (no approximation removes it).
    Fails if the registry were a hand-kept list (the key would be unknown) or if the substitution were not
    applied (S' would keep E_q[∇²ℓ])."""
    assert as_approximation("test-hessian-at-mean") is registered[0]
    d = derive("multivariate-gaussian", approximations=["test-hessian-at-mean"])
    update = {str(eq.lhs): eq.rhs for eq in d.update}
    S, H = (sp.MatrixSymbol(n, *update["S_new"].shape) for n in ("S", "H"))
    rho = sp.Symbol("rho")
    got = update["S_new"].xreplace({s: rho for s in update["S_new"].free_symbols if s.name == "rho"})
    assert sp.simplify(sp.expand(got - ((1 - rho) * S + rho * H))) == sp.ZeroMatrix(*S.shape)
    assert "E_g" in {getattr(s, "name", "") for s in update["m_new"].atoms(sp.MatrixSymbol)}
    assert any(step.label == "Delta method for the Hessian" for step in d.steps)


def test_the_chain_is_checked_from_the_declared_roles(registered):
    """A role that no earlier stage produces is refused, naming the role and the approximation that produces it.
    Fails if ordered() ignored ``requires`` (the old ordered() knew only its hard-coded key pairs)."""
    with pytest.raises(ValueError, match=r"'test-needs-minibatch' requires the minibatch gradient, which no earlier "
                                         r"approximation produces: give 'stochastic' before it"):
        ordered(["test-needs-minibatch", "stochastic"])
    assert [a.key for a in ordered(["stochastic", "test-needs-minibatch"])] == ["stochastic", "test-needs-minibatch"]
    # a role produced after an earlier approximation estimates it (the sums Gauss–Newton creates)
    with pytest.raises(ValueError, match="give gauss-newton first"):
        ordered(["stochastic", "gauss-newton"])


def test_an_approximation_may_only_produce_what_it_declares(registered):
    """Fails if a rewrite could bring a role into the derivation without declaring it (the chain check would then
    be checking declarations that are not true)."""
    with pytest.raises(AssertionError, match="test-undeclared produced EPSILON undeclared"):
        derive("diagonal-gaussian", approximations=["delta", "test-undeclared"])


def test_declarations_of_the_registered_chain():
    """What the old ordered() encoded by key, now read from declarations (each written out here)."""
    by_key = APPROXIMATIONS
    assert Role.MINIBATCH_GRADIENT in by_key["squared-gradient"].requires
    assert Role.MINIBATCH_GRADIENT in by_key["stochastic"].produces
    assert Role.GAUSS_NEWTON_SUM in by_key["gauss-newton"].produces & by_key["stochastic"].estimates
    assert Role.GRADIENT_DEVIATION in by_key["reparam-hessian"].produces & by_key["stochastic"].estimates
    for recipe_chain in (("delta", "stochastic", "squared-gradient", "per-example-scale", "square-root",
                          "decoupled-step", "gradient-average", "bias-correction"),
                         ("reparam-hessian", "stochastic", "hessian-scale", "effective-sample-size", "decoupled-step",
                          "gradient-average", "gradient-bias-correction"),
                         ("relaxation", "stochastic", "no-noise", "constant-scale", "zero-temperature", "small-step")):
        assert [a.key for a in ordered(recipe_chain)] == list(recipe_chain)
    with pytest.raises(ValueError, match="'hessian-scale' requires the expected gradient-deviation product"):
        ordered(["stochastic", "hessian-scale"])
    with pytest.raises(ValueError, match="'small-step' requires the constant in place of the relaxation's scale"):
        ordered(["relaxation", "stochastic", "no-noise", "zero-temperature", "small-step"])


def test_terms_are_keyed_by_role():
    t = Terms({Role.STEP_SIZE: sp.Symbol("rho")})
    assert t[Role.STEP_SIZE] == sp.Symbol("rho")
    for bad in (lambda: t["rho"], lambda: t.__setitem__("rho", 1), lambda: "rho" in t, lambda: Terms({"rho": 1}),
                lambda: t.update(rho=1)):
        with pytest.raises(TypeError, match="keyed by Role"):
            bad()


def _string_keyed_terms(source: str) -> list[str]:
    """Subscripts ``terms["…"]`` / ``.terms["…"]`` and ``terms.get("…")`` with a str key."""
    out = []
    for node in ast.walk(ast.parse(source)):
        target, key = None, None
        if isinstance(node, ast.Subscript):
            target, key = node.value, node.slice
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" \
                and node.args:
            target, key = node.func.value, node.args[0]
        name = getattr(target, "id", None) or getattr(target, "attr", None)
        if name == "terms" and isinstance(key, ast.Constant) and isinstance(key.value, str):
            out.append(f"{node.lineno}: {ast.unparse(node)}")
    return out


def test_the_scan_catches_a_string_key():
    assert _string_keyed_terms('x = terms["E_g"]\ny = b.terms.get("lr_latex")\n')


def test_no_string_keyed_terms_in_the_engine():
    """Fails on the approximations.py of 71f0852 (``terms["E_g_dev_batch"]`` and 38 more)."""
    derive_dir = Path(approximations_package.__file__).parent.parent
    files = [*sorted((derive_dir / "approximations").glob("*.py"))] + [
        derive_dir / f for f in ("gaussian.py", "gaussian_assembly.py", "mixture.py", "binary.py")]
    found = {p.name: h for p in files if (h := _string_keyed_terms(p.read_text(encoding="utf-8")))}
    assert not found, found


def test_a_wrong_key_is_refused_by_name():
    with pytest.raises(DerivationError, match="unknown approximation 'test-nothing'"):
        derive("multivariate-gaussian", approximations=["test-nothing"])
